// # The randomized simulation
//
// One seed picks a cluster (three to five founding voters, PreVote and CheckQuorum on or off, message size and
// inflight limits, the classic Ready loop or asynchronous storage writes), a fault profile and a schedule of
// trouble: crashes (some between persisting and sending), restarts, partitions, lost, duplicated and long-delayed
// messages, client proposals, membership changes (single and joint), leadership transfers and log compaction. The
// SafetyChecker watches every step.
//
// At the end the network heals, crashed members restart, and the cluster must settle; then every proposal a client
// was told had committed must sit at the same index on every member, and one more proposal must commit. A failure
// throws a SimulationError whose message says "replay with SEED=n".

import { SeededRand } from '../rand';
import { ConfChange, ConfChangeTransition, ConfChangeType, ConfChangeV2, NodeId, None } from '../types';
import { Cluster, ClusterStats } from './cluster';
import { jointChange, simpleChange } from './confchanges';
import { NetworkFaults, NetworkStats, reliableFaults } from './network';

/** How long a randomized run lasts and how much it records. */
export interface ChaosOptions {
  seed: number;
  /** Ticks of trouble before the network heals (each tick is 10 simulated ms). */
  ticks: number;
  /** Trace lines kept (default 400; 0 keeps all). */
  traceLimit?: number;
}

/** What a randomized run did, for tests that check the faults really happened. */
export interface ChaosResult {
  seed: number;
  cluster: Cluster;
  stats: ClusterStats;
  network: NetworkStats;
  /** Leaders elected over the run (one per term at most). */
  leadersElected: number;
  /** The highest index known committed. */
  committed: number;
  /** The members once settled. */
  members: NodeId[];
}

const maxNodeId = 12;

/** Runs one randomized simulation to the end; throws SimulationError on any violation. */
export function runChaos(opts: ChaosOptions): ChaosResult {
  // The settings come from their own generator, so that changing how the run unfolds never changes its setup.
  const setup = new SeededRand((opts.seed ^ 0x5bd1e995) >>> 0);
  const voters = pick(setup, [3, 3, 3, 4, 5, 5]);
  const faults = pickFaults(setup);
  const maxReadyDelay = setup.intn(4);
  const node = {
    preVote: setup.intn(2) === 0,
    checkQuorum: setup.intn(2) === 0,
    maxSizePerMsg: pick(setup, [0, 64, 1024 * 1024]),
    maxCommittedSizePerReady: pick(setup, [64, 1024 * 1024]),
    maxInflightMsgs: pick(setup, [1, 4, 256]),
    // A leader that steps down as it applies its own removal may do so before the followers learn that the change
    // committed (its broadcast of the new commit index can be lost). If they still need its vote, which its longer
    // log refuses, no one can ever be elected: the apply-time liveness trap of etcd's design (etcd-io/etcd#12359).
    // So a removed leader keeps leading until the others apply its removal and refuse its messages.
    stepDownOnRemoval: false,
    asyncStorageWrites: false,
  };
  const snapshotEvery = 5 + setup.intn(30);
  const keep = setup.intn(6);
  node.asyncStorageWrites = setup.intn(2) === 0;
  const c = new Cluster({ seed: opts.seed, voters, faults, traceLimit: opts.traceLimit, maxReadyDelay, node });
  // Membership changes need PreVote or CheckQuorum to stay live. A node outside the configuration (a new member
  // before its first snapshot, or a learner) never campaigns; if a stray vote request raised its term, plain Raft
  // has nothing that brings it back, since it ignores the leader's lower-term messages without answering them (etcd
  // answers them only under PreVote or CheckQuorum). The runs with neither keep the founding membership.
  const d = new Driver(c, voters + 1, node.preVote || node.checkQuorum);
  c.note(`chaos seed ${opts.seed}: ${voters} voters ${JSON.stringify(node)}, Ready delay up to ${maxReadyDelay} ms`);
  c.note(`faults ${JSON.stringify(faults)}, snapshot every ${snapshotEvery} entries keeping ${keep}`);

  for (let t = 0; t < opts.ticks; t++) {
    c.runTicks(1);
    d.act();
    for (const n of c.nodes.values()) {
      if (n.up && n.appliedIndex - n.storage.snapshot().metadata.index >= snapshotEvery) {
        c.snapshot(n.id, keep);
      }
    }
  }

  c.quiesce();
  c.checkCommittedProposals();
  c.one(c.members().length);
  c.quiesce();
  c.checkCommittedProposals();
  return {
    seed: opts.seed,
    cluster: c,
    stats: c.stats,
    network: c.network.stats,
    leadersElected: c.checker.electedLeaders,
    committed: c.checker.highestCommitted,
    members: c.members(),
  };
}

// The trouble a run goes through, a tick at a time.
class Driver {
  private readonly c: Cluster;
  private readonly r: SeededRand;
  private readonly changesMembership: boolean;
  private nextId: NodeId;

  constructor(c: Cluster, nextId: NodeId, changesMembership: boolean) {
    this.c = c;
    this.r = c.rand;
    this.nextId = nextId;
    this.changesMembership = changesMembership;
  }

