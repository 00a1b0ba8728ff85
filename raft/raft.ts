// # The Raft state machine
//
// One `Raft` is one server of Figure 2: it holds the persistent state (term, vote, log: rule S1), the volatile
// state (commit index, applied index: S2) and, while it leads, the per-follower progress (S3). It never does I/O:
// `step` takes a message, `tick` advances logical time, and everything the server wants done (messages to send,
// entries to persist, entries to apply) accumulates in fields that RawNode hands to the application as a Ready.
//
// Reading order: `step` (the gate every message passes: term checks, then what all roles share), then the
// role handlers `stepLeader`, `stepCandidate`, `stepFollower`, then the helpers they use.

import { Changer, ConfChangeError } from './confchange/confchange';
import { restore as restoreConfState } from './confchange/restore';
import { decodeConfChange, decodeConfChangeV2 } from './codec';
import { Config, validateConfig } from './config';
import { confChangeAsV2, confChangeEnterJoint, confChangeLeaveJoint, confChangeToMsg } from './confchange/convert';
import { RaftError, errProposalDropped } from './errors';
import { RaftLog, newLog } from './log';
import { Logger } from './logger';
import { VoteResult } from './quorum/quorum';
import { describeConfChange, describeConfStateText } from './describe';
import { Rand } from './rand';
import { ReadOnly, ReadOnlyOption } from './read_only';
import { StorageError } from './storage';
import { assertConfStatesEquivalent, entsSize, payloadsSize } from './util';
import { Config as TrackerConfig, ProgressTracker } from './tracker/tracker';
import { Inflights } from './tracker/inflights';
import { ProgressMap, Progress } from './tracker/progress';
import { StateType as ProgressStateType } from './tracker/state';
import {
  ConfChange,
  ConfChangeV2,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  None,
  NodeId,
  ReadState,
  Snapshot,
  SoftState,
  StateType,
  isEmptyHardState,
  isEmptySnapshot,
  voteResponseType,
} from './types';

/** Why a node campaigns; carried in a vote request's context only for a leadership transfer. */
export type CampaignType = 'CampaignPreElection' | 'CampaignElection' | 'CampaignTransfer';

const campaignTransferContext = new TextEncoder().encode('CampaignTransfer');
const emptyBytes = new Uint8Array(0);

/** Node IDs print in hexadecimal in etcd's log lines; keep the same text. */
function hex(id: NodeId): string {
  return id.toString(16);
}

/** A message with every field at its zero value; the hot path fills in the rest by assignment. */
function blankMessage(type: MessageType, to: NodeId): Message {
  return {
    type,
    to,
    from: None,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    vote: None,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: emptyBytes,
    responses: [],
  };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    return false;
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      return false;
    }
  }
  return true;
}

/** The Raft state machine of one node. Fields are public so tests and the scenario harness can inspect them. */
export class Raft {
  readonly id: NodeId;

  // S1 (§5.1, Figure 2): term and vote are persistent; RawNode hands changes to them out as HardState.
  /** Invariant: never decreases. */
  term = 0;
  /** Whom this node voted for in `term`, or None. Invariant: a candidate or leader voted for itself. */
  vote: NodeId = None;

  readStates: ReadState[] = [];

  /** The log (S1) and the commit and applied indexes (S2). */
  raftLog: RaftLog;

  maxMsgSize: number;
  maxUncommittedSize: number;
  /** The configuration and, on a leader, each peer's progress (S3). */
  trk: ProgressTracker;

  state: StateType = StateType.StateFollower;
  /** Whether this node is a learner in the active configuration; learners never campaign. */
  isLearner = false;

  /** Messages to send right away. Invariant: none is addressed to this node. */
  msgs: Message[] = [];
  /**
   * Messages to send only once everything appended so far is durable (S1: persist before answering): votes and
   * append acknowledgements, including the leader's acknowledgement of its own entries.
   */
  msgsAfterAppend: Message[] = [];

  /** The leader of `term`, if known. */
  lead: NodeId = None;
  /** The target of a leadership transfer in progress (thesis §3.10), or None. Invariant: None unless leader. */
  leadTransferee: NodeId = None;
  /**
   * At least the index of the latest configuration change that may not be applied yet. Only one change may be
   * pending at a time (§6 as etcd implements it), so a new one is accepted only once applied >= this.
   */
  pendingConfIndex = 0;
  disableConfChangeValidation: boolean;
  /** An estimate of the bytes in the leader's uncommitted tail; never an overestimate. Reset on term changes. */
  uncommittedSize = 0;

  readOnly: ReadOnly;

  /** Ticks since the last election timeout (leader, candidate) or since hearing from the leader (follower). */
  electionElapsed = 0;
  /** Ticks since the last heartbeat; used by the leader only. */
  heartbeatElapsed = 0;

  checkQuorum: boolean;
  preVote: boolean;

  heartbeatTimeout: number;
  electionTimeout: number;
  /** §5.2: a random timeout in [electionTimeout, 2*electionTimeout), redrawn on each role change. */
  randomizedElectionTimeout = 0;
  disableProposalForwarding: boolean;
  stepDownOnRemoval: boolean;

  logger: Logger;
  rand: Rand;

  private ids: NodeId[] = [];
  private idsFor: ProgressMap | null = null;

  /** Reads received before this leader committed an entry of its term; answered once it has (§8). */
  pendingReadIndexMessages: Message[] = [];

  constructor(config: Config) {
    const c = validateConfig(config);
    this.id = c.id;
    this.logger = c.logger;
    this.rand = c.rand;
    this.raftLog = newLog(c.storage, c.logger, c.maxCommittedSizePerReady);
    const { hardState, confState } = c.storage.initialState();
    this.maxMsgSize = c.maxSizePerMsg;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize;
    this.trk = new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes);
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.readOnly = new ReadOnly(c.readOnlyOption);
    this.disableProposalForwarding = c.disableProposalForwarding;
    this.disableConfChangeValidation = c.disableConfChangeValidation;
    this.stepDownOnRemoval = c.stepDownOnRemoval;

    const restored = this.restoreConfig(confState);
    assertConfStatesEquivalent(this.logger, confState, this.switchToConfig(restored[0], restored[1]));

    if (!isEmptyHardState(hardState)) {
      this.loadState(hardState);
    }
    if (c.applied > 0) {
      this.raftLog.appliedTo(c.applied, 0);
    }
    this.becomeFollower(this.term, None);

