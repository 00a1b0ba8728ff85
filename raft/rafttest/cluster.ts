// # A simulated cluster
//
// The Cluster puts SimNodes on a Network and runs them on one simulated clock, all randomness drawn from one
// seed. It is the stage for the scenario tests (6.824's checklist, written against tsraft) and for the randomized
// simulation: both crash and restart nodes, cut the network into partitions, lose and reorder messages, propose
// entries and membership changes, and let the SafetyChecker judge every step.
//
// Time moves in milliseconds. Each node's clock ticks every `tickMs`, at its own phase. A node handles its Ready a
// little after the step that produced it (0 to `maxReadyDelay` ms), so several messages may be stepped into one
// Ready and a crash can catch state the node never persisted.
//
// When something goes wrong, the Cluster throws a SimulationError that names the seed, says how to replay it, and
// carries the end of the trace.

import { RaftPanic } from '../logger';
import { SeededRand } from '../rand';
import { SnapshotStatus, describeConfChange } from '../index';
import { MemoryStorage } from '../storage';
import {
  ConfChange,
  ConfChangeV2,
  ConfState,
  Entry,
  EntryType,
  Message,
  MessageType,
  NodeId,
  None,
  ReadState,
  StateType,
} from '../types';
import { InvariantViolation, SafetyChecker } from './invariants';
import { Network, NetworkFaults, reliableFaults } from './network';
import { EventQueue } from './schedule';
import { SimHost, SimNode, SimNodeConfig, fingerprint, foundingStorage, membersOf, payloadOf } from './simnode';
import { Trace, latin1, traceMessage } from './trace';

// How many trace lines a SimulationError's message shows.
const traceTail = 60;
const textEncoder = new TextEncoder();

/** How a cluster is built. Only `seed` and `voters` are required. */
export interface ClusterOptions {
  /** The one source of randomness of the run. */
  seed: number;
  /** The founding voters are nodes 1..voters. */
  voters: number;
  /** Overrides of the core's settings (defaults: election 10 ticks, heartbeat 1; PreVote, CheckQuorum off). */
  node?: Partial<SimNodeConfig>;
  faults?: NetworkFaults;
  /** Simulated milliseconds per tick (default 10). */
  tickMs?: number;
  /** Longest wait between a step and the handling of the Ready it produced (default 2 ms). */
  maxReadyDelay?: number;
  /** Trace lines kept (default 400; 0 keeps all). */
  traceLimit?: number;
  /** Trace heartbeats too (default false). */
  traceHeartbeats?: boolean;
  /**
   * Logs the founding voters start with, as the terms of their entries from index 2 on (index 1 is the founding
   * snapshot, of term 1): for staging a history such as the paper's Figure 7. Every voter's persisted term starts
   * at the highest term in any of these logs. Entries with equal index and term get equal payloads.
   */
  logs?: Readonly<Record<NodeId, readonly number[]>>;
}

/** What `step()` does next: a message arrives, or a node's clock ticks, its Ready is handled, and so on. */
export type NextEvent =
  | { kind: 'message'; at: number; id: number; sentAt: number; message: Message }
  | { kind: SimEvent['kind']; at: number; node: NodeId };

/** Why a simulation failed. */
export type SimulationErrorCode =
  /** A Figure 3 property (or a persisted-state rule) broke: see `cause`. */
  | 'InvariantViolated'
  /** The core panicked or threw something other than a RaftError. */
  | 'CorePanic'
  /** After healing, the cluster did not settle within the allotted time. */
  | 'NotQuiescent'
  /** After healing, an entry a client was told had committed is missing or misplaced on a live node. */
  | 'CommittedProposalLost';

/** A failed run, replayable from its seed. */
export class SimulationError extends Error {
  override name = 'SimulationError';
  readonly code: SimulationErrorCode;
  readonly seed: number;
  /** Every trace line the cluster kept; the message holds only the last few. */
  readonly trace: string[];

  constructor(code: SimulationErrorCode, seed: number, what: string, trace: string[], cause?: unknown) {
    const tail = trace.slice(Math.max(0, trace.length - traceTail)).join('\n');
    super(`Seed ${seed}: ${what}\nreplay with SEED=${seed}\nlast events:\n${tail}`, { cause });
    this.code = code;
    this.seed = seed;
    this.trace = trace;
  }
}