  act(): void {
    const c = this.c;
    const r = this.r;
    const up = c.upNodes();
    const down = [...c.nodes.keys()].filter((id) => !up.includes(id));
    const leader = c.leader();
    if (r.float() < 0.4 && up.length > 0) {
      const n = 1 + r.intn(3);
      for (let i = 0; i < n; i++) {
        c.propose(leader !== None && r.intn(2) === 0 ? leader : pick(r, up));
      }
    }
    if (r.float() < 0.015 && up.length > 0) {
      c.crash(pick(r, up), r.intn(2) === 0);
    }
    if (r.float() < 0.08 && down.length > 0) {
      c.restart(pick(r, down));
    }
    if (r.float() < 0.01) {
      this.partition();
    }
    if (r.float() < 0.02) {
      c.heal();
    }
    if (r.float() < 0.005) {
      c.network.faults = r.intn(2) === 0 ? reliableFaults() : pickFaults(r);
      c.note(`network faults now ${JSON.stringify(c.network.faults)}`);
    }
    if (r.float() < 0.02 && leader !== None && this.changesMembership) {
      this.changeMembership(leader);
    }
    if (r.float() < 0.1 && up.length > 0) {
      c.read(pick(r, up));
    }
    if (r.float() < 0.005 && leader !== None && up.length > 1) {
      c.transferLeader(leader, pick(r, up.filter((id) => id !== leader)));
    }
  }

  // Splits the nodes into two or three groups at random, or cuts off the leader alone.
  private partition(): void {
    const c = this.c;
    const ids = [...c.nodes.keys()];
    const leader = c.leader();
    if (leader !== None && this.r.intn(3) === 0) {
      c.isolate(leader);
      return;
    }
    const groups = 2 + this.r.intn(2);
    const assignment: NodeId[][] = Array.from({ length: groups }, () => []);
    for (const id of ids) {
      assignment[this.r.intn(groups)].push(id);
    }
    c.partition(assignment);
  }

  // Proposes one random change that is valid against the leader's applied configuration.
  private changeMembership(leader: NodeId): void {
    const c = this.c;
    const r = this.r;
    const cs = c.node(leader).confState;
    if (cs.votersOutgoing.length > 0) {
      return;
    }
    const voters = cs.voters;
    const learners = cs.learners;
    // Never remove or demote the leader itself (applications transfer leadership first); a node may still be removed
    // while it leads, if it wins an election before the change applies.
    const removable = voters.filter((id) => id !== leader);
    const canAdd = this.nextId <= maxNodeId && voters.length + learners.length < 7;
    const options: (() => ConfChange | ConfChangeV2)[] = [];
    if (canAdd) {
      options.push(() => simpleChange(ConfChangeType.ConfChangeAddNode, this.newNode()));
      options.push(() => simpleChange(ConfChangeType.ConfChangeAddLearnerNode, this.newNode()));
      if (voters.length > 1) {
        // Two voters change at once: Auto goes through a joint configuration and leaves it by itself.
        options.push(() =>
          jointChange(ConfChangeTransition.ConfChangeTransitionAuto, [
            [ConfChangeType.ConfChangeAddNode, this.newNode()],
            [ConfChangeType.ConfChangeRemoveNode, pick(r, removable)],
          ]),
        );
      }
    }
    if (learners.length > 0) {
      options.push(() => simpleChange(ConfChangeType.ConfChangeAddNode, pick(r, learners)));
      options.push(() =>
        jointChange(ConfChangeTransition.ConfChangeTransitionJointImplicit, [
          [ConfChangeType.ConfChangeRemoveNode, pick(r, learners)],
        ]),
      );
    }
    if (voters.length > 2) {
      options.push(() => simpleChange(ConfChangeType.ConfChangeRemoveNode, pick(r, removable)));
      options.push(() =>
        jointChange(ConfChangeTransition.ConfChangeTransitionJointImplicit, [
          [ConfChangeType.ConfChangeAddLearnerNode, pick(r, removable)],
        ]),
      );
    }
    if (options.length === 0) {
      return;
    }
    c.proposeConfChange(leader, pick(r, options)());
  }

  private newNode(): NodeId {
    const id = this.nextId++;
    this.c.addNode(id);
    return id;
  }
}

function pick<T>(r: SeededRand, xs: readonly T[]): T {
  return xs[r.intn(xs.length)];
}

// From a calm network to one that loses a fifth of its messages and holds some back for twenty ticks.
function pickFaults(r: SeededRand): NetworkFaults {
  switch (r.intn(3)) {
    case 0:
      return reliableFaults();
    case 1:
      return {
        dropRate: 0.05,
        duplicateRate: 0.02,
        minDelay: 1,
        maxDelay: 8,
        longDelayRate: 0.01,
        longDelay: 100,
        fifo: false,
      };
    default:
      return {
        dropRate: 0.2,
        duplicateRate: 0.05,
        minDelay: 1,
        maxDelay: 15,
        longDelayRate: 0.05,
        longDelay: 200,
        fifo: false,
      };
  }
}
