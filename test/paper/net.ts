// A tiny in-test cluster for the paper tests: Raft instances keyed by ID, with synchronous, in-order message
// delivery and controllable failures (drop by link, cut, isolate, ignore a type). Messages a node sends after
// persisting are delivered at once, as if every write were instantly durable.

import { Config } from '../../raft/config';
import { Raft } from '../../raft/raft';
import { RaftError } from '../../raft/errors';
import { SeededRand } from '../../raft/rand';
import { MemoryStorage } from '../../raft/storage';
import {
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  NodeId,
  emptyConfState,
  newEntry,
  newMessage,
} from '../../raft/types';

/** A MemoryStorage whose initial membership is given, as a freshly provisioned cluster's would be. */
export class PeersStorage extends MemoryStorage {
  constructor(private readonly cs: ConfState) {
    super();
  }

  override initialState(): { hardState: HardState; confState: ConfState } {
    const st = super.initialState();
    const fromSnapshot = st.confState.voters.length + st.confState.learners.length > 0;
    return { hardState: st.hardState, confState: fromSnapshot ? st.confState : this.cs };
  }
}

export function storageWith(voters: NodeId[], learners: NodeId[] = []): PeersStorage {
  return new PeersStorage({ ...emptyConfState(), voters, learners });
}

export function newTestRaft(
  id: NodeId,
  election: number,
  heartbeat: number,
  storage: MemoryStorage,
  extra: Partial<Config> = {},
): Raft {
  return new Raft({
    id,
    electionTick: election,
    heartbeatTick: heartbeat,
    storage,
    maxSizePerMsg: Infinity,
    maxInflightMsgs: 256,
    ...extra,
  });
}

/** A raft whose log already holds entries with the given terms (index 1, 2, ...), and `term` as current term. */
export function raftWithLog(
  id: NodeId,
  peers: NodeId[],
  terms: number[],
  term: number,
  extra: Partial<Config> = {},
): Raft {
  const s = storageWith(peers);
  s.append(terms.map((t, i) => newEntry({ term: t, index: i + 1 })));
  s.setHardState({ term, vote: 0, commit: 0 });
  return newTestRaft(id, 10, 1, s, extra);
}

/** Steps `m`, treating a dropped proposal as the no-op it is for the cluster. */
export function stepQuiet(r: Raft, m: Message): void {
  try {
    r.step(m);
  } catch (e) {
    if (!(e instanceof RaftError)) {
      throw e;
    }
  }
}

/** Delivers the node's own durable-state responses to itself, as a Ready loop with instant storage would. */
export function advanceMessagesAfterAppend(r: Raft): void {
  for (;;) {
    const msgs = r.msgsAfterAppend;
    if (msgs.length === 0) {
      return;
    }
    r.msgsAfterAppend = [];
    for (const m of msgs) {
      if (m.to === r.id) {
        stepQuiet(r, m);
      } else {
        r.msgs.push(m);
      }
    }
  }
}

/** Everything the node has to send, with its own responses already handled. */
export function readMessages(r: Raft): Message[] {
  advanceMessagesAfterAppend(r);
  const msgs = r.msgs;
  r.msgs = [];
  return msgs;
}

/** Persists the node's unstable entries to `s`, and returns (and marks applied) its committed entries. */
export function nextEnts(r: Raft, s: MemoryStorage): Entry[] {
  s.append(r.raftLog.nextUnstableEnts());
  r.raftLog.stableTo({ index: r.raftLog.lastIndex(), term: r.raftLog.lastTerm() });
  advanceMessagesAfterAppend(r);
  const ents = r.raftLog.nextCommittedEnts(true);
  r.raftLog.appliedTo(r.raftLog.committed, 0);
  return ents;
}

/** Puts a candidate or leader straight into its role, as tests of one role need. */
export function becomeLeader(r: Raft): void {
  r.becomeCandidate();
  r.becomeLeader();
}

export function msg(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return newMessage(fields);
}

export function propMsg(from: NodeId, data = 'somedata'): Message {
  return newMessage({
    type: MessageType.MsgProp,
    from,
    to: from,
    entries: [newEntry({ term: 0, index: 0, data: new TextEncoder().encode(data) })],
  });
}

/** The terms of a node's whole log, index 1 onward. */
export function logTerms(r: Raft): number[] {
  return r.raftLog.allEntries().map((e) => e.term);
}

/** A cluster of Raft nodes with a message bus between them. */
export class Network {
  readonly peers = new Map<NodeId, Raft>();
  readonly storage = new Map<NodeId, MemoryStorage>();
  private readonly dropm = new Map<string, number>();
  private readonly ignorem = new Set<MessageType>();
  private readonly rand = new SeededRand(42);
  /** Every message delivered, in order; tests count or inspect them. */
  delivered: Message[] = [];

  /**
   * A network of the given nodes, IDs 1..n by position: a Raft, null for a fresh voter of an n-node cluster, or
   * 'hole' for a member that never answers. `configure` adjusts each fresh node's config.
   */
  constructor(nodes: (Raft | null | 'hole')[], configure: Partial<Config> = {}) {
    const ids = nodes.map((_, i) => i + 1);
    nodes.forEach((node, i) => {
      const id = ids[i];
      if (node === 'hole') {
        // A member that swallows every message, like a crashed server.
        return;
      }
      if (node === null) {
        const s = storageWith(ids);
        this.storage.set(id, s);
        this.peers.set(id, newTestRaft(id, 10, 1, s, configure));
      } else {
        this.peers.set(id, node);
      }
    });
  }

  static ofSize(n: number, configure: Partial<Config> = {}): Network {
    return new Network(new Array<null>(n).fill(null), configure);
  }

  raft(id: NodeId): Raft {
    const r = this.peers.get(id);
    if (r === undefined) {
      throw new Error(`No node ${id} in the test network`);
    }
    return r;
  }

  /** Delivers `msgs` and everything they cause, until the network is quiet. */
  send(...msgs: Message[]): void {
    const queue = [...msgs];
    while (queue.length > 0) {
      const m = queue.shift() as Message;
      const p = this.peers.get(m.to);
      if (p === undefined) {
        continue;
      }
      this.delivered.push(m);
      stepQuiet(p, m);
      queue.push(...this.filter(readMessages(p)));
    }
  }

  /** Starts an election at `id` and runs it to completion. */
  campaign(id: NodeId): void {
    this.send(msg({ type: MessageType.MsgHup, from: id, to: id }));
  }

  /** Proposes `data` at `id`. */
  propose(id: NodeId, data = 'somedata'): void {
    this.send(propMsg(id, data));
  }

  drop(from: NodeId, to: NodeId, perc: number): void {
    this.dropm.set(`${from}->${to}`, perc);
  }

  cut(a: NodeId, b: NodeId): void {
    this.drop(a, b, 2);
    this.drop(b, a, 2);
  }

  isolate(id: NodeId): void {
    for (const other of this.peers.keys()) {
      if (other !== id) {
        this.cut(id, other);
      }
    }
  }

  ignore(t: MessageType): void {
    this.ignorem.add(t);
  }

  recover(): void {
    this.dropm.clear();
    this.ignorem.clear();
  }

  private filter(msgs: Message[]): Message[] {
    return msgs.filter((m) => {
      if (this.ignorem.has(m.type)) {
        return false;
      }
      if (m.type === MessageType.MsgHup) {
        throw new Error('A node sent MsgHup over the network');
      }
      const perc = this.dropm.get(`${m.from}->${m.to}`) ?? 0;
      return !(perc > 0 && this.rand.float() < perc);
    });
  }
}
