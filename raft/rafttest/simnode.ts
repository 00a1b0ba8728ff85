// # One simulated server
//
// A SimNode is what an application around tsraft looks like, reduced to its bones: a RawNode, a MemoryStorage
// standing for the disk, and a state machine that records which entry it applied at each index. It runs the
// classic Ready loop of the RawNode contract, in the order that makes Figure 2's rule S1 hold:
//
// 1. persist the snapshot, the new entries and the HardState (all at once, as one fsync would);
// 2. send the messages, which may promise what was just persisted;
// 3. apply the snapshot and the committed entries to the state machine;
// 4. call advance().
//
// With `asyncStorageWrites` the core hands the same work out as messages instead (etcd's asynchronous storage
// writes): MsgStorageAppend to persist, MsgStorageApply to apply, each carrying the responses to deliver once done.
// The node queues them and works through each queue in order, a little later, as storage and apply threads would.
//
// A crash throws away the RawNode and the state machine: everything volatile, including a Ready taken but not yet
// handled and queued storage work. What survives is exactly what step 1 (or the append queue) wrote. A restart
// rebuilds the storage from that durable copy and the state machine from the snapshot, and lets the core hand back
// the committed entries after it.

import { decodeConfChange, decodeConfChangeV2 } from '../codec';
import { RaftError } from '../errors';
import { Logger, discardLogger } from '../logger';
import { Rand, SeededRand } from '../rand';
import { Config, LocalAppendThread, LocalApplyThread, RawNode, Ready } from '../index';
import { MemoryStorage } from '../storage';
import {
  ConfChange,
  ConfChangeV2,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  NodeId,
  None,
  ReadState,
  Snapshot,
  StateType,
  emptyConfState,
  emptySnapshot,
  isEmptyHardState,
  isEmptySnapshot,
} from '../types';
import { CheckedEntry, SafetyChecker } from './invariants';
import { latin1 } from './trace';

/** The knobs of one node's core; the same for every node of a simulated cluster. */
export interface SimNodeConfig {
  electionTick: number;
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  maxSizePerMsg: number;
  maxCommittedSizePerReady: number;
  maxInflightMsgs: number;
  /** Whether a leader removed from the configuration steps down at once. */
  stepDownOnRemoval: boolean;
  /** Persist and apply through MsgStorageAppend / MsgStorageApply work queues instead of Ready/advance. */
  asyncStorageWrites: boolean;
  /**
   * How many tick values an election timeout is drawn from: [electionTick, electionTick + electionJitter). Unset,
   * the core's own range [electionTick, 2 * electionTick) applies; 0 means no randomness at all. Figure 16 of the
   * paper varies exactly this.
   */
  electionJitter?: number;
  logger?: Logger;
}

/**
 * The randomness of a core whose election timeouts spread over `jitter` ticks rather than the core's own
 * `electionTick`. The core draws nothing but its election timeout from its Rand (raft/rand.ts), always as
 * `intn(electionTick)`, so confining the draw to [0, jitter) confines the timeout to [electionTick, electionTick +
 * jitter) and keeps Rand's contract while jitter <= electionTick.
 */
export class ElectionJitterRand implements Rand {
  constructor(
    private readonly inner: SeededRand,
    private readonly jitter: number,
  ) {
    if (!Number.isInteger(jitter) || jitter < 0) throw new RangeError(`Election jitter must be a whole number of ticks, not ${jitter}`);
  }

  intn(n: number): number {
    if (this.jitter > n) throw new RangeError(`Election jitter of ${this.jitter} ticks exceeds the core's range of ${n}`);
    return this.jitter === 0 ? 0 : this.inner.intn(this.jitter);
  }
}

/** What a node needs from the simulation around it while it handles a Ready. */
export interface SimHost {
  readonly checker: SafetyChecker;
  /** Puts a message on the network. */
  send(from: SimNode, m: Message): void;
  /** Told after the state machine applied `e`. */
  applied(node: SimNode, e: Entry): void;
  /** Adds a line to the trace. */
  note(text: string): void;
  /** Told of an answer to a ReadIndex request (§8). */
  readState(node: SimNode, rs: ReadState): void;
  /** Asks for runAppendWork (or runApplyWork) to be called once, a little later. */
  scheduleWork(node: SimNode, kind: 'append' | 'apply'): void;
}

// A storage write handed out by the core, with the term the node led when it was issued (null if not leading).
interface AppendWork {
  m: Message;
  leaderOf: number | null;
}