/** Counters of what a run did, so tests can tell that faults really happened. */
export interface ClusterStats {
  crashes: number;
  restarts: number;
  proposals: number;
  acked: number;
  confChangesApplied: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  /** ReadIndex requests answered (and checked). */
  reads: number;
}

/** An event on the cluster's own clock (messages travel on the network's). */
export type SimEvent =
  | { kind: 'tick'; id: NodeId; incarnation: number }
  | { kind: 'ready'; id: NodeId; incarnation: number }
  | { kind: 'append' | 'apply'; id: NodeId; incarnation: number }
  | { kind: 'snapStatus'; id: NodeId; incarnation: number; to: NodeId; failed: boolean };

interface Proposal {
  proposer: NodeId;
}

interface Ack {
  index: number;
  fingerprint: string;
}

/** Nodes, network, clock, checker and trace of one simulation. */
export class Cluster implements SimHost {
  readonly seed: number;
  readonly rand: SeededRand;
  readonly network: Network;
  readonly checker = new SafetyChecker();
  readonly trace: Trace;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly tickMs: number;
  readonly stats: ClusterStats = {
    crashes: 0,
    restarts: 0,
    proposals: 0,
    acked: 0,
    confChangesApplied: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    reads: 0,
  };
  /** The current simulated time in milliseconds. */
  now = 0;

  private readonly nodeConfig: SimNodeConfig;
  private readonly maxReadyDelay: number;
  private readonly traceHeartbeats: boolean;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly readyPending = new Set<NodeId>();
  private readonly proposals = new Map<string, Proposal>();
  private readonly acks = new Map<string, Ack>();
  private nextPayload = 1;
  // ReadIndex requests in flight: the highest index acknowledged to a writer before each began.
  private readonly reads = new Map<string, number>();
  private nextRead = 1;
  private highestAcked = 0;

  constructor(opts: ClusterOptions) {
    this.seed = opts.seed;
    this.rand = new SeededRand(opts.seed);
    this.network = new Network(this.rand, opts.faults ?? reliableFaults());
    this.trace = new Trace(opts.traceLimit ?? 400);
    this.tickMs = opts.tickMs ?? 10;
    this.maxReadyDelay = opts.maxReadyDelay ?? 2;
    this.traceHeartbeats = opts.traceHeartbeats ?? false;
    this.nodeConfig = {
      electionTick: 10,
      heartbeatTick: 1,
      preVote: false,
      checkQuorum: false,
      maxSizePerMsg: 1024 * 1024,
      maxCommittedSizePerReady: 1024 * 1024,
      maxInflightMsgs: 256,
      stepDownOnRemoval: false,
      asyncStorageWrites: false,
      ...opts.node,
    };
    const voters = Array.from({ length: opts.voters }, (_, i) => i + 1);
    this.guard(() => {
      for (const id of voters) {
        const n = new SimNode(id, stagedStorage(voters, opts.logs ?? {}, id), this.nodeConfig);
        this.nodes.set(id, n);
        this.startNode(n);
      }
    });
  }

  // ## Inspecting

