// # RawNode: the application's handle on the core
//
// The application drives a RawNode from one thread: it ticks it, steps it with messages from peers, proposes, and
// repeatedly asks for a Ready: the work the core needs done. The contract of a Ready (the paper's S1 in practice):
// persist `hardState`, `entries` and `snapshot`; only then send `messages`; apply `committedEntries`; then call
// advance(). Messages that depend on durable state (votes, append acknowledgements) are held back until the Ready
// that makes that state durable is handed out.
//
// With asyncStorageWrites, the Ready's persistence and application work instead travels as MsgStorageAppend and
// MsgStorageApply messages to local threads, whose responses are stepped back in; advance() is not used.

import { bootstrap as bootstrapStorage, Peer } from './bootstrap';
import { RaftError } from './errors';
import { Config, LocalAppendThread, LocalApplyThread, isLocalMsgTarget } from './config';
import { confChangeAsV2, confChangeToMsg } from './confchange/convert';
import { Raft } from './raft';
import { BasicStatus, Status, getBasicStatus, getStatus } from './status';
import { Progress } from './tracker/progress';
import { entsSize } from './util';
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
  SoftState,
  emptyConfState,
  emptyHardState,
  hardStateEqual,
  isEmptyHardState,
  isEmptySnapshot,
  isLocalMessage,
  isResponseMessage,
} from './types';

export type { Config } from './config';
export type { Peer } from './bootstrap';

/** The work a node hands to the application at one point in time. Every field is present; empty means none. */
export interface Ready {
  /** The new SoftState, or null if it did not change. Need not be persisted. */
  softState: SoftState | null;
  /** The HardState to persist before sending `messages`; empty (all zero) if unchanged. */
  hardState: HardState;
  /** Answers to ReadIndex requests (§8). */
  readStates: ReadState[];
  /** Entries to append to stable storage before sending `messages`. */
  entries: Entry[];
  /** A snapshot to persist and apply; empty (index 0, shared and frozen) if none. */
  snapshot: Snapshot;
  /** Entries to apply to the state machine (A1), in order. */
  committedEntries: Entry[];
  /** Messages to send once the above is durable. A MsgSnap must be followed by reportSnapshot. */
  messages: Message[];
  /** Whether the HardState and entries must be written with fsync (S1: term, vote and log entries changed). */
  mustSync: boolean;
}

/** How a snapshot sent to a follower fared, for reportSnapshot. Values match etcd's SnapshotStatus. */
export enum SnapshotStatus {
  SnapshotFinish = 1,
  SnapshotFailure = 2,
}

/** Whether a progress record belongs to a voter or a learner. */
export enum ProgressType {
  ProgressTypePeer = 0,
  ProgressTypeLearner = 1,
}

/**
 * Whether a write must be synced: S1 (§5.1) requires term, vote and log entries on stable storage before answering
 * any RPC; the commit index alone may be written lazily, since it can be recovered from a quorum.
 */
export function mustSync(st: HardState, prevst: HardState, entsnum: number): boolean {
  return entsnum !== 0 || st.vote !== prevst.vote || st.term !== prevst.term;
}

const emptyBytes = new Uint8Array(0);

/**
 * The "no snapshot" value every Ready without one shares: allocating a snapshot (and its typed array) per Ready
 * would dominate the cost of the propose-ready-advance loop. Frozen, since it is shared.
 */
const noSnapshot: Snapshot = Object.freeze({
  data: emptyBytes,
  metadata: Object.freeze({ confState: Object.freeze(emptyConfState()), index: 0, term: 0 }),
});

/** The "unchanged" HardState every Ready without a new one shares, sparing an allocation per Ready. Frozen. */
const noHardState: HardState = Object.freeze(emptyHardState());

/** A single Raft node driven by the application, without threads or timers. */
export class RawNode {
  /** The state machine itself; public so tests and the scenario harness can inspect it, as etcd's do. */
  readonly raft: Raft;
  readonly asyncStorageWrites: boolean;
  /** What the last accepted Ready reported, so the next reports only changes. */
  prevSoftSt: SoftState;
  /** Invariant: what the application has been told to persist; bootstrap resets it to empty. */
  prevHardSt: HardState;
  /** The responses to step on advance(): what the last accepted Ready will have made durable or applied. */
  private stepsOnAdvance: Message[] = [];

  /** Creates a node from `config`; throws RaftError('ConfigInvalid') if the configuration is invalid. */
  constructor(config: Config) {
    this.raft = new Raft(config);
    this.asyncStorageWrites = config.asyncStorageWrites ?? false;
    this.prevSoftSt = this.raft.softState();
    this.prevHardSt = this.raft.hardState();
  }