// Work for the apply thread: committed entries from the core, or a snapshot just persisted.
type ApplyWork = { kind: 'entries'; m: Message } | { kind: 'snapshot'; snap: Snapshot };

/** The state machine's record of one entry: two entries are the same entry iff their fingerprints are equal. */
export function fingerprint(e: Entry): string {
  return `${e.term}:${e.type}:${latin1(e.data)}`;
}

/** The payload of a normal entry's fingerprint, or null for a configuration change. */
export function payloadOf(fp: string): string | null {
  const [, type, ...rest] = fp.split(':');
  return type === String(EntryType.EntryNormal) ? rest.join(':') : null;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** What the state machine holds: the entries it applied, and the members configuration changes removed. */
export interface StateMachine {
  /** applied[i - 1] is the fingerprint of the entry applied at index i. */
  applied: string[];
  /** Nodes removed from the configuration, whose messages the node's transport refuses (as etcd's does). */
  removed: NodeId[];
}

/** The state machine as snapshot data (JSON). */
export function encodeStateMachine(sm: StateMachine): Uint8Array {
  return textEncoder.encode(JSON.stringify(sm));
}

/** The inverse of encodeStateMachine; throws on data of another shape. */
export function decodeStateMachine(data: Uint8Array): StateMachine {
  const parsed: unknown = JSON.parse(textDecoder.decode(data));
  const applied: unknown = typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'applied') : null;
  const removed: unknown = typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'removed') : null;
  if (
    !Array.isArray(applied) ||
    !applied.every((x): x is string => typeof x === 'string') ||
    !Array.isArray(removed) ||
    !removed.every((x): x is number => typeof x === 'number')
  ) {
    throw new TypeError('Snapshot data is not a simulated state machine');
  }
  return { applied, removed };
}

/**
 * A storage holding a cluster's founding snapshot: index 1, term 1, membership `voters`. Starting every founding
 * member from it, rather than from empty logs, is what etcd recommends for bootstrapping; a node added later starts
 * empty and receives a snapshot from the leader.
 */
export function foundingStorage(voters: readonly NodeId[]): MemoryStorage {
  const s = new MemoryStorage();
  const confState = { ...emptyConfState(), voters: [...voters] };
  const data = encodeStateMachine({ applied: ['1:0:'], removed: [] });
  s.applySnapshot({ data, metadata: { index: 1, term: 1, confState } });
  s.setHardState({ term: 1, vote: None, commit: 1 });
  return s;
}

function hasCheckInvariants(x: unknown): x is { checkInvariants(): void } {
  return typeof x === 'object' && x !== null && typeof Reflect.get(x, 'checkInvariants') === 'function';
}

/** One server of the simulation: a RawNode, its durable storage and its state machine. */
export class SimNode {
  readonly id: NodeId;
  /** The disk: only the Ready loop writes it, and it survives crashes. */
  storage: MemoryStorage;
  /** The running core, or null while the node is down. */
  rawNode: RawNode | null = null;
  /** Bumped at every start and stop, so events scheduled for an earlier life are ignored. */
  incarnation = 0;
  /** The role, leader and term as of the last Ready taken (the term may be ahead of what is persisted). */
  role: StateType = StateType.StateFollower;
  lead: NodeId = None;
  term = 0;
  /** The HardState as last persisted. */
  hardState: HardState;
  /** The state machine: appliedLog[i - 1] is the fingerprint of the entry applied at index i. */
  appliedLog: string[] = [];
  /** Also in the state machine: the nodes applied configuration changes removed (IDs are never reused). */
  removed = new Set<NodeId>();
  /** The membership as of the last applied entry. */
  confState: ConfState = emptyConfState();
  /** How many snapshots this node installed from a leader. */
  snapshotsInstalled = 0;

  private readonly config: SimNodeConfig;
  // Asynchronous storage writes only: the work handed out by the core and not yet done, oldest first.
  private appendWork: AppendWork[] = [];
  private applyWork: ApplyWork[] = [];
  // The term the node led when it issued its last storage write (null if it did not lead): Leader Append-Only
  // constrains consecutive writes issued by one leader in one term.
  private lastWriteLeaderOf: number | null = null;

  constructor(id: NodeId, storage: MemoryStorage, config: SimNodeConfig) {
    this.id = id;
    this.storage = storage;
    this.config = config;
    this.hardState = storage.initialState().hardState;
  }

  /** Whether the node is running. */
  get up(): boolean {
    return this.rawNode !== null;
  }