  /** The node with ID `id`; throws if there is none. */
  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (n === undefined) {
      throw new Error(`No node ${id} in the cluster`);
    }
    return n;
  }

  /** The IDs of the nodes that are running. */
  upNodes(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.up).map((n) => n.id);
  }

  /** The running leader of the highest term, or None. A deposed leader may not know it yet; this one does. */
  leader(): NodeId {
    let best: SimNode | null = null;
    for (const n of this.nodes.values()) {
      if (n.up && n.role === StateType.StateLeader && (best === null || n.hardState.term > best.hardState.term)) {
        best = n;
      }
    }
    return best === null ? None : best.id;
  }

  /** The running leaders of any term, each as it sees itself. */
  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.up && n.role === StateType.StateLeader).map((n) => n.id);
  }

  /**
   * The members (voters and learners, both halves of a joint configuration) as the current leader applied them.
   * Empty while there is no leader, or while a member has seen a later term than the leader's: that leader is
   * deposed and its view of the membership may be stale. (A removed node's term does not count: it may campaign
   * forever without learning it was removed.)
   */
  members(): NodeId[] {
    const l = this.leader();
    if (l === None) {
      return [];
    }
    const leader = this.node(l);
    const ids = membersOf(leader.confState);
    const deposed = ids.some((id) => {
      const n = this.nodes.get(id);
      return n !== undefined && n.up && n.hardState.term > leader.hardState.term;
    });
    return deposed ? [] : ids;
  }

  /**
   * How many running nodes have applied an entry at `index`, and its payload if they all agree (6.824's
   * `nCommitted`). Disagreement cannot happen without a State Machine Safety violation, which throws first.
   */
  nCommitted(index: number): { count: number; payload: string | null } {
    let count = 0;
    let fp: string | null = null;
    for (const n of this.nodes.values()) {
      if (n.up && n.appliedIndex >= index) {
        count++;
        fp = n.appliedLog[index - 1];
      }
    }
    return { count, payload: fp === null ? null : payloadOf(fp) };
  }

  /** Where the proposal `payload` was acknowledged as committed, if it was. */
  ackOf(payload: string): number | undefined {
    return this.acks.get(payload)?.index;
  }

  // ## Running

  /** What the next `step()` will process, without processing it; undefined when nothing is scheduled. */
  nextEvent(): NextEvent | undefined {
    const tq = this.queue.peek();
    const tn = this.network.peek();
    if (tn !== undefined && (tq === undefined || tn.at <= tq.at)) {
      return { kind: 'message', at: tn.at, id: tn.id, sentAt: tn.sentAt, message: tn.message };
    }
    return tq === undefined ? undefined : { kind: tq.item.kind, at: tq.at, node: tq.item.id };
  }

  /** Processes the next event (a tick, a Ready, a message). Returns false when nothing is scheduled. */
  step(): boolean {
    const tq = this.queue.peekTime();
    const tn = this.network.nextArrival();
    if (tq === undefined && tn === undefined) {
      return false;
    }
    this.guard(() => {
      if (tn !== undefined && (tq === undefined || tn <= tq)) {
        this.now = tn;
        const arrival = this.network.arrive(tn);
        if (arrival !== undefined) {
          this.deliver(arrival.message, arrival.cut);
        }
      } else {
        const ev = this.queue.pop() as { at: number; item: SimEvent };
        this.now = ev.at;
        this.handle(ev.item);
      }
    });
    return true;
  }

  /** Runs every event due within the next `ms` milliseconds. */
  runFor(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const tq = this.queue.peekTime() ?? Infinity;
      const tn = this.network.nextArrival() ?? Infinity;
      if (Math.min(tq, tn) > end) {
        break;
      }
      this.step();
    }
    this.now = end;
  }

  /** Runs for `n` ticks' worth of time. */
  runTicks(n: number): void {
    this.runFor(n * this.tickMs);
  }

  /** Runs a tick at a time until `pred` holds or `maxTicks` have passed; returns whether it holds. */
  runUntil(pred: () => boolean, maxTicks: number): boolean {
    for (let i = 0; i < maxTicks; i++) {
      if (pred()) {
        return true;
      }
      this.runTicks(1);
    }
    return pred();
  }

  /** Runs until there is a leader (of the highest term among running nodes); throws after `maxTicks`. */
  waitForLeader(maxTicks = 100): NodeId {
    if (!this.runUntil(() => this.leader() !== None, maxTicks)) {
      this.fail('NotQuiescent', `no leader after ${maxTicks} ticks`);
    }
    return this.leader();
  }

  // ## Faults

  /** Crashes node `id`. With `persistPending`, it first persists (but does not send or apply) its pending Ready. */
  crash(id: NodeId, persistPending = false): void {
    const n = this.node(id);
    if (!n.up) {
      return;
    }
    this.guard(() => {
      const pending = persistPending && n.persistPending(this);
      n.stop(this.checker);
      this.readyPending.delete(id);
      this.stats.crashes++;
      this.note(`${id} crashed${pending ? ' after persisting its Ready' : ''}`);
    });
  }

  /** Restarts a crashed node from what it had persisted. */
  restart(id: NodeId): void {
    const n = this.node(id);
    if (n.up) {
      return;
    }
    this.guard(() => {
      this.stats.restarts++;
      const term = n.storage.initialState().hardState.term;
      this.note(`${id} restarts at term ${term}, first index ${n.storage.firstIndex()}`);
      this.startNode(n);
    });
  }

  /** Cuts node `id` off the network. */
  isolate(id: NodeId): void {
    this.network.isolate(id);
    this.note(`partition ${this.network.describePartition([...this.nodes.keys()])}`);
  }

  /** Reconnects node `id` to the main group. */
  rejoin(id: NodeId): void {
    this.network.rejoin(id);
    this.note(`partition ${this.network.describePartition([...this.nodes.keys()])}`);
  }

  /** Splits the network into the given groups (unlisted nodes form one more group). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.network.partition(groups);
    this.note(`partition ${this.network.describePartition([...this.nodes.keys()])}`);
  }

  /** Removes every partition. */
  heal(): void {
    this.network.heal();
    this.note('partition healed');
  }

  /**
   * Loses the message in flight named `id` (see `Network.inFlight()`), as if its link failed. A lost snapshot is
   * reported to its sender, as the transport reports one. Returns whether it was still in flight.
   */
  drop(id: number): boolean {
    const m = this.network.inFlight().find((f) => f.id === id)?.message;
    if (m === undefined || !this.network.drop(id)) {
      return false;
    }
    this.noteMessage('dropped', m);
    const from = this.nodes.get(m.from);
    if (m.type === MessageType.MsgSnap && from !== undefined && from.up) {
      this.queue.push(this.now, { kind: 'snapStatus', id: from.id, incarnation: from.incarnation, to: m.to, failed: true });
    }
    return true;
  }

  // ## Clients

  /**
   * A client hands a new unique payload to node `id` (a follower forwards it to its leader). Returns the payload,
   * or null if the node is down or refused it. The proposal counts as acknowledged once the proposer, or a leader,
   * applies it.
   */
  propose(id: NodeId, payload?: string): string | null {
    const n = this.nodes.get(id);
    if (n === undefined || !n.up) {
      return null;
    }
    const p = payload ?? `p${this.nextPayload++}`;
    return this.guard(() => {
      const refused = n.propose(textEncoder.encode(p));
      this.note(`client proposes "${p}" to ${id}${refused === null ? '' : `: ${refused}`}`);
      this.touched(n);
      if (refused !== null) {
        return null;
      }
      this.stats.proposals++;
      this.proposals.set(p, { proposer: id });
      return p;
    });
  }

  /**
   * 6.824's `one()`: proposes a new payload through the leader (again every 20 ticks if it does not commit) and
   * runs until it is acknowledged and applied by at least `expected` running nodes. Returns its index; throws
   * NotQuiescent after `maxTicks`.
   */
  one(expected: number, maxTicks = 300): number {
    const payload = `p${this.nextPayload++}`;
    let index: number | undefined;
    const done = (): boolean => {
      index = this.acks.get(payload)?.index;
      return index !== undefined && this.nCommitted(index).count >= expected;
    };
    for (let waited = 0; waited < maxTicks; waited += 20) {
      const l = this.leader();
      if (l !== None) {
        this.propose(l, payload);
      }
      if (this.runUntil(done, 20)) {
        return index as number;
      }
    }
    return this.fail('NotQuiescent', `"${payload}" did not commit on ${expected} nodes within ${maxTicks} ticks`);
  }

  /**
   * A client asks node `id` for a linearizable read (ReadIndex, §8). When the answer comes back it is checked: it
   * must not predate any write acknowledged before the request. Returns the request's context, or null if the node
   * is down.
   */
  read(id: NodeId): string | null {
    const n = this.nodes.get(id);
    if (n === undefined || !n.up) {
      return null;
    }
    const ctx = `r${this.nextRead++}`;
    this.reads.set(ctx, this.highestAcked);
    this.guard(() => {
      n.core.readIndex(textEncoder.encode(ctx));
      this.note(`client reads ${ctx} through ${id}`);
      this.touched(n);
    });
    return ctx;
  }

  /** Proposes a membership change through node `id`; returns whether the node took it. */
  proposeConfChange(id: NodeId, cc: ConfChange | ConfChangeV2): boolean {
    const n = this.nodes.get(id);
    if (n === undefined || !n.up) {
      return false;
    }
    return this.guard(() => {
      const refused = n.proposeConfChange(cc);
      this.note(`${id} proposes ${describeConfChange(cc)}${refused === null ? '' : `: ${refused}`}`);
      this.touched(n);
      return refused === null;
    });
  }

  /** Creates and starts node `id` with an empty log, ready to be added to the configuration. */
  addNode(id: NodeId): SimNode {
    if (this.nodes.has(id)) {
      throw new Error(`Node ${id} already exists`);
    }
    const n = new SimNode(id, new MemoryStorage(), this.nodeConfig);
    this.nodes.set(id, n);
    this.guard(() => this.startNode(n));
    this.note(`${id} starts empty`);
    return n;
  }

  /** Node `id` snapshots its state machine and compacts its log, keeping `keep` entries. */
  snapshot(id: NodeId, keep: number): boolean {
    const n = this.node(id);
    const took = this.guard(() => n.takeSnapshot(keep));
    if (took) {
      this.stats.snapshotsTaken++;
      this.note(`${id} snapshots at ${n.appliedIndex}, log now starts at ${n.storage.firstIndex()}`);
    }
    return took;
  }

  /** Makes node `id` start an election now, as if its election timeout had passed. */
  campaign(id: NodeId): void {
    const n = this.node(id);
    if (!n.up) {
      return;
    }
    this.guard(() => {
      n.core.campaign();
      this.note(`${id} campaigns`);
      this.touched(n);
    });
  }

  /** Asks node `id` (a leader) to hand leadership to `to` (thesis §3.10). */
  transferLeader(id: NodeId, to: NodeId): void {
    const n = this.node(id);
    if (!n.up) {
      return;
    }
    this.guard(() => {
      n.core.transferLeader(to);
      this.note(`${id} transfers leadership to ${to}`);
      this.touched(n);
    });
  }

  // ## Settling and the final check

  /**
   * Heals the network, makes it reliable, restarts crashed members and stops nodes outside the configuration, then
   * runs until the cluster is quiescent: one leader, every member applied the leader's whole log, and the
   * configuration is not joint. Returns the leader; throws NotQuiescent after `maxTicks`.
   */
  quiesce(maxTicks = 400): NodeId {
    this.heal();
    this.network.faults = reliableFaults();
    for (const n of this.nodes.values()) {
      if (![...this.nodes.values()].some((m) => m.removed.has(n.id))) {
        this.restart(n.id);
      }
    }
    for (let i = 0; i < maxTicks; i++) {
      this.runTicks(1);
      // A node some running node applied as removed is gone for good (IDs are never reused): shut it down, as its
      // operator would. Left running, it campaigns with ever higher terms at nodes not yet told of its removal.
      for (const n of this.nodes.values()) {
        if (n.up && this.upNodes().some((id) => this.node(id).removed.has(n.id))) {
          this.note(`${n.id} was removed and shuts down`);
          this.crash(n.id);
        }
      }
      const members = this.members();
      if (members.length === 0) {
        continue;
      }
      // A node outside the configuration may shut down only once every member has applied that configuration:
      // until then some member may still need its vote.
      const settled = this.membersAgreeOnConfig(members);
      const l = this.leader();
      const lcs = this.node(l).confState;
      if (settled && !lcs.voters.includes(l) && !lcs.votersOutgoing.includes(l)) {
        // A leader that demoted or removed itself keeps heartbeating but commits nothing (etcd-io/raft#83); the
        // voters only elect a new leader once it goes quiet. Restart it, as an operator would.
        this.note(`${l} leads without being a voter and restarts`);
        this.crash(l);
      }
      for (const n of this.nodes.values()) {
        if (members.includes(n.id)) {
          this.restart(n.id);
        } else if (n.up && settled) {
          this.note(`${n.id} is not a member any more and shuts down`);
          this.crash(n.id);
        }
      }
      if (this.quiescent()) {
        return this.leader();
      }
      this.nudgeAutoLeave();
    }
    return this.fail('NotQuiescent', `the healed cluster did not settle within ${maxTicks} ticks`);
  }

  /**
   * After quiesce(): every proposal a client was told had committed sits at the same index in every member's state
   * machine (the end-to-end meaning of State Machine Safety and Leader Completeness).
   */
  checkCommittedProposals(): void {
    const members = this.members();
    for (const [payload, ack] of this.acks) {
      for (const id of members) {
        const n = this.node(id);
        const got = n.appliedLog[ack.index - 1];
        if (got !== ack.fingerprint) {
          this.fail(
            'CommittedProposalLost',
            `"${payload}" was acknowledged at index ${ack.index} but node ${id} applied ${got ?? 'nothing'} there`,
          );
        }
      }
    }
  }

  // A leader tries to leave an automatic joint configuration only as it applies entries. If that attempt was
  // refused (a leadership transfer was under way), an idle cluster stays joint until something else is applied:
  // once all else is settled, a client write gives it that chance.
  private nudgeAutoLeave(): void {
    const l = this.leader();
    if (l === None) {
      return;
    }
    const leader = this.node(l);
    const cs = leader.confState;
    const caughtUp = this.members().every((id) => this.node(id).appliedIndex === leader.storage.lastIndex());
    if (cs.autoLeave && cs.votersOutgoing.length > 0 && caughtUp) {
      this.note(`${l} is still joint with nothing left to apply; a write lets it leave`);
      this.propose(l);
    }
  }

  // Whether every running member applied the same configuration as the leader.
  private membersAgreeOnConfig(members: readonly NodeId[]): boolean {
    const want = canonicalConfState(this.node(this.leader()).confState);
    return members.every((id) => {
      const n = this.node(id);
      return n.up && canonicalConfState(n.confState) === want;
    });
  }

  /** Whether the cluster is settled: see quiesce(). */
  quiescent(): boolean {
    const l = this.leader();
    if (l === None || this.leaders().length !== 1) {
      return false;
    }
    const leader = this.node(l);
    const last = leader.storage.lastIndex();
    // A leader that removed itself keeps leading but can commit nothing new (etcd-io/raft#83).
    const cs = leader.confState;
    if (leader.hardState.commit !== last || cs.votersOutgoing.length > 0 || !cs.voters.includes(l)) {
      return false;
    }
    return this.members().every((id) => {
      const n = this.node(id);
      return n.up && n.appliedIndex === last && n.hardState.term === leader.hardState.term;
    });
  }

  // ## SimHost: what nodes call back while handling a Ready

  send(from: SimNode, m: Message): void {
    const copies = this.network.send(m, this.now);
    if (copies === 0) {
      this.noteMessage('lost', m);
      if (m.type === MessageType.MsgSnap) {
        this.queue.push(this.now + this.tickMs, {
          kind: 'snapStatus',
          id: from.id,
          incarnation: from.incarnation,
          to: m.to,
          failed: true,
        });
      }
    }
  }

  applied(node: SimNode, e: Entry): void {
    if (e.type !== EntryType.EntryNormal) {
      this.stats.confChangesApplied++;
      this.note(`${node.id} applied ${EntryType[e.type]} at ${e.index}: voters [${node.confState.voters.join(' ')}]` +
        (node.confState.votersOutgoing.length > 0 ? ` && [${node.confState.votersOutgoing.join(' ')}]` : '') +
        (node.confState.learners.length > 0 ? ` learners [${node.confState.learners.join(' ')}]` : ''));
      return;
    }
    const payload = latin1(e.data);
    const p = this.proposals.get(payload);
    if (p === undefined || this.acks.has(payload)) {
      return;
    }
    if (node.id === p.proposer || node.role === StateType.StateLeader) {
      this.acks.set(payload, { index: e.index, fingerprint: fingerprint(e) });
      this.highestAcked = Math.max(this.highestAcked, e.index);
      this.stats.acked++;
      this.note(`client told "${payload}" committed at ${e.index} (by ${node.id})`);
    }
  }

  note(text: string): void {
    this.trace.add(this.now, text);
  }

  readState(node: SimNode, rs: ReadState): void {
    const ctx = latin1(rs.requestCtx);
    const mustSee = this.reads.get(ctx);
    if (mustSee === undefined) {
      return;
    }
    this.checker.observeRead(node.id, ctx, rs.index, mustSee);
    this.stats.reads++;
    this.note(`${node.id} answers read ${ctx} at index ${rs.index}`);
  }

  scheduleWork(node: SimNode, kind: 'append' | 'apply'): void {
    const delay = this.rand.intn(this.maxReadyDelay + 2);
    this.queue.push(this.now + delay, { kind, id: node.id, incarnation: node.incarnation });
  }

  // ## Internals

  private startNode(n: SimNode): void {
    n.start(this.checker, this.rand.nextUint32());
    this.queue.push(this.now + 1 + this.rand.intn(this.tickMs), { kind: 'tick', id: n.id, incarnation: n.incarnation });
    this.touched(n);
  }

  private handle(ev: SimEvent): void {
    const n = this.nodes.get(ev.id);
    if (n === undefined || !n.up || n.incarnation !== ev.incarnation) {
      return;
    }
    const installed = n.snapshotsInstalled;
    switch (ev.kind) {
      case 'tick':
        n.core.tick();
        this.queue.push(this.now + this.tickMs, ev);
        break;
      case 'ready':
        this.readyPending.delete(n.id);
        if (n.core.hasReady()) {
          n.handleReady(this);
        }
        break;
      case 'append':
        n.runAppendWork(this);
        break;
      case 'apply':
        n.runApplyWork(this);
        break;
      case 'snapStatus':
        n.core.reportSnapshot(ev.to, ev.failed ? SnapshotStatus.SnapshotFailure : SnapshotStatus.SnapshotFinish);
        this.note(`${n.id} hears snapshot to ${ev.to} ${ev.failed ? 'failed' : 'finished'}`);
        break;
    }
    this.stats.snapshotsInstalled += n.snapshotsInstalled - installed;
    this.touched(n);
  }

  private deliver(m: Message, cut: boolean): void {
    const to = this.nodes.get(m.to);
    const from = this.nodes.get(m.from);
    // Like etcd's transport, a node refuses messages from members it knows were removed: a removed node that never
    // learned of its removal would otherwise campaign forever, and without PreVote or CheckQuorum each of its
    // higher terms deposes the real leader (§6 of the paper, on disruptive removed servers).
    const lost = cut ? 'cut' : to === undefined || !to.up ? 'lost (down)' : to.removed.has(m.from) ? 'refused' : '';
    if (m.type === MessageType.MsgSnap && from !== undefined && from.up) {
      // The transport tells the sender how a snapshot went, as etcd's does; without it the leader would wait for
      // that follower forever.
      this.queue.push(this.now, {
        kind: 'snapStatus',
        id: from.id,
        incarnation: from.incarnation,
        to: m.to,
        failed: lost !== '',
      });
    }
    this.noteMessage(lost, m);
    if (lost !== '' || to === undefined) {
      return;
    }
    const refused = to.step(m);
    if (refused !== null) {
      this.note(`${to.id} refused ${MessageType[m.type]} from ${m.from}: ${refused}`);
    }
    this.touched(to);
  }


  // After anything happened to a running node: check its core, and schedule its Ready if it has one.
  private touched(n: SimNode): void {
    if (!n.up) {
      return;
    }
    n.checkCore(this.checker);
    if (!this.readyPending.has(n.id) && n.core.hasReady()) {
      this.readyPending.add(n.id);
      const delay = this.maxReadyDelay === 0 ? 0 : this.rand.intn(this.maxReadyDelay + 1);
      this.queue.push(this.now + delay, { kind: 'ready', id: n.id, incarnation: n.incarnation });
    }
  }

  private noteMessage(prefix: string, m: Message): void {
    const hb = m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgHeartbeatResp;
    if (hb && !this.traceHeartbeats) {
      return;
    }
    this.note(prefix === '' ? traceMessage(m) : `${prefix}: ${traceMessage(m)}`);
  }

  private fail(code: SimulationErrorCode, what: string, cause?: unknown): never {
    this.note(`FAILED: ${what}`);
    throw new SimulationError(code, this.seed, what, this.trace.lines(), cause);
  }

  // Runs `f`, turning a broken invariant or a core panic into a SimulationError naming the seed.
  private guard<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof SimulationError) {
        throw err;
      }
      if (err instanceof InvariantViolation) {
        return this.fail('InvariantViolated', err.message, err);
      }
      const what = err instanceof RaftPanic ? `core panic: ${err.message}` : `unexpected error: ${String(err)}`;
      return this.fail('CorePanic', what, err);
    }
  }
}

// The founding storage of voter `id`, with the staged log of `logs` appended and the highest staged term persisted.
function stagedStorage(voters: readonly NodeId[], logs: Readonly<Record<NodeId, readonly number[]>>, id: NodeId): MemoryStorage {
  const s = foundingStorage(voters);
  const terms = logs[id] ?? [];
  const top = Math.max(1, ...Object.values(logs).flat());
  if (terms.length > 0) {
    s.append(terms.map((term, i) => ({
      term,
      index: i + 2,
      type: EntryType.EntryNormal,
      data: textEncoder.encode(`t${term}i${i + 2}`),
    })));
  }
  s.setHardState({ ...s.initialState().hardState, term: top });
  return s;
}

// A ConfState as a string that does not depend on the order of its lists.
function canonicalConfState(cs: ConfState): string {
  const sorted = (ids: readonly NodeId[]): string => [...ids].sort((a, b) => a - b).join(' ');
  return `${sorted(cs.voters)}|${sorted(cs.votersOutgoing)}|${sorted(cs.learners)}|${sorted(cs.learnersNext)}`;
}