    const peers = this.trk.voterNodes().map(hex).join(',');
    this.logger.info(
      `newRaft ${hex(this.id)} [peers: [${peers}], term: ${this.term}, commit: ${this.raftLog.committed}, ` +
        `applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  /**
   * The IDs of all tracked peers in ascending order: etcd visits peers in ID order, and the order of the
   * messages sent must match. Cached per progress map, since the leader's hot path broadcasts on every proposal.
   */
  progressIds(): NodeId[] {
    const prs = this.trk.progress;
    if (this.idsFor !== prs || this.ids.length !== prs.size) {
      this.ids = Array.from(prs.keys()).sort((a, b) => a - b);
      this.idsFor = prs;
    }
    return this.ids;
  }

  hasLeader(): boolean {
    return this.lead !== None;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /**
   * Queues `m` for sending. Responses that vote (MsgVoteResp, MsgPreVoteResp) or acknowledge entries (MsgAppResp)
   * wait in `msgsAfterAppend` until the state they vouch for is durable: S1 (§5.1) and thesis §3.8.
   */
  send(m: Message): void {
    if (m.from === None) {
      m.from = this.id;
    }
    const t = m.type;
    if (
      t === MessageType.MsgVote ||
      t === MessageType.MsgVoteResp ||
      t === MessageType.MsgPreVote ||
      t === MessageType.MsgPreVoteResp
    ) {
      // Campaign messages carry the term they are about, which for a pre-vote is not the sender's own.
      if (m.term === 0) {
        this.logger.panic(`term should be set when sending ${MessageType[t]}`);
      }
    } else {
      if (m.term !== 0) {
        this.logger.panic(`term should not be set when sending ${MessageType[t]} (was ${m.term})`);
      }
      // Proposals and read requests forwarded to the leader act as local requests there: they carry no term.
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) {
        m.term = this.term;
      }
    }
    if (t === MessageType.MsgAppResp || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVoteResp) {
      this.msgsAfterAppend.push(m);
    } else {
      if (m.to === this.id) {
        this.logger.panic(`message should not be self-addressed when sending ${MessageType[t]}`);
      }
      this.msgs.push(m);
    }
  }

  /** L3 (§5.3): sends `to` the entries from its next index, with the commit index; a snapshot if compacted. */
  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends `to` a MsgApp unless its flow is paused; returns whether a message went out. With `sendIfEmpty` false,
   * a message without entries is not worth sending (the caller is batching and a heartbeat carries the commit).
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) {
      return false;
    }
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    try {
      prevTerm = this.raftLog.term(prevIndex);
    } catch (e) {
      if (!(e instanceof StorageError)) {
        throw e;
      }
      // §7: the entry before next is compacted, so the follower can only catch up from a snapshot.
      return this.maybeSendSnapshot(to, pr);
    }
    let ents: Entry[] = [];
    // A saturated replicating flow sends empty appends only: they still get acked or rejected, which frees the
    // in-flight window even if every earlier MsgApp was lost.
    if (pr.state !== ProgressStateType.StateReplicate || !pr.inflights.full()) {
      try {
        ents = this.raftLog.entries(pr.next, this.maxMsgSize);
      } catch (e) {
        if (!(e instanceof StorageError)) {
          throw e;
        }
        return this.maybeSendSnapshot(to, pr);
      }
    }
    if (ents.length === 0 && !sendIfEmpty) {
      return false;
    }
    const m = blankMessage(MessageType.MsgApp, to);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = ents;
    m.commit = this.raftLog.committed;
    this.send(m);
    pr.sentEntries(ents.length, payloadsSize(ents));
    pr.sentCommit(this.raftLog.committed);
    return true;
  }

  /** §7, Figure 13: sends the latest snapshot to `to`, pausing appends until it is applied or fails. */
  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.debug(`ignore sending snapshot to ${hex(to)} since it is not recently active`);
      return false;
    }
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (e) {
      if (e instanceof StorageError && e.code === 'SnapshotTemporarilyUnavailable') {
        this.logger.debug(
          `${hex(this.id)} failed to send snapshot to ${hex(to)} because snapshot is temporarily unavailable`,
        );
        return false;
      }
      throw e;
    }
    if (isEmptySnapshot(snapshot)) {
      this.logger.panic('need non-empty snapshot');
    }
    const sindex = snapshot.metadata.index;
    const sterm = snapshot.metadata.term;
    this.logger.debug(
      `${hex(this.id)} [firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] ` +
        `sent snapshot[index: ${sindex}, term: ${sterm}] to ${hex(to)} [${pr.toString()}]`,
    );
    pr.becomeSnapshot(sindex);
    this.logger.debug(`${hex(this.id)} paused sending replication messages to ${hex(to)} [${pr.toString()}]`);
    const m = blankMessage(MessageType.MsgSnap, to);
    m.snapshot = snapshot;
    this.send(m);
    return true;
  }

  /**
   * L1 (§5.2): a heartbeat asserts leadership and carries the commit index, capped at what the follower is known
   * to hold: a follower must never commit past the point where its log is known to match the leader's.
   */
  sendHeartbeat(to: NodeId, ctx: Uint8Array): void {
    const pr = this.trk.progress.get(to);
    if (pr === undefined) {
      return;
    }
    const commit = Math.min(pr.match, this.raftLog.committed);
    const m = blankMessage(MessageType.MsgHeartbeat, to);
    m.commit = commit;
    m.context = ctx;
    this.send(m);
    pr.sentCommit(commit);
  }

  /** L3: sends appends to every peer that is behind, in ID order. */
  bcastAppend(): void {
    const ids = this.progressIds();
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] !== this.id) {
        this.sendAppend(ids[i]);
      }
    }
  }

  /** L1: heartbeats to all peers, carrying the newest pending read's context so one round confirms every read. */
  bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingRequestCtx();
    this.bcastHeartbeatWithCtx(ctx ?? emptyBytes);
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array): void {
    const ids = this.progressIds();
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] !== this.id) {
        this.sendHeartbeat(ids[i], ctx);
      }
    }
  }

  /**
   * A1 (§5.3): the application applied entries up to `index`. A leader whose joint configuration is meant to be
   * left automatically proposes leaving it as soon as the entry that entered it is applied (thesis §4.3).
   */
  appliedTo(index: number, size: number): void {
    const newApplied = Math.max(index, this.raftLog.applied);
    this.raftLog.appliedTo(newApplied, size);
    if (this.trk.config.autoLeave && newApplied >= this.pendingConfIndex && this.state === StateType.StateLeader) {
      // An empty change has zero payload, so the uncommitted-size limit cannot refuse it; only a leadership
      // transfer can, and then the next applied entry tries again.
      const m = confChangeToMsg(null);
      try {
        this.step(m);
        this.logger.info(`initiating automatic transition out of joint configuration ${this.trk.config.toString()}`);
      } catch (e) {
        if (!(e instanceof RaftError)) {
          throw e;
        }
        this.logger.debug(
          `not initiating automatic transition out of joint configuration ${this.trk.config.toString()}: ${e.message}`,
        );
      }
    }
  }

  appliedSnap(snap: Snapshot): void {
    const index = snap.metadata.index;
    this.raftLog.stableSnapTo(index);
    this.appliedTo(index, 0);
  }

  /**
   * L4 (§5.3, §5.4.2): commit the highest index a quorum has matched, but only if that entry is from the current
   * term; older entries then commit indirectly (Figure 8). Returns whether the commit index moved.
   */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit({ term: this.term, index: this.trk.committed() });
  }

  /** Everything a role change resets. A new term clears the vote (S1: one vote per term). */
  reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = None;
    }
    this.lead = None;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    // S3: next index = leader's last index + 1, match index = 0; this node trivially matches itself.
    const lastIndex = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      this.trk.progress.set(
        id,
        new Progress({
          match: id === this.id ? lastIndex : 0,
          next: lastIndex + 1,
          inflights: new Inflights(this.trk.maxInflight, this.trk.maxInflightBytes),
          isLearner: pr.isLearner,
        }),
      );
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.readOnly.option);
  }

  /**
   * L2 (§5.3): a leader appends client commands to its own log first. Returns false if the uncommitted-size
   * limit refuses them.
   */
  appendEntry(proposed: readonly Entry[]): boolean {
    let li = this.raftLog.lastIndex();
    // The log keeps its own entry objects: the proposal's belong to the caller (and a message may be delivered
    // twice), and entries in the log are shared with messages and never change once appended.
    const es: Entry[] = new Array<Entry>(proposed.length);
    for (let i = 0; i < proposed.length; i++) {
      const p = proposed[i];
      const index = li + 1 + i;
      // A proposal that never set its type keeps it unset: the entry's encoded size (etcd's, too) depends on it.
      // Performance: each shape is built whole; adding `typeUnset` afterwards would move it out of the object.
      es[i] =
        p.typeUnset === true
          ? { term: this.term, index, type: p.type, data: p.data, typeUnset: true }
          : { term: this.term, index, type: p.type, data: p.data };
    }
    if (!this.increaseUncommittedSize(es)) {
      this.logger.warning(
        `${hex(this.id)} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`,
      );
      return false;
    }
    li = this.raftLog.append(es);
    // The leader sends itself no MsgApp; it acknowledges its own entries once they are durable, through the same
    // MsgAppResp path as followers, so that its vote in the commit quorum also waits for persistence (S1).
    const m = blankMessage(MessageType.MsgAppResp, this.id);
    m.index = li;
    this.send(m);
    return true;
  }

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.state === StateType.StateLeader) {
      this.tickHeartbeat();
    } else {
      this.tickElection();
    }
  }

  /** F2, C4 (§5.2): a follower or candidate that hears nothing for its randomized timeout starts an election. */
  tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.stepQuietly(blankMessageFrom(MessageType.MsgHup, this.id), 'error occurred during election');
    }
  }

  /** L1: the leader's clock: heartbeats every heartbeatTimeout, CheckQuorum and transfer timeout every election. */
  tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        this.stepQuietly(
          blankMessageFrom(MessageType.MsgCheckQuorum, this.id),
          'error occurred during checking sending heartbeat',
        );
      }
      // Thesis §3.10: a transfer that does not finish within an election timeout is abandoned.
      if (this.state === StateType.StateLeader && this.leadTransferee !== None) {
        this.abortLeaderTransfer();
      }
    }
    if (this.state !== StateType.StateLeader) {
      return;
    }
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.stepQuietly(
        blankMessageFrom(MessageType.MsgBeat, this.id),
        'error occurred during checking sending heartbeat',
      );
    }
  }

  private stepQuietly(m: Message, what: string): void {
    try {
      this.step(m);
    } catch (e) {
      if (!(e instanceof RaftError)) {
        throw e;
      }
      this.logger.debug(`${what}: ${e.message}`);
    }
  }

  /** A2, C3 (§5.1, §5.2): the role every node starts in and returns to on seeing a newer term. */
  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.StateFollower;
    this.logger.info(`${hex(this.id)} became follower at term ${this.term}`);
  }

  /** C1 (§5.2): a new term, a vote for itself, a fresh timer. */
  becomeCandidate(): void {
    if (this.state === StateType.StateLeader) {
      this.logger.panic('invalid transition [leader -> candidate]');
    }
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.StateCandidate;
    this.logger.info(`${hex(this.id)} became candidate at term ${this.term}`);
  }

  /**
   * Thesis §9.6: a pre-candidate asks whether it could win before disturbing anyone; its term and vote stay as
   * they are, so a partitioned node rejoining cannot force the cluster into a new term.
   */
  becomePreCandidate(): void {
    if (this.state === StateType.StateLeader) {
      this.logger.panic('invalid transition [leader -> pre-candidate]');
    }
    this.trk.resetVotes();
    this.lead = None;
    this.state = StateType.StatePreCandidate;
    this.logger.info(`${hex(this.id)} became pre-candidate at term ${this.term}`);
  }

  /** C2 (§5.2): a candidate with a quorum of votes leads; it starts its term with an empty entry (§8). */
  becomeLeader(): void {
    if (this.state === StateType.StateFollower) {
      this.logger.panic('invalid transition [follower -> leader]');
    }
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.StateLeader;
    // The leader trivially replicates to itself, and is active by definition (CheckQuorum keeps it so).
    const pr = this.trk.progress.get(this.id);
    if (pr !== undefined) {
      pr.becomeReplicate();
      pr.recentActive = true;
    }
    // Any configuration change in the uncommitted tail might still be pending; scanning for one could be costly,
    // so conservatively treat the whole tail as pending.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // §8: the empty entry lets the new leader commit an entry of its own term, which also commits everything
    // before it (L4) and tells the leader its commit index is current. Its zero payload never hits the size limit.
    // etcd sets neither its type nor its data, so it encodes as term and index alone.
    if (!this.appendEntry([{ term: 0, index: 0, type: EntryType.EntryNormal, data: emptyBytes, typeUnset: true }])) {
      this.logger.panic('empty entry was dropped');
    }
    this.logger.info(`${hex(this.id)} became leader at term ${this.term}`);
  }

  /** Starts an election if this node may: not a leader already, a voter, and with no configuration to apply. */
  hup(t: CampaignType): void {
    if (this.state === StateType.StateLeader) {
      this.logger.debug(`${hex(this.id)} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warning(`${hex(this.id)} is unpromotable and can not campaign`);
      return;
    }
    // A committed but unapplied configuration change might remove this node or change the quorum; campaigning
    // under the old configuration could elect a leader the new one would not.
    if (this.hasUnappliedConfChanges()) {
      this.logger.warning(
        `${hex(this.id)} cannot campaign at term ${this.term} since there are still pending configuration changes to apply`,
      );
      return;
    }
    this.logger.info(`${hex(this.id)} is starting a new election at term ${this.term}`);
    this.campaign(t);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) {
      return false;
    }
    let found = false;
    const lo = this.raftLog.applied + 1;
    const hi = this.raftLog.committed + 1;
    try {
      this.raftLog.scan(lo, hi, this.raftLog.maxApplyingEntsSize, (ents: Entry[]) => {
        for (const e of ents) {
          if (e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2) {
            found = true;
            return false;
          }
        }
        return true;
      });
    } catch (err) {
      // Committed but unapplied entries must still be readable: the application may compact only what it has
      // applied. If they are gone, the node cannot tell whether it may campaign, and etcd stops here.
      if (err instanceof StorageError) {
        this.logger.panic(`error scanning unapplied entries [${lo}, ${hi}): ${err.message}`);
      }
      throw err;
    }
    return found;
  }

  /**
   * C1 (§5.2): asks every voter for its vote. The node's own vote is delivered back to it as a response once
   * persisted, so it counts only after S1 holds.
   */
  campaign(t: CampaignType): void {
    if (!this.promotable()) {
      this.logger.warning(`${hex(this.id)} is unpromotable; campaign() should have been called`);
    }
    let term: number;
    let voteMsg: MessageType;
    if (t === 'CampaignPreElection') {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // A pre-vote asks about the term the node would campaign in, without having moved to it.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.trk.voterNodes()) {
      if (id === this.id) {
        const self = blankMessage(voteResponseType(voteMsg), id);
        self.term = term;
        this.send(self);
        continue;
      }
      this.logger.info(
        `${hex(this.id)} [logterm: ${lastTerm}, index: ${lastIndex}] sent ${MessageType[voteMsg]} request to ${hex(id)} at term ${this.term}`,
      );
      const m = blankMessage(voteMsg, id);
      m.term = term;
      m.index = lastIndex;
      m.logTerm = lastTerm;
      if (t === 'CampaignTransfer') {
        m.context = campaignTransferContext;
      }
      this.send(m);
    }
  }

  /** Records a vote and tallies the election (C2). */
  poll(id: NodeId, t: MessageType, v: boolean): { granted: number; rejected: number; result: VoteResult } {
    if (v) {
      this.logger.info(`${hex(this.id)} received ${MessageType[t]} from ${hex(id)} at term ${this.term}`);
    } else {
      this.logger.info(`${hex(this.id)} received ${MessageType[t]} rejection from ${hex(id)} at term ${this.term}`);
    }
    this.trk.recordVote(id, v);
    return this.trk.tallyVotes();
  }

  /**
   * The entry point for every message. Term checks come first because they are the same for all roles (A2, RV1,
   * AE1); then vote requests, which every role answers alike (RV2); then the role's own handler.
   * Throws RaftError('ProposalDropped') when a proposal cannot be appended.
   */
  step(m: Message): void {
    if (m.term === 0) {
      // A local message: no term to compare.
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = bytesEqual(m.context, campaignTransferContext);
        const inLease = this.checkQuorum && this.lead !== None && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // Thesis §4.2.3: a server that heard from a current leader within the minimum election timeout ignores
          // vote requests, neither adopting the term nor voting, so a removed or partitioned server cannot disrupt
          // a healthy leader. A leadership transfer is exempt: the leader itself asked for the election.
          this.logger.info(
            `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] ` +
              `ignored ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: ` +
              `lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return;
        }
      }
      if (m.type === MessageType.MsgPreVote) {
        // A pre-vote never changes the receiver's term: the sender has not moved to that term either.
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // A granted pre-vote carries the term the pre-candidate is about to campaign in; the term moves only if
        // the pre-election is won. A rejection carries the rejecter's term, which is adopted below.
      } else {
        // A2 (§5.1): a newer term makes this node a follower in it; from a leader's message, of that leader.
        this.logger.info(
          `${hex(this.id)} [term: ${this.term}] received a ${MessageType[m.type]} message with higher term from ${hex(m.from)} [term: ${m.term}]`,
        );
        if (m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap) {
          this.becomeFollower(m.term, m.from);
        } else {
          this.becomeFollower(m.term, None);
        }
      }
    } else if (m.term < this.term) {
      this.stepStaleTerm(m);
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? 'CampaignPreElection' : 'CampaignElection');
        break;
      case MessageType.MsgStorageAppendResp:
        if (m.index !== 0) {
          this.raftLog.stableTo({ term: m.logTerm, index: m.index });
        }
        if (m.snapshot !== null) {
          this.appliedSnap(m.snapshot);
        }
        break;
      case MessageType.MsgStorageApplyResp:
        if (m.entries.length > 0) {
          const index = m.entries[m.entries.length - 1].index;
          this.appliedTo(index, entsSize(m.entries));
          this.reduceUncommittedSize(payloadsSize(m.entries));
        }
        break;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote:
        this.handleVoteRequest(m);
        break;
      default:
        switch (this.state) {
          case StateType.StateLeader:
            this.stepLeader(m);
            break;
          case StateType.StateCandidate:
          case StateType.StatePreCandidate:
            this.stepCandidate(m);
            break;
          case StateType.StateFollower:
            this.stepFollower(m);
            break;
        }
    }
  }

  /** RV1, AE1 (§5.1): a message from an older term is refused, with a few answers that help the sender. */
  private stepStaleTerm(m: Message): void {
    if ((this.checkQuorum || this.preVote) && (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)) {
      // A stale leader's message. With CheckQuorum or PreVote this node may have moved to a higher term in a
      // partition without being able to win; since vote requests no longer raise terms then, answering tells the
      // stale leader our term so it steps down and the cluster can move on.
      this.send(blankMessage(MessageType.MsgAppResp, m.from));
    } else if (m.type === MessageType.MsgPreVote) {
      // A pre-candidate in an older term must hear a rejection, or a cluster upgraded to PreVote could deadlock
      // with nodes that raised their terms before.
      this.logger.info(
        `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] ` +
          `rejected ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
      );
      const resp = blankMessage(MessageType.MsgPreVoteResp, m.from);
      resp.term = this.term;
      resp.reject = true;
      this.send(resp);
    } else if (m.type === MessageType.MsgStorageAppendResp) {
      if (m.index !== 0) {
        // The entries may have been overwritten in the unstable log in a later term; treating them as stable
        // could drop the newer ones before they are written.
        this.logger.info(
          `${hex(this.id)} [term: ${this.term}] ignored entry appends from a ${MessageType[m.type]} message with lower term [term: ${m.term}]`,
        );
      }
      if (m.snapshot !== null) {
        // A snapshot is committed state, valid in any term.
        this.appliedSnap(m.snapshot);
      }
    } else {
      this.logger.info(
        `${hex(this.id)} [term: ${this.term}] ignored a ${MessageType[m.type]} message with lower term from ${hex(m.from)} [term: ${m.term}]`,
      );
    }
  }

  /** RV2 (§5.2, §5.4.1), and its pre-vote twin (thesis §9.6). */
  private handleVoteRequest(m: Message): void {
    // RV2: a vote may go to the candidate already voted for, or to anyone if this node has not voted and knows no
    // leader in this term; a pre-vote for a later term commits to nothing, so it may always be granted.
    const canVote =
      this.vote === m.from ||
      (this.vote === None && this.lead === None) ||
      (m.type === MessageType.MsgPreVote && m.term > this.term);
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    // §5.4.1: and only to a candidate whose log is at least as up to date, so that every leader holds every
    // committed entry (Leader Completeness).
    if (canVote && this.raftLog.isUpToDate({ term: m.logTerm, index: m.index })) {
      // Learners vote too: a learner may have been promoted by a committed change it has not yet seen, and the
      // candidate's asking is evidence of that.
      this.logger.info(
        `${hex(this.id)} [logterm: ${lastTerm}, index: ${lastIndex}, vote: ${hex(this.vote)}] cast ${MessageType[m.type]} ` +
          `for ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
      );
      // The response carries the request's term, not ours: for a pre-vote ours is older, and the pre-candidate
      // would discard a response from an older term.
      const resp = blankMessage(voteResponseType(m.type), m.from);
      resp.term = m.term;
      this.send(resp);
      if (m.type === MessageType.MsgVote) {
        // F2: granting a vote restarts the election timer. Pre-votes are not recorded.
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.logger.info(
        `${hex(this.id)} [logterm: ${lastTerm}, index: ${lastIndex}, vote: ${hex(this.vote)}] rejected ${MessageType[m.type]} ` +
          `from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
      );
      const resp = blankMessage(voteResponseType(m.type), m.from);
      resp.term = this.term;
      resp.reject = true;
      this.send(resp);
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.MsgBeat:
        this.bcastHeartbeat();
        return;
      case MessageType.MsgCheckQuorum:
        // Thesis §6.2: a leader that has not heard from a quorum in an election timeout may have been replaced;
        // it steps down so clients look for the new leader.
        if (!this.trk.quorumActive()) {
          this.logger.warning(`${hex(this.id)} stepped down to follower since quorum is not active`);
          this.becomeFollower(this.term, None);
        }
        // Everyone but the leader must prove activity again before the next check.
        for (const id of this.progressIds()) {
          const pr = this.trk.progress.get(id);
          if (id !== this.id && pr !== undefined) {
            pr.recentActive = false;
          }
        }
        return;
      case MessageType.MsgProp:
        this.stepLeaderProp(m);
        return;
      case MessageType.MsgReadIndex:
        this.stepLeaderReadIndex(m);
        return;
      case MessageType.MsgForgetLeader:
        return;
    }

    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) {
      this.logger.debug(`${hex(this.id)} no progress available for ${hex(m.from)}`);
      return;
    }
    switch (m.type) {
      case MessageType.MsgAppResp:
        this.handleAppendResponse(m, pr);
        break;
      case MessageType.MsgHeartbeatResp:
        this.handleHeartbeatResponse(m, pr);
        break;
      case MessageType.MsgSnapStatus:
        if (pr.state !== ProgressStateType.StateSnapshot) {
          return;
        }
        if (!m.reject) {
          pr.becomeProbe();
          this.logger.debug(
            `${hex(this.id)} snapshot succeeded, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`,
          );
        } else {
          // Forget the snapshot before probing, or probing would start after a snapshot that never applied.
          pr.pendingSnapshot = 0;
          pr.becomeProbe();
          this.logger.debug(
            `${hex(this.id)} snapshot failed, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`,
          );
        }
        // After a success, wait for the follower's MsgAppResp before the next MsgApp; after a failure, wait a
        // heartbeat interval before trying again.
        pr.msgAppFlowPaused = true;
        break;
      case MessageType.MsgUnreachable:
        // An optimistic stream to an unreachable peer has probably lost a MsgApp: go back to probing.
        if (pr.state === ProgressStateType.StateReplicate) {
          pr.becomeProbe();
        }
        this.logger.debug(
          `${hex(this.id)} failed to send message to ${hex(m.from)} because it is unreachable [${pr.toString()}]`,
        );
        break;
      case MessageType.MsgTransferLeader:
        this.handleTransferLeader(m, pr);
        break;
    }
  }

  /** L2: append a client's command, after screening configuration changes. */
  private stepLeaderProp(m: Message): void {
    if (m.entries.length === 0) {
      this.logger.panic(`${hex(this.id)} stepped empty MsgProp`);
    }
    if (!this.trk.progress.has(this.id)) {
      // This leader was removed from the configuration and keeps leading only until it steps down.
      throw errProposalDropped;
    }
    if (this.leadTransferee !== None) {
      // Thesis §3.10: the old leader stops accepting commands so the transferee can catch up.
      this.logger.debug(
        `${hex(this.id)} [term ${this.term}] transfer leadership to ${hex(this.leadTransferee)} is in progress; dropping proposal`,
      );
      throw errProposalDropped;
    }
    let entries = m.entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      let cc: ConfChange | ConfChangeV2 | null = null;
      if (e.type === EntryType.EntryConfChange) {
        cc = decodeConfChange(e.data);
      } else if (e.type === EntryType.EntryConfChangeV2) {
        cc = decodeConfChangeV2(e.data);
      }
      if (cc === null) {
        continue;
      }
      // §6 as etcd implements it: one change at a time, and joint configurations are entered and left in turn.
      const alreadyPending = this.pendingConfIndex > this.raftLog.applied;
      const alreadyJoint = this.trk.config.voters.outgoing.size > 0;
      const wantsLeaveJoint = confChangeAsV2(cc).changes.length === 0;
      let failedCheck = '';
      if (alreadyPending) {
        failedCheck = `possible unapplied conf change at index ${this.pendingConfIndex} (applied to ${this.raftLog.applied})`;
      } else if (alreadyJoint && !wantsLeaveJoint) {
        failedCheck = 'must transition out of joint config first';
      } else if (!alreadyJoint && wantsLeaveJoint) {
        failedCheck = 'not in joint state; refusing empty conf change';
      }
      if (failedCheck !== '' && !this.disableConfChangeValidation) {
        this.logger.info(
          `${hex(this.id)} ignoring conf change ${describeConfChange(cc)} at config ${this.trk.config.toString()}: ${failedCheck}`,
        );
        // The slot stays, as an empty normal entry, so the proposal's other entries keep their positions. etcd
        // names its type (EntryNormal) explicitly, so unlike a plain proposal it encodes the type field.
        if (entries === m.entries) {
          entries = m.entries.slice();
        }
        entries[i] = { term: 0, index: 0, type: EntryType.EntryNormal, data: emptyBytes };
      } else {
        this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
      }
    }
    if (!this.appendEntry(entries)) {
      throw errProposalDropped;
    }
    this.bcastAppend();
  }

  /** §8: a read is served at the commit index once leadership is confirmed. */
  private stepLeaderReadIndex(m: Message): void {
    if (this.trk.isSingleton()) {
      // The only voter needs no one to confirm it leads.
      const resp = this.responseToReadIndexReq(m, this.raftLog.committed);
      if (resp !== null) {
        this.send(resp);
      }
      return;
    }
    // §8: until the leader commits an entry of its own term it does not know the latest commit index.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    this.sendMsgReadIndexResponse(m);
  }

  /** L3 (§5.3): on success advance match/next and maybe commit; on a mismatch back up and retry. */
  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      this.logger.debug(
        `${hex(this.id)} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${hex(m.from)} for index ${m.index}`,
      );
      // End of §5.3, "fast backup": the follower's hint is where its log may match. If it also sent its term
      // there, skip every index where our term is larger: a match there would contradict the follower's term,
      // since terms only grow along a log. This probes at most once per term in our log.
      let nextProbeIdx = m.rejectHint;
      if (m.logTerm > 0) {
        nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm)[0];
      }
      if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
        this.logger.debug(`${hex(this.id)} decreased progress of ${hex(m.from)} to [${pr.toString()}]`);
        if (pr.state === ProgressStateType.StateReplicate) {
          pr.becomeProbe();
        }
        this.sendAppend(m.from);
      }
      return;
    }
    // A probing follower that acknowledges what it already had is caught up too: let it replicate again.
    if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressStateType.StateProbe))) {
      return;
    }
    if (pr.state === ProgressStateType.StateProbe) {
      pr.becomeReplicate();
    } else if (pr.state === ProgressStateType.StateSnapshot && pr.match + 1 >= this.raftLog.firstIndex()) {
      // Any acknowledgement that lets the log continue from here ends the snapshot, whichever snapshot it was.
      this.logger.debug(
        `${hex(this.id)} recovered from needing snapshot, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`,
      );
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressStateType.StateReplicate) {
      pr.inflights.freeLE(m.index);
    }

    if (this.maybeCommit()) {
      // The commit index moved in this term, so pending reads can now be served (§8).
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    } else if (this.id !== m.from && pr.canBumpCommit(this.raftLog.committed)) {
      // The follower may lag the commit index; tell it now rather than at the next heartbeat.
      this.sendAppend(m.from);
    }
    // Flow control may now allow several messages at once; send all that carry entries.
    if (this.id !== m.from) {
      while (this.maybeSendAppend(m.from, false)) {
        // Keep sending until the window is full or the follower is caught up.
      }
    }
    // Thesis §3.10: once the transferee's log matches ours, tell it to campaign now.
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.logger.info(`${hex(this.id)} sent MsgTimeoutNow to ${hex(m.from)} after received MsgAppResp`);
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.msgAppFlowPaused = false;
    // A follower behind our log gets an append, even an empty one when its window is full: an append that is
    // acked or rejected clears a window filled by lost messages. A caught-up follower still in StateProbe gets
    // one too, so its answer returns it to StateReplicate.
    if (pr.match < this.raftLog.lastIndex() || pr.state === ProgressStateType.StateProbe) {
      this.sendAppend(m.from);
    }
    if (this.readOnly.option !== ReadOnlyOption.ReadOnlySafe || m.context.length === 0) {
      return;
    }
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === null || this.trk.config.voters.voteResult(acks) !== VoteResult.VoteWon) {
      return;
    }
    for (const rs of this.readOnly.advance(m)) {
      const resp = this.responseToReadIndexReq(rs.req, rs.index);
      if (resp !== null) {
        this.send(resp);
      }
    }
  }

  /** Thesis §3.10: bring the transferee up to date, then tell it to campaign at once. */
  private handleTransferLeader(m: Message, pr: Progress): void {
    if (pr.isLearner) {
      this.logger.debug(`${hex(this.id)} is learner. Ignored transferring leadership`);
      return;
    }
    const leadTransferee = m.from;
    const lastLeadTransferee = this.leadTransferee;
    if (lastLeadTransferee !== None) {
      if (lastLeadTransferee === leadTransferee) {
        this.logger.info(
          `${hex(this.id)} [term ${this.term}] transfer leadership to ${hex(leadTransferee)} is in progress, ignores request to same node ${hex(leadTransferee)}`,
        );
        return;
      }
      this.abortLeaderTransfer();
      this.logger.info(
        `${hex(this.id)} [term ${this.term}] abort previous transferring leadership to ${hex(lastLeadTransferee)}`,
      );
    }
    if (leadTransferee === this.id) {
      this.logger.debug(`${hex(this.id)} is already leader. Ignored transferring leadership to self`);
      return;
    }
    this.logger.info(`${hex(this.id)} [term ${this.term}] starts to transfer leadership to ${hex(leadTransferee)}`);
    // The transfer must finish within one election timeout; count from now.
    this.electionElapsed = 0;
    this.leadTransferee = leadTransferee;
    if (pr.match === this.raftLog.lastIndex()) {
      this.sendTimeoutNow(leadTransferee);
      this.logger.info(
        `${hex(this.id)} sends MsgTimeoutNow to ${hex(leadTransferee)} immediately as ${hex(leadTransferee)} already has up-to-date log`,
      );
    } else {
      this.sendAppend(leadTransferee);
    }
  }

  /** Candidates and pre-candidates: count votes (C2), yield to a leader of this term (C3). */
  private stepCandidate(m: Message): void {
    // A candidate may still receive pre-vote responses from its pre-candidacy in this term; only the responses
    // to its current kind of request count.
    const myVoteRespType =
      this.state === StateType.StatePreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
    switch (m.type) {
      case MessageType.MsgProp:
        this.logger.info(`${hex(this.id)} no leader at term ${this.term}; dropping proposal`);
        throw errProposalDropped;
      case MessageType.MsgApp:
        // C3: a leader exists in this term (the term check above made m.term == term).
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        break;
      case MessageType.MsgHeartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        break;
      case MessageType.MsgSnap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        break;
      case myVoteRespType: {
        const { granted, rejected, result } = this.poll(m.from, m.type, !m.reject);
        this.logger.info(
          `${hex(this.id)} has received ${granted} ${MessageType[m.type]} votes and ${rejected} vote rejections`,
        );
        if (result === VoteResult.VoteWon) {
          if (this.state === StateType.StatePreCandidate) {
            this.campaign('CampaignElection');
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === VoteResult.VoteLost) {
          // A rejected pre-vote may carry a later term than ours; keep our own, nothing was adopted.
          this.becomeFollower(this.term, None);
        }
        break;
      }
      case MessageType.MsgTimeoutNow:
        this.logger.debug(
          `${hex(this.id)} [term ${this.term} state ${StateType[this.state]}] ignored MsgTimeoutNow from ${hex(m.from)}`,
        );
        break;
    }
  }

  /** F1 (§5.2): followers answer leaders and forward client requests to them. */
  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.MsgProp:
        if (this.lead === None) {
          this.logger.info(`${hex(this.id)} no leader at term ${this.term}; dropping proposal`);
          throw errProposalDropped;
        } else if (this.disableProposalForwarding) {
          this.logger.info(
            `${hex(this.id)} not forwarding to leader ${hex(this.lead)} at term ${this.term}; dropping proposal`,
          );
          throw errProposalDropped;
        }
        this.forwardToLeader(m);
        break;
      case MessageType.MsgApp:
        // F2: hearing from the leader restarts the election timer.
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        break;
      case MessageType.MsgHeartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        break;
      case MessageType.MsgSnap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        break;
      case MessageType.MsgTransferLeader:
        if (this.lead === None) {
          this.logger.info(`${hex(this.id)} no leader at term ${this.term}; dropping leader transfer msg`);
          return;
        }
        this.forwardToLeader(m);
        break;
      case MessageType.MsgForgetLeader:
        // A lease-based read relies on no other leader being elected while the lease holds; forgetting the
        // leader would let this node help elect one.
        if (this.readOnly.option === ReadOnlyOption.ReadOnlyLeaseBased) {
          this.logger.error('ignoring MsgForgetLeader due to ReadOnlyLeaseBased');
          return;
        }
        if (this.lead !== None) {
          this.logger.info(`${hex(this.id)} forgetting leader ${hex(this.lead)} at term ${this.term}`);
          this.lead = None;
        }
        break;
      case MessageType.MsgTimeoutNow:
        this.logger.info(
          `${hex(this.id)} [term ${this.term}] received MsgTimeoutNow from ${hex(m.from)} and starts an election to get leadership.`,
        );
        // Thesis §3.10: the leader asked for this election, so there is no partition to guard against and no
        // need for a pre-vote round.
        this.hup('CampaignTransfer');
        break;
      case MessageType.MsgReadIndex:
        if (this.lead === None) {
          this.logger.info(`${hex(this.id)} no leader at term ${this.term}; dropping index reading msg`);
          return;
        }
        this.forwardToLeader(m);
        break;
      case MessageType.MsgReadIndexResp:
        if (m.entries.length !== 1) {
          this.logger.error(
            `${hex(this.id)} invalid format of MsgReadIndexResp from ${hex(m.from)}, entries count: ${m.entries.length}`,
          );
          return;
        }
        this.readStates.push({ index: m.index, requestCtx: m.entries[0].data });
        break;
    }
  }

  /** Sends a copy of `m` to the leader; the caller's message is left as it was. */
  private forwardToLeader(m: Message): void {
    this.send({ ...m, to: this.lead });
  }

  /** The AppendEntries receiver, AE2-AE5 (§5.3). */
  handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      // Everything up to our commit index already matches the leader's log (Log Matching); acknowledge it.
      const resp = blankMessage(MessageType.MsgAppResp, m.from);
      resp.index = this.raftLog.committed;
      this.send(resp);
      return;
    }
    // AE2-AE5 live in RaftLog.maybeAppend: match the previous entry, cut a conflicting suffix, append, commit.
    const [lastNewIndex, ok] = this.raftLog.maybeAppend(
      { term: m.term, prev: { term: m.logTerm, index: m.index }, entries: m.entries },
      m.commit,
    );
    if (ok) {
      const resp = blankMessage(MessageType.MsgAppResp, m.from);
      resp.index = lastNewIndex;
      this.send(resp);
      return;
    }
    // AE2: no entry at m.index with term m.logTerm.
    this.logger.debug(
      `${hex(this.id)} [logterm: ${this.raftLog.zeroTermOnOutOfBounds(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${hex(m.from)}`,
    );
    // Fast backup: hint the largest index at which our term is <= the leader's term at m.index. Every entry of
    // ours above it has a larger term, so it cannot be in the leader's log at or before m.index.
    const hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    const [hintIdx, hintTerm] = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    const resp = blankMessage(MessageType.MsgAppResp, m.from);
    resp.index = m.index;
    resp.reject = true;
    resp.rejectHint = hintIdx;
    resp.logTerm = hintTerm;
    this.send(resp);
  }

  /** L1: a heartbeat carries a commit index the leader knows this node's log reaches. */
  handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    const resp = blankMessage(MessageType.MsgHeartbeatResp, m.from);
    resp.context = m.context;
    this.send(resp);
  }

  /** §7, Figure 13: the InstallSnapshot receiver. */
  handleSnapshot(m: Message): void {
    const s = m.snapshot ?? emptySnapshotValue();
    const sindex = s.metadata.index;
    const sterm = s.metadata.term;
    if (this.restore(s)) {
      this.logger.info(
        `${hex(this.id)} [commit: ${this.raftLog.committed}] restored snapshot [index: ${sindex}, term: ${sterm}]`,
      );
      const resp = blankMessage(MessageType.MsgAppResp, m.from);
      resp.index = this.raftLog.lastIndex();
      this.send(resp);
    } else {
      this.logger.info(
        `${hex(this.id)} [commit: ${this.raftLog.committed}] ignored snapshot [index: ${sindex}, term: ${sterm}]`,
      );
      const resp = blankMessage(MessageType.MsgAppResp, m.from);
      resp.index = this.raftLog.committed;
      this.send(resp);
    }
  }

  /**
   * Replaces the log and configuration with a snapshot's. Returns false if the snapshot was ignored: it is not
   * newer than the commit index, or the log already holds its last entry (then only the commit index moves:
   * Figure 13 step 6 keeps the entries after it).
   */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) {
      return false;
    }
    if (this.state !== StateType.StateFollower) {
      // Only followers receive snapshots. Should a leader ever get here it must not keep leading in a term
      // whose log it just replaced; moving to a new term as a follower prevents that.
      this.logger.warning(`${hex(this.id)} attempted to restore snapshot as leader; should never happen`);
      this.becomeFollower(this.term + 1, None);
      return false;
    }
    const cs = s.metadata.confState;
    const member = cs.voters.includes(this.id) || cs.learners.includes(this.id) || cs.votersOutgoing.includes(this.id);
    if (!member) {
      // Much of the core assumes a node tracks its own progress; a snapshot without this node is refused. etcd
      // prints the ConfState here in protobuf's text form, not in the Go form of the scenario harness.
      const text = describeConfStateText(cs);
      this.logger.warning(
        `${hex(this.id)} attempted to restore snapshot but it is not in the ConfState ${text}; should never happen`,
      );
      return false;
    }
    if (this.raftLog.matchTerm({ term: s.metadata.term, index: s.metadata.index })) {
      this.logger.info(
        `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] ` +
          `fast-forwarded commit to snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
      );
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    // The snapshot's configuration replaces ours entirely.
    this.trk = new ProgressTracker(this.trk.maxInflight, this.trk.maxInflightBytes);
    const restored = this.restoreConfig(cs);
    assertConfStatesEquivalent(this.logger, cs, this.switchToConfig(restored[0], restored[1]));
    this.logger.info(
      `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] ` +
        `restored snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
    );
    return true;
  }

  /** Whether this node may become leader: a voter in the configuration, with no snapshot still to apply. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasNextOrInProgressSnapshot();
  }

  /**
   * The configuration a ConfState (from storage or a snapshot) describes, built on the current (empty) tracker. A
   * ConfState no sequence of valid changes could produce means corrupt state or a bug, and panics, as in etcd.
   */
  private restoreConfig(cs: ConfState): [TrackerConfig, ProgressMap] {
    try {
      return restoreConfState(new Changer(this.trk, this.raftLog.lastIndex()), cs);
    } catch (err) {
      if (err instanceof ConfChangeError) {
        return this.logger.panic(`unable to restore config ${describeConfStateText(cs)}: ${err.message}`);
      }
      throw err;
    }
  }

  /**
   * §6, thesis §4: applies a committed configuration change; returns the resulting ConfState. A change the
   * configuration cannot take (removing every voter, a simple change while joint, ...) is a panic, as in etcd: the
   * entry is committed, so every member would fail on it alike, and the application must not propose it (or must
   * not apply it: it may skip a committed change it decides to reject).
   */
  applyConfChange(cc: ConfChangeV2): ConfState {
    const changer = new Changer(this.trk, this.raftLog.lastIndex());
    let result: [TrackerConfig, ProgressMap];
    try {
      if (confChangeLeaveJoint(cc)) {
        result = changer.leaveJoint();
      } else {
        const { autoLeave, ok } = confChangeEnterJoint(cc);
        result = ok ? changer.enterJoint(autoLeave, ...cc.changes) : changer.simple(...cc.changes);
      }
    } catch (err) {
      if (err instanceof ConfChangeError) {
        return this.logger.panic(`${hex(this.id)} cannot apply conf change ${describeConfChange(cc)}: ${err.message}`);
      }
      throw err;
    }
    return this.switchToConfig(result[0], result[1]);
  }

  /**
   * Makes `cfg` the active configuration. A leader then reacts: commits what the new quorum allows, probes new
   * members, and drops a transfer to a node no longer a voter.
   */
  switchToConfig(cfg: TrackerConfig, prs: ProgressMap): ConfState {
    this.trk.config = cfg;
    this.trk.progress = prs;
    this.logger.info(`${hex(this.id)} switched to configuration ${this.trk.config.toString()}`);
    const cs = this.trk.confState();
    const pr = this.trk.progress.get(this.id);
    this.isLearner = pr !== undefined && pr.isLearner;

    if ((pr === undefined || this.isLearner) && this.state === StateType.StateLeader) {
      // A leader removed (or demoted) keeps leading until it steps down, so that the entry removing it can
      // still commit; with stepDownOnRemoval it steps down as soon as the change applies.
      if (this.stepDownOnRemoval) {
        this.becomeFollower(this.term, None);
      }
      return cs;
    }
    if (this.state !== StateType.StateLeader || cs.voters.length === 0) {
      return cs;
    }
    if (this.maybeCommit()) {
      // A smaller quorum may commit more right away.
      this.bcastAppend();
    } else {
      // Probe new members now rather than at the next heartbeat or proposal.
      for (const id of this.progressIds()) {
        if (id !== this.id) {
          this.maybeSendAppend(id, false);
        }
      }
    }
    if (this.leadTransferee !== None && !this.trk.config.voters.ids().has(this.leadTransferee)) {
      this.abortLeaderTransfer();
    }
    return cs;
  }

  /** Restores S1 from stable storage on restart. */
  loadState(state: HardState): void {
    if (state.commit < this.raftLog.committed || state.commit > this.raftLog.lastIndex()) {
      this.logger.panic(
        `${hex(this.id)} state.commit ${state.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = state.commit;
    this.term = state.term;
    this.vote = state.vote;
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  /** §5.2: randomized timeouts make split votes rare. */
  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.rand.intn(this.electionTimeout);
  }

  sendTimeoutNow(to: NodeId): void {
    this.send(blankMessage(MessageType.MsgTimeoutNow, to));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = None;
  }

  /** Whether the commit index points at an entry of this term (§8: only then is the leader's commit current). */
  committedEntryInCurrentTerm(): boolean {
    // A leader's term is never 0, so an unknown term (0) never matches.
    return this.raftLog.zeroTermOnOutOfBounds(this.raftLog.committed) === this.term;
  }

  /** The answer to a read: a ReadState if the read is local, a MsgReadIndexResp to the follower otherwise. */
  private responseToReadIndexReq(req: Message, readIndex: number): Message | null {
    if (req.from === None || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: req.entries[0].data });
      return null;
    }
    const m = blankMessage(MessageType.MsgReadIndexResp, req.from);
    m.index = readIndex;
    m.entries = req.entries;
    return m;
  }

  /**
   * Records the size of entries about to be appended; refuses them if the uncommitted tail would exceed its
   * limit. An empty tail accepts anything, and empty payloads (a new leader's entry, leaving a joint
   * configuration) are always accepted.
   */
  increaseUncommittedSize(ents: readonly Entry[]): boolean {
    const s = payloadsSize(ents);
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSize) {
      return false;
    }
    this.uncommittedSize += s;
    return true;
  }

  /** Committed entries leave the uncommitted tail. Saturates at zero: the estimate may be low, never high. */
  reduceUncommittedSize(s: number): void {
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) {
      return;
    }
    if (!this.committedEntryInCurrentTerm()) {
      this.logger.error('pending MsgReadIndex should be released only after first commit in current term');
      return;
    }
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) {
      this.sendMsgReadIndexResponse(m);
    }
  }

  private sendMsgReadIndexResponse(m: Message): void {
    switch (this.readOnly.option) {
      case ReadOnlyOption.ReadOnlySafe:
        // §8: remember the commit index now, serve it once a quorum confirms this node still leads.
        this.readOnly.addRequest(this.raftLog.committed, m);
        this.readOnly.recvAck(this.id, m.entries[0].data);
        this.bcastHeartbeatWithCtx(m.entries[0].data);
        break;
      case ReadOnlyOption.ReadOnlyLeaseBased: {
        const resp = this.responseToReadIndexReq(m, this.raftLog.committed);
        if (resp !== null) {
          this.send(resp);
        }
        break;
      }
    }
  }

  /**
   * Checks the relations between fields that must hold after every step (LogCabin-style); panics through the
   * logger naming the first that does not. Meant for simulators and tests, after each message or tick.
   */
  checkInvariants(): void {
    const log = this.raftLog;
    const fail = (what: string): never => this.logger.panic(`${hex(this.id)} invariant violated: ${what}`);
    const lastIndex = log.lastIndex();
    if (!(log.applied <= log.applying && log.applying <= log.committed)) {
      fail(`applied ${log.applied} <= applying ${log.applying} <= committed ${log.committed}`);
    }
    if (log.committed > lastIndex) {
      fail(`committed ${log.committed} <= lastIndex ${lastIndex}`);
    }
    if (log.committed < log.firstIndex() - 1) {
      fail(`committed ${log.committed} >= firstIndex-1 ${log.firstIndex() - 1}`);
    }
    if (this.term < 0 || this.uncommittedSize < 0) {
      fail(`term ${this.term} and uncommitted size ${this.uncommittedSize} are non-negative`);
    }
    switch (this.state) {
      case StateType.StateLeader: {
        if (this.lead !== this.id || this.vote !== this.id) {
          fail(`a leader leads (lead ${this.lead}) and voted for itself (vote ${this.vote})`);
        }
        // The leader acknowledges its own entries only once durable, so its match may trail, never lead.
        const pr = this.trk.progress.get(this.id);
        if (pr !== undefined && (pr.match > lastIndex || pr.next <= pr.match)) {
          fail(`leader's own progress match ${pr.match} <= lastIndex ${lastIndex} and next ${pr.next} > match`);
        }
        break;
      }
      case StateType.StateCandidate:
        if (this.vote !== this.id || this.lead !== None) {
          fail(`a candidate voted for itself (vote ${this.vote}) and knows no leader (lead ${this.lead})`);
        }
        break;
      case StateType.StatePreCandidate:
        if (this.lead !== None) {
          fail(`a pre-candidate knows no leader (lead ${this.lead})`);
        }
        break;
      case StateType.StateFollower:
        if (this.lead === this.id) {
          fail('a follower does not lead');
        }
        break;
    }
    if (this.state !== StateType.StateLeader && this.leadTransferee !== None) {
      fail(`only a leader transfers leadership (transferee ${this.leadTransferee})`);
    }
    if (this.state === StateType.StateLeader && log.committed > 0 && this.raftLog.zeroTermOnOutOfBounds(log.committed) > this.term) {
      fail(`leader's committed entry is from a future term`);
    }
  }
}

function blankMessageFrom(type: MessageType, from: NodeId): Message {
  const m = blankMessage(type, None);
  m.from = from;
  return m;
}

function emptySnapshotValue(): Snapshot {
  return {
    data: emptyBytes,
    metadata: {
      confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      index: 0,
      term: 0,
    },
  };
}