  /** The index of the last entry the state machine applied. */
  get appliedIndex(): number {
    return this.appliedLog.length;
  }

  /** The running core; throws when the node is down. */
  get core(): RawNode {
    if (this.rawNode === null) {
      throw new Error(`Node ${this.id} is down`);
    }
    return this.rawNode;
  }

  /**
   * Boots the node from its durable state: the storage is rebuilt from the persisted snapshot, HardState and
   * entries (as a real node replays its write-ahead log), and the state machine from the snapshot.
   */
  start(checker: SafetyChecker, randSeed: number): void {
    const old = this.storage;
    const s = new MemoryStorage();
    const snap = old.snapshot();
    if (!isEmptySnapshot(snap)) {
      s.applySnapshot(snap);
    }
    // With asynchronous writes the state machine, and so a snapshot of it, can run ahead of the persisted commit
    // index. Only committed entries are applied, so a snapshot's index is committed: restart from at least there.
    const hs = old.initialState().hardState;
    s.setHardState({ ...hs, commit: Math.max(hs.commit, snap.metadata.index) });
    if (old.lastIndex() >= old.firstIndex()) {
      s.append(old.entries(old.firstIndex(), old.lastIndex() + 1, Number.MAX_SAFE_INTEGER));
    }
    this.storage = s;
    this.hardState = s.initialState().hardState;
    this.restoreStateMachine(snap);
    this.resetVolatile();
    const c = this.config;
    const cfg: Config = {
      id: this.id,
      electionTick: c.electionTick,
      heartbeatTick: c.heartbeatTick,
      storage: s,
      applied: snap.metadata.index,
      maxSizePerMsg: c.maxSizePerMsg,
      maxCommittedSizePerReady: c.maxCommittedSizePerReady,
      maxInflightMsgs: c.maxInflightMsgs,
      checkQuorum: c.checkQuorum,
      preVote: c.preVote,
      stepDownOnRemoval: c.stepDownOnRemoval,
      asyncStorageWrites: c.asyncStorageWrites,
      logger: c.logger ?? discardLogger,
      rand: c.electionJitter === undefined ? new SeededRand(randSeed) : new ElectionJitterRand(new SeededRand(randSeed), c.electionJitter),
    };
    this.rawNode = new RawNode(cfg);
    this.incarnation++;
    checker.persistHardState(this.id, this.hardState);
    this.appliedLog.forEach((fp, i) => checker.observeApply(this.id, i + 1, fp));
  }

  /** Crashes the node: the core, its unhandled Ready and the state machine are lost; the storage stays. */
  stop(checker: SafetyChecker): void {
    this.rawNode = null;
    this.incarnation++;
    this.resetVolatile();
    checker.nodeDown(this.id);
  }

  /**
   * Persists what is ready to be persisted and nothing else: the pending Ready (or, with asynchronous writes, the
   * queued storage writes), without sending, applying or answering anything. A crash right after this is a crash
   * between fsync and send. Returns whether anything was written.
   */
  persistPending(host: SimHost): boolean {
    if (!this.config.asyncStorageWrites) {
      if (!this.core.hasReady()) {
        return false;
      }
      this.handleReady(host, true);
      return true;
    }
    const n = this.appendWork.length;
    while (this.appendWork.length > 0) {
      this.runAppendWork(host, false);
    }
    return n > 0;
  }

  /** Steps a message; a refusal the core reports as RaftError is returned as its code, anything else throws. */
  step(m: Message): string | null {
    return this.refusal(() => this.core.step(m));
  }

  /** Proposes `data`; returns the refusal's code (e.g. 'ProposalDropped') or null once appended or forwarded. */
  propose(data: Uint8Array): string | null {
    return this.refusal(() => this.core.propose(data));
  }

  /** Proposes a configuration change; returns the refusal's code or null. */
  proposeConfChange(cc: ConfChange | ConfChangeV2): string | null {
    return this.refusal(() => this.core.proposeConfChange(cc));
  }

  /** Runs the core's own consistency check, if it has one. */
  checkCore(checker: SafetyChecker): void {
    const r: unknown = this.rawNode?.raft;
    if (!hasCheckInvariants(r)) {
      return;
    }
    try {
      r.checkInvariants();
    } catch (err) {
      checker.coreInvariant(this.id, err);
    }
  }

