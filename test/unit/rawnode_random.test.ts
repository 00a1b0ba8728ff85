// Randomized runs of five RawNodes driven through the full Ready contract, over a network that drops and reorders
// messages, with log compaction (so lagging followers need snapshots, §7) and node restarts from storage. After
// every event: checkInvariants() on every node, and State Machine Safety across the entries each node applied.

import { RaftError } from '../../raft/errors';
import { SeededRand } from '../../raft/rand';
import { RawNode, SnapshotStatus } from '../../raft/rawnode';
import { MemoryStorage } from '../../raft/storage';
import { Message, MessageType, emptyConfState, isEmptyHardState, isEmptySnapshot } from '../../raft/types';

interface Node {
  rn: RawNode;
  storage: MemoryStorage;
  /** What this node's state machine applied, by index. */
  applied: Map<number, string>;
}

const dec = new TextDecoder();
const ids = [1, 2, 3, 4, 5];

function start(id: number, storage: MemoryStorage, seed: number, applied: number): RawNode {
  return new RawNode({
    id,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    applied,
    maxSizePerMsg: 1024,
    maxInflightMsgs: 16,
    preVote: true,
    checkQuorum: true,
    rand: new SeededRand(seed),
  });
}

function run(seed: number, events: number): { maxCommit: number; snapshotsSent: number } {
  const rand = new SeededRand(seed);
  const nodes = new Map<number, Node>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    storage.applySnapshot({
      data: new Uint8Array(0),
      metadata: { index: 1, term: 1, confState: { ...emptyConfState(), voters: ids } },
    });
    nodes.set(id, { rn: start(id, storage, seed * 7 + id, 0), storage, applied: new Map() });
  }
  let net: Message[] = [];
  const chosen = new Map<number, string>();
  let snapshotsSent = 0;
  let proposals = 0;

  // The application's half of the contract: persist, apply, send, advance.
  const handleReady = (n: Node): void => {
    while (n.rn.hasReady()) {
      const rd = n.rn.ready();
      if (!isEmptySnapshot(rd.snapshot)) {
        n.storage.applySnapshot(rd.snapshot);
        for (const i of [...n.applied.keys()]) {
          if (i > rd.snapshot.metadata.index) {
            throw new Error('applied entries beyond a snapshot that replaces them');
          }
        }
      }
      n.storage.append(rd.entries);
      if (!isEmptyHardState(rd.hardState)) {
        n.storage.setHardState(rd.hardState);
      }
      for (const e of rd.committedEntries) {
        const v = `${e.term}:${dec.decode(e.data)}`;
        n.applied.set(e.index, v);
        const seen = chosen.get(e.index);
        if (seen === undefined) {
          chosen.set(e.index, v);
        } else if (seen !== v) {
          throw new Error(`State Machine Safety: index ${e.index} applied as ${seen} and as ${v}`);
        }
      }
      for (const m of rd.messages) {
        if (m.type === MessageType.MsgSnap) {
          snapshotsSent++;
          // The transport delivers snapshots reliably in this model, and reports so.
          n.rn.reportSnapshot(m.to, SnapshotStatus.SnapshotFinish);
        }
        net.push(m);
      }
      n.rn.advance();
    }
  };

  for (let ev = 0; ev < events; ev++) {
    const x = rand.intn(100);
    const n = nodes.get(ids[rand.intn(ids.length)]) as Node;
    if (x < 50 && net.length > 0) {
      const i = rand.intn(net.length);
      const m = net[i];
      net.splice(i, 1);
      const to = nodes.get(m.to);
      if (to !== undefined && rand.intn(100) >= 5) {
        try {
          to.rn.step(m);
        } catch (e) {
          if (!(e instanceof RaftError)) {
            throw e;
          }
        }
        handleReady(to);
      }
    } else if (x < 85) {
      n.rn.tick();
      handleReady(n);
    } else if (x < 95) {
      try {
        n.rn.propose(new TextEncoder().encode(`p${proposals++}`));
      } catch (e) {
        if (!(e instanceof RaftError)) {
          throw e;
        }
      }
      handleReady(n);
    } else if (x < 98) {
      // Compact everything applied, keeping a snapshot of it (§7).
      const applied = n.rn.basicStatus().applied;
      if (applied > n.storage.firstIndex()) {
        n.storage.createSnapshot(applied, { ...emptyConfState(), voters: ids }, new Uint8Array(0));
        n.storage.compact(applied);
      }
    } else {
      // Crash and restart from storage: volatile state is lost, what was persisted survives (S1).
      const applied = Math.max(0, ...n.applied.keys(), n.storage.firstIndex() - 1);
      n.rn = start(n.rn.raft.id, n.storage, seed * 13 + ev, Math.min(applied, n.storage.initialState().hardState.commit));
      net = net.filter((m) => m.from !== n.rn.raft.id);
    }
    for (const node of nodes.values()) {
      node.rn.raft.checkInvariants();
    }
    if (net.length > 1000) {
      net = net.slice(-300);
    }
  }
  return { maxCommit: Math.max(...[...nodes.values()].map((node) => node.rn.basicStatus().commit)), snapshotsSent };
}

describe('randomized RawNode clusters with compaction and restarts', () => {
  const seeds = process.env.TSRAFT_LONG ? 60 : 10;
  test('every node applies the same entry at each index, and invariants hold throughout', () => {
    let progress = 0;
    let snapshots = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const res = run(seed, 3000);
      progress += res.maxCommit;
      snapshots += res.snapshotsSent;
    }
    expect(progress).toBeGreaterThan(seeds * 10);
    // Compaction made some followers need a snapshot, so that path was exercised.
    expect(snapshots).toBeGreaterThan(0);
  });
});