  /** Advances logical time by one tick (heartbeats and election timeouts are counted in ticks). */
  tick(): void {
    this.raft.tick();
  }

  /**
   * Advances the election clock only, without heartbeats or elections; for groups the application knows to be
   * idle. Subverts the state machine: prefer tick().
   */
  tickQuiesced(): void {
    this.raft.electionElapsed++;
  }

  /**
   * A leader sends its heartbeats (§5.2, the empty AppendEntries that keep its authority) now instead of at its next
   * heartbeat tick; any other node does nothing (raft-rs calls this `ping`). For a driver that learns a peer is
   * back: the heartbeat tells a restarted follower who leads, and its answer tells the leader how far the follower's
   * log reaches, a heartbeat interval sooner.
   */
  ping(): void {
    this.raft.step(blank(MessageType.MsgBeat, 0));
  }

  /** Starts an election now (with a pre-vote round if configured). */
  campaign(): void {
    this.raft.step(blank(MessageType.MsgHup, 0));
  }

  /** Proposes `data` for the log. Throws RaftError('ProposalDropped') if it was not accepted. */
  propose(data: Uint8Array): void {
    const m = blank(MessageType.MsgProp, this.raft.id);
    // Like etcd's RawNode, the proposal sets only its data: its type is EntryNormal by default and not encoded.
    m.entries = [{ term: 0, index: 0, type: EntryType.EntryNormal, data, typeUnset: true }];
    this.raft.step(m);
  }

  /** Proposes a configuration change. Like any proposal it can be dropped, with or without an error. */
  proposeConfChange(cc: ConfChange | ConfChangeV2): void {
    this.raft.step(confChangeToMsg(cc));
  }