  /**
   * Handles one Ready (steps 1 to 4 above), or with asynchronous writes queues its storage work and sends the rest.
   * With `persistOnly` the node crashes between steps 1 and 2: the caller stops it right after.
   */
  handleReady(host: SimHost, persistOnly = false): void {
    const rn = this.core;
    const rd = rn.ready();
    if (rd.softState !== null) {
      this.role = rd.softState.raftState;
      this.lead = rd.softState.lead;
    }
    if (!isEmptyHardState(rd.hardState)) {
      this.term = rd.hardState.term;
    }
    const leaderOf = this.role === StateType.StateLeader ? this.term : null;
    if (rd.softState !== null) {
      host.note(`${this.id} is ${StateType[this.role]} in term ${this.term} (leader ${this.lead})`);
    }
    host.checker.observeRole(this.id, this.term, leaderOf !== null, this.storage);
    for (const rs of rd.readStates) {
      host.readState(this, rs);
    }
    if (this.config.asyncStorageWrites) {
      this.dispatch(host, rd, leaderOf);
      return;
    }

    // 1. Persist.
    this.persist(host, rd.snapshot, rd.entries, rd.hardState, leaderOf);
    if (persistOnly) {
      return;
    }
    // 2. Send.
    for (const m of rd.messages) {
      host.send(this, m);
    }
    // 3. Apply.
    if (!isEmptySnapshot(rd.snapshot)) {
      this.installSnapshot(host, rd.snapshot);
    }
    for (const e of rd.committedEntries) {
      this.apply(host, e);
    }
    // 4. Advance.
    rn.advance();
  }

  /**
   * Performs the oldest queued storage write, then (unless `deliver` is false, for a crash right after the write)
   * delivers the responses it carried: to the node itself, or over the network.
   */
  runAppendWork(host: SimHost, deliver = true): void {
    const w = this.appendWork.shift();
    if (w === undefined) {
      return;
    }
    const m = w.m;
    const snap = m.snapshot ?? emptySnapshot();
    this.persist(host, snap, m.entries, { term: m.term, vote: m.vote, commit: m.commit }, w.leaderOf);
    if (!deliver) {
      return;
    }
    if (!isEmptySnapshot(snap)) {
      this.applyWork.push({ kind: 'snapshot', snap });
      host.scheduleWork(this, 'apply');
    }
    for (const r of m.responses) {
      this.deliverLocal(host, r);
    }
  }

  /** Applies the oldest queued apply work, then steps the responses it carried into the node. */
  runApplyWork(host: SimHost): void {
    const w = this.applyWork.shift();
    if (w === undefined) {
      return;
    }
    if (w.kind === 'snapshot') {
      this.installSnapshot(host, w.snap);
      return;
    }
    for (const e of w.m.entries) {
      this.apply(host, e);
    }
    for (const r of w.m.responses) {
      this.deliverLocal(host, r);
    }
  }

  /**
   * Takes a snapshot of the state machine at the applied index and compacts the log, keeping the last `keep`
   * entries for followers that lag a little (§7). Returns whether a snapshot was taken.
   */
  takeSnapshot(keep: number): boolean {
    const index = this.appliedIndex;
    if (!this.up || index <= this.storage.snapshot().metadata.index) {
      return false;
    }
    this.storage.createSnapshot(index, this.confState, this.snapshotData());
    const compactTo = index - keep;
    if (compactTo > this.storage.firstIndex() - 1) {
      this.storage.compact(compactTo);
    }
    return true;
  }

  // Queues the storage and apply work of an asynchronous Ready and sends the messages that wait for nothing.
  private dispatch(host: SimHost, rd: Ready, leaderOf: number | null): void {
    for (const m of rd.messages) {
      if (m.to === LocalAppendThread) {
        this.appendWork.push({ m, leaderOf });
        host.scheduleWork(this, 'append');
      } else if (m.to === LocalApplyThread) {
        this.applyWork.push({ kind: 'entries', m });
        host.scheduleWork(this, 'apply');
      } else {
        host.send(this, m);
      }
    }
  }

  // Writes a snapshot, entries and HardState to the "disk", checking what Figure 3 says about what is written.
  private persist(host: SimHost, snap: Snapshot, entries: Entry[], hs: HardState, leaderOf: number | null): void {
    const checker = host.checker;
    // Leader Append-Only: two writes in a row issued by this node as leader of one term may only append.
    const appendingLeaderOf = leaderOf !== null && leaderOf === this.lastWriteLeaderOf ? leaderOf : null;
    this.lastWriteLeaderOf = leaderOf;
    if (!isEmptySnapshot(snap)) {
      checker.checkLeaderAppend(this.id, appendingLeaderOf, snap.metadata.index, this.storage.lastIndex());
      this.storage.applySnapshot(snap);
      host.note(`${this.id} persisted snapshot ${snap.metadata.term}/${snap.metadata.index}`);
    }
    if (entries.length > 0) {
      checker.checkLeaderAppend(this.id, appendingLeaderOf, entries[0].index, this.storage.lastIndex());
      this.storage.append(entries);
      checker.persistEntries(this.id, entries.map(checkedEntry), this.storage);
    }
    if (!isEmptyHardState(hs)) {
      this.storage.setHardState(hs);
      checker.persistHardState(this.id, hs);
      const prev = this.hardState;
      this.hardState = { ...hs };
      if (prev.term !== hs.term || prev.vote !== hs.vote) {
        host.note(`${this.id} persisted term ${hs.term} vote ${hs.vote}`);
      }
    }
    checker.observeCommit(this.id, this.hardState.commit, this.hardState.term, this.storage);
  }

  // Hands a response from the storage or apply work to its destination: this node's core, or a peer.
  private deliverLocal(host: SimHost, r: Message): void {
    if (r.to !== this.id) {
      host.send(this, r);
      return;
    }
    const refused = this.step(r);
    if (refused !== null) {
      host.note(`${this.id} refused its own ${MessageType[r.type]}: ${refused}`);
    }
  }

  private installSnapshot(host: SimHost, snap: Snapshot): void {
    this.restoreStateMachine(snap);
    this.snapshotsInstalled++;
    this.appliedLog.forEach((fp, i) => host.checker.observeApply(this.id, i + 1, fp));
  }

  private resetVolatile(): void {
    this.role = StateType.StateFollower;
    this.lead = None;
    this.term = this.hardState.term;
    this.appendWork = [];
    this.applyWork = [];
    this.lastWriteLeaderOf = null;
  }

  private apply(host: SimHost, e: Entry): void {
    if (e.index !== this.appliedIndex + 1) {
      throw new Error(`Node ${this.id} was handed entry ${e.index} to apply after applying ${this.appliedIndex}`);
    }
    const before = membersOf(this.confState);
    if (e.type === EntryType.EntryConfChange) {
      this.confState = this.core.applyConfChange(decodeConfChange(e.data));
    } else if (e.type === EntryType.EntryConfChangeV2) {
      this.confState = this.core.applyConfChange(decodeConfChangeV2(e.data));
    }
    const after = membersOf(this.confState);
    for (const id of before.filter((x) => !after.includes(x))) {
      this.removed.add(id);
    }
    const fp = fingerprint(e);
    this.appliedLog.push(fp);
    // A node ignores a snapshot whose membership does not name it, so a leader must never offer a new member a
    // snapshot taken before it joined: snapshot every membership change (without compacting). With asynchronous
    // writes a newer snapshot from the leader may already be on disk, waiting to be applied; it covers this one.
    if (e.type !== EntryType.EntryNormal && e.index > this.storage.snapshot().metadata.index) {
      this.storage.createSnapshot(e.index, this.confState, this.snapshotData());
    }
    host.checker.observeApply(this.id, e.index, fp);
    host.applied(this, e);
  }

  private restoreStateMachine(snap: Snapshot): void {
    if (isEmptySnapshot(snap)) {
      this.appliedLog = [];
      this.removed = new Set();
      this.confState = emptyConfState();
      return;
    }
    const sm = decodeStateMachine(snap.data);
    if (sm.applied.length !== snap.metadata.index) {
      throw new Error(`Snapshot ${snap.metadata.index} of node ${this.id} holds ${sm.applied.length} entries`);
    }
    this.appliedLog = sm.applied;
    this.removed = new Set(sm.removed);
    this.confState = snap.metadata.confState;
  }

  private snapshotData(): Uint8Array {
    return encodeStateMachine({ applied: this.appliedLog, removed: [...this.removed] });
  }

  private refusal(f: () => void): string | null {
    try {
      f();
      return null;
    } catch (err) {
      if (err instanceof RaftError) {
        return err.code;
      }
      throw err;
    }
  }
}

/** Every node a configuration names: voters and learners, of both halves of a joint configuration. */
export function membersOf(cs: ConfState): NodeId[] {
  return [...new Set([...cs.voters, ...cs.votersOutgoing, ...cs.learners, ...cs.learnersNext])].sort((a, b) => a - b);
}

function checkedEntry(e: Entry): CheckedEntry {
  return { index: e.index, term: e.term, fingerprint: fingerprint(e) };
}