  /**
   * Applies a configuration change that has committed; the application calls this when it applies the entry
   * (unless it decides to reject the change). Returns the ConfState to record in snapshots.
   */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    return this.raft.applyConfChange(confChangeAsV2(cc));
  }

  /**
   * Steps a message received from a peer (or, with asyncStorageWrites, a response from a local storage thread).
   * Throws RaftError('StepLocalMsg') for a local-only message type from elsewhere, and
   * RaftError('StepPeerNotFound') for a response from a node not in the configuration.
   */
  step(m: Message): void {
    if (isLocalMessage(m.type) && !isLocalMsgTarget(m.from)) {
      throw new RaftError('StepLocalMsg');
    }
    if (isResponseMessage(m.type) && !isLocalMsgTarget(m.from) && !this.raft.trk.progress.has(m.from)) {
      throw new RaftError('StepPeerNotFound');
    }
    this.raft.step(m);
  }

  /** The outstanding work, which the application must handle and then acknowledge with advance(). */
  ready(): Ready {
    const rd = this.readyWithoutAccept();
    this.acceptReady(rd);
    return rd;
  }

  /** Whether the leader or role changed since the last accepted Ready; compared field by field, allocating nothing. */
  private softStateChanged(): boolean {
    return this.raft.lead !== this.prevSoftSt.lead || this.raft.state !== this.prevSoftSt.raftState;
  }

  /** Builds a Ready without committing to handle it; the node's state is not changed. */
  private readyWithoutAccept(): Ready {
    const r = this.raft;
    const allowUnstable = !this.asyncStorageWrites;
    const hardSt = r.hardState();
    const entries = r.raftLog.nextUnstableEnts();
    const rd: Ready = {
      softState: this.softStateChanged() ? r.softState() : null,
      hardState: hardStateEqual(hardSt, this.prevHardSt) ? noHardState : hardSt,
      readStates: r.readStates,
      entries,
      snapshot: r.raftLog.nextUnstableSnapshot() ?? noSnapshot,
      committedEntries: r.raftLog.nextCommittedEnts(allowUnstable),
      messages: r.msgs,
      mustSync: mustSync(hardSt, this.prevHardSt, entries.length),
    };
    if (this.asyncStorageWrites) {
      if (this.needStorageAppendMsg(rd)) {
        rd.messages = rd.messages.concat([this.newStorageAppendMsg(rd)]);
      }
      if (rd.committedEntries.length > 0) {
        rd.messages = rd.messages.concat([this.newStorageApplyMsg(rd.committedEntries)]);
      }
    } else {
      // The classic contract sends messages only after the Ready's writes, so responses that wait for
      // durability can go out with it; the ones addressed to this node are stepped on advance().
      const after = r.msgsAfterAppend;
      for (let i = 0; i < after.length; i++) {
        if (after[i].to !== r.id) {
          if (rd.messages === r.msgs) {
            rd.messages = r.msgs.slice();
          }
          rd.messages.push(after[i]);
        }
      }
    }
    return rd;
  }

  private needStorageAppendMsg(rd: Ready): boolean {
    return (
      rd.entries.length > 0 ||
      !isEmptyHardState(rd.hardState) ||
      !isEmptySnapshot(rd.snapshot) ||
      this.raft.msgsAfterAppend.length > 0
    );
  }

  /** Whether the core must hear that unstable entries became durable or that a snapshot was applied. */
  private needStorageAppendRespMsg(rd: Ready): boolean {
    return this.raft.raftLog.hasNextOrInProgressUnstableEnts() || !isEmptySnapshot(rd.snapshot);
  }

  /**
   * The request to the append thread: persist the Ready's entries, HardState and snapshot, then deliver the
   * responses. The self-addressed MsgStorageAppendResp comes last, after the leader's own MsgAppResp, so that
   * the acknowledgement is handled while the entries are still in the unstable log.
   */
  private newStorageAppendMsg(rd: Ready): Message {
    const r = this.raft;
    const m = blank(MessageType.MsgStorageAppend, r.id);
    m.to = LocalAppendThread;
    m.entries = rd.entries;
    if (!isEmptyHardState(rd.hardState)) {
      m.term = rd.hardState.term;
      m.vote = rd.hardState.vote;
      m.commit = rd.hardState.commit;
    }
    if (!isEmptySnapshot(rd.snapshot)) {
      m.snapshot = rd.snapshot;
    }
    m.responses = r.msgsAfterAppend.slice();
    if (this.needStorageAppendRespMsg(rd)) {
      m.responses.push(this.newStorageAppendRespMsg(rd));
    }
    return m;
  }

  /**
   * The response the append thread delivers once everything handed out so far is durable. It carries the current
   * term and the last log position: if the term changed meanwhile, a later leader may have overwritten those
   * entries in the unstable log, and the response must not mark the newer ones stable (the ABA race of etcd's
   * async_storage_writes_append_aba_race scenario). The position is attached even without new entries, so that
   * a dropped earlier response cannot leave entries unstable forever.
   */
  private newStorageAppendRespMsg(rd: Ready): Message {
    const r = this.raft;
    const m = blank(MessageType.MsgStorageAppendResp, LocalAppendThread);
    m.to = r.id;
    m.term = r.term;
    if (r.raftLog.hasNextOrInProgressUnstableEnts()) {
      m.index = r.raftLog.lastIndex();
      m.logTerm = r.raftLog.lastTerm();
    }
    if (!isEmptySnapshot(rd.snapshot)) {
      m.snapshot = rd.snapshot;
    }
    return m;
  }

  /** The request to the apply thread: apply these committed entries, then report back. */
  private newStorageApplyMsg(ents: Entry[]): Message {
    const m = blank(MessageType.MsgStorageApply, this.raft.id);
    m.to = LocalApplyThread;
    m.entries = ents;
    m.responses = [this.newStorageApplyRespMsg(ents)];
    return m;
  }

  private newStorageApplyRespMsg(ents: Entry[]): Message {
    const m = blank(MessageType.MsgStorageApplyResp, LocalApplyThread);
    m.to = this.raft.id;
    m.entries = ents;
    return m;
  }

  /** Records that the application took `rd`: its contents are not handed out again. */
  private acceptReady(rd: Ready): void {
    const r = this.raft;
    if (rd.softState !== null) {
      this.prevSoftSt = rd.softState;
    }
    if (!isEmptyHardState(rd.hardState)) {
      this.prevHardSt = rd.hardState;
    }
    if (rd.readStates.length !== 0) {
      r.readStates = [];
    }
    if (!this.asyncStorageWrites) {
      if (this.stepsOnAdvance.length !== 0) {
        r.logger.panic('two accepted Ready structs without call to Advance');
      }
      const after = r.msgsAfterAppend;
      for (let i = 0; i < after.length; i++) {
        if (after[i].to === r.id) {
          this.stepsOnAdvance.push(after[i]);
        }
      }
      if (this.needStorageAppendRespMsg(rd)) {
        this.stepsOnAdvance.push(this.newStorageAppendRespMsg(rd));
      }
      if (rd.committedEntries.length > 0) {
        this.stepsOnAdvance.push(this.newStorageApplyRespMsg(rd.committedEntries));
      }
    }
    r.msgs = [];
    // Performance: this list is only ever copied, never handed out, so an empty one can stay.
    if (r.msgsAfterAppend.length !== 0) r.msgsAfterAppend = [];
    r.raftLog.acceptUnstable();
    if (rd.committedEntries.length > 0) {
      const ents = rd.committedEntries;
      r.raftLog.acceptApplying(ents[ents.length - 1].index, entsSize(ents), !this.asyncStorageWrites);
    }
  }

  /** Whether ready() would return any work. */
  hasReady(): boolean {
    const r = this.raft;
    if (this.softStateChanged()) {
      return true;
    }
    const prev = this.prevHardSt;
    const commit = r.raftLog.committed;
    const hardStateEmpty = r.term === 0 && r.vote === None && commit === 0;
    if (!hardStateEmpty && (r.term !== prev.term || r.vote !== prev.vote || commit !== prev.commit)) {
      return true;
    }
    if (r.raftLog.hasNextUnstableSnapshot()) {
      return true;
    }
    if (r.msgs.length > 0 || r.msgsAfterAppend.length > 0) {
      return true;
    }
    if (r.raftLog.hasNextUnstableEnts() || r.raftLog.hasNextCommittedEnts(!this.asyncStorageWrites)) {
      return true;
    }
    return r.readStates.length !== 0;
  }

  /**
   * Tells the node the last Ready was handled: its state is durable and its committed entries applied. Steps
   * the acknowledgements that Ready implied (the leader's own MsgAppResp, its vote, the storage responses).
   * Must not be called with asyncStorageWrites.
   */
  advance(): void {
    if (this.asyncStorageWrites) {
      this.raft.logger.panic('Advance must not be called when using AsyncStorageWrites');
    }
    const steps = this.stepsOnAdvance;
    // Performance: with nothing to step, the empty list stays rather than being replaced by a new one.
    if (steps.length === 0) return;
    this.stepsOnAdvance = [];
    for (const m of steps) {
      try {
        this.raft.step(m);
      } catch (e) {
        if (!(e instanceof RaftError)) {
          throw e;
        }
      }
    }
  }

  /** A copy of the node's status, including every peer's progress on a leader. */
  status(): Status {
    return getStatus(this.raft);
  }

  /** The scalar part of the status, without copying progress. */
  basicStatus(): BasicStatus {
    return getBasicStatus(this.raft);
  }

  /** Calls `visitor` with each peer's progress in ID order; the records must not be modified. */
  withProgress(visitor: (id: NodeId, type: ProgressType, pr: Progress) => void): void {
    const trk = this.raft.trk;
    for (const id of [...trk.progress.keys()].sort((a, b) => a - b)) {
      const pr = trk.progress.get(id);
      if (pr !== undefined) {
        visitor(id, pr.isLearner ? ProgressType.ProgressTypeLearner : ProgressType.ProgressTypePeer, pr);
      }
    }
  }

  /** Reports that the last message to `id` could not be delivered; the leader stops streaming to it. */
  reportUnreachable(id: NodeId): void {
    this.stepIgnoringErrors(blank(MessageType.MsgUnreachable, id));
  }

  /** Reports how sending a snapshot to `id` ended; a failure makes the leader probe again. */
  reportSnapshot(id: NodeId, status: SnapshotStatus): void {
    const m = blank(MessageType.MsgSnapStatus, id);
    m.reject = status === SnapshotStatus.SnapshotFailure;
    this.stepIgnoringErrors(m);
  }

  /** Asks the leader to hand leadership to `transferee` (thesis §3.10). */
  transferLeader(transferee: NodeId): void {
    this.stepIgnoringErrors(blank(MessageType.MsgTransferLeader, transferee));
  }

  /**
   * Makes a follower forget its leader without campaigning, so that (with PreVote and CheckQuorum) it grants
   * pre-votes at once; useful when the application knows the leader is gone.
   */
  forgetLeader(): void {
    this.raft.step(blank(MessageType.MsgForgetLeader, 0));
  }

  /**
   * Requests a linearizable read (§8). A ReadState with the same `rctx` appears in a later Ready; the read may be
   * served once the application has applied up to its index. The request may be lost; retry on timeout.
   */
  readIndex(rctx: Uint8Array): void {
    const m = blank(MessageType.MsgReadIndex, 0);
    m.entries = [{ term: 0, index: 0, type: EntryType.EntryNormal, data: rctx, typeUnset: true }];
    this.stepIgnoringErrors(m);
  }

  /**
   * Initializes a new node's empty Storage with a configuration of `peers`, as entries 1..n of term 1. Throws
   * RaftError('BootstrapInvalid') without peers or on a non-empty Storage.
   */
  bootstrap(peers: Peer[]): void {
    bootstrapStorage(this, peers);
  }

  private stepIgnoringErrors(m: Message): void {
    try {
      this.raft.step(m);
    } catch (e) {
      if (!(e instanceof RaftError)) {
        throw e;
      }
    }
  }
}

function blank(type: MessageType, from: NodeId): Message {
  return {
    type,
    to: 0,
    from,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    vote: 0,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: emptyBytes,
    responses: [],
  };
}
