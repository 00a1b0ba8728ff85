// # The Ready loop
//
// The core (raft/) is a pure state machine: it never touches a disk, a socket or a clock. This is the driver that
// does, for one member. It owns the RawNode and runs one loop that:
//
// 1. gathers everything that arrived since the last turn: peer messages, ticks of the clock, reports about
//    unreachable peers, and the client requests queued in kvstore/requests.ts, and hands it all to the RawNode;
// 2. asks for one `Ready` and handles it in the order Raft's safety requires (see docs/ready-loop.md):
//    a. a snapshot from the leader: its file, then its WAL record, then MemoryStorage;
//    b. the HardState and new entries: WAL (fsync when `mustSync`), then MemoryStorage;
//    c. messages to peers: only now, because a vote or an acknowledgement promises that the state it depends on
//       is on stable storage (Figure 2, "Persistent state ... updated on stable storage before responding");
//    d. committed entries: applied to the key-value map in log order by kvstore/apply.ts (§5.3, thesis §4.1),
//       while b's fsync runs (they are durable on a majority already);
// 3. calls `advance()`, and every `snapshotCount` applied entries (at indexes of this member's own:
//    kvstore/snapshot-schedule.ts) captures the state for a snapshot (§7), which is encoded and written between
//    turns and recorded, compacting the log, by the turn after its file is durable.
//
// Step 1 drains every queue before step 2, so under load one Ready (and so one fsync) covers many requests. The
// fsync of step 2b runs off the event loop: whatever arrives meanwhile is queued for the next Ready, so the disk
// and the parsing of the next batch of requests overlap. A quiet member, with nothing to overlap, runs it on the
// loop's own thread instead ("Where the fdatasync runs", below).
//
// A turn that has a long way to go without an fsync (a member applying a large backlog of committed entries after
// a restart, a Ready of up to 1 MiB of them at a time) yields to the event loop every `SLICE_MS` between Readys, so
// that meanwhile the member still reads its peer streams, answers heartbeats and keeps its clock. Without that, a
// member replaying a million entries held its thread for the whole replay: every stream to and from it missed its
// liveness checks, and a stream it dialled was failed by its own answer timer, which runs before the reply it had
// already received is read.

import { RaftError } from '../raft/errors';
import { RawNode, Ready } from '../raft/rawnode';
import { MemoryStorage } from '../raft/storage';
import { Message, MessageType, NodeId, None, Snapshot, SnapshotMetadata, StateType, isEmptyHardState, isEmptySnapshot } from '../raft/types';
import { KvApplier } from './apply';
import type { NodeCounters, NodeHooks, NodeOptions, Persistence } from './node';
import { Requests } from './requests';
import { nextSnapshotAt } from './snapshot-schedule';
import type { SnapshotEncoding } from './snapshot';

// The longest a turn runs Readys back to back before it lets the event loop in.
const SLICE_MS = 20;
// Keys and events a snapshot encodes before it lets the event loop in (a millisecond or two of work).
const SNAPSHOT_STEP_ITEMS = 256;
// An fsync slower than this makes the next ones run in the thread pool (see isQuiet): four times a healthy one here.
const SLOW_FSYNC_MICROS = 2_000;
// How many requests in a row must have arrived alone (none held beside them) before a member counts as quiet.
const QUIET_AFTER_ALONE = 16;

/** What the loop drives and whom it tells. */
export interface LoopParts {
  raw: RawNode;
  storage: MemoryStorage;
  persistence: Persistence;
  requests: Requests;
  applier: KvApplier;
  hooks: NodeHooks;
  /** Called once when the loop cannot or must not go on: it failed (`failed` true) or the member was removed. */
  halt(reason: string, failed: boolean): void;
}

/** One member's loop between the RawNode, the disk, the peers and the state machine. */
export class ReadyLoop {
  readonly counts: NodeCounters = { readies: 0, fsyncs: 0, fsyncMicros: 0, fsyncsOnLoop: 0, proposals: 0, readIndexes: 0 };
  // Invariant: snapshotIndex <= the applier's applied index.
  private snapshotIndex: number;
  // Invariant: the term and vote last written to the WAL; a Ready that changes either sends nothing before its write.
  private durableTerm: number;
  private durableVote: NodeId;
  // How long the last fsync took, wherever it ran.
  private lastFsyncMicros = 0;
  private leader: NodeId = None;
  private role_: StateType = StateType.StateFollower;

  // Inboxes, drained at the start of every turn of the loop (client requests wait in `requests`).
  private inMessages: Message[] = [];
  private inTicks = 0;
  private inReports: (() => void)[] = [];

  // Invariant: at most one snapshot of this member's own is being taken; true from the moment its state is captured
  // until it is recorded in the WAL or dropped.
  private snapshotting = false;
  // A snapshot whose file is durable, for the next turn to record in the WAL (see maybeSnapshot).
  private snapshotWritten: Snapshot | null = null;

  private scheduled = false;
  // Invariant: true while a forward of queued client requests is due (see submit).
  private forwardDue = false;
  // Invariant: true from the start of a turn until it ends, including while it waits for an fsync; no second turn
  // starts meanwhile (the RawNode allows one Ready at a time, and advance() must follow the write).
  private running = false;
  private stopped = false;

  constructor(
    private readonly opts: NodeOptions,
    private readonly parts: LoopParts,
  ) {
    this.snapshotIndex = parts.applier.applied;
    const durable = parts.storage.initialState().hardState;
    this.durableTerm = durable.term;
    this.durableVote = durable.vote;
  }

  get leaderId(): NodeId {
    return this.leader;
  }

  get role(): StateType {
    return this.role_;
  }

  get lastSnapshotIndex(): number {
    return this.snapshotIndex;
  }

  // ## Queueing work (any time); each wakes the loop.

  deliver(msgs: Message[]): void {
    if (this.stopped) return;
    for (const m of msgs) {
      this.inMessages.push(m);
      // The answer to this follower's ReadIndex request: the reads it confirms are served now if this member has
      // applied far enough, not after the fsync the loop may be waiting for. The core still steps it (it only
      // records the same ReadState, which finds its batch already answered).
      if (m.type === MessageType.MsgReadIndexResp && m.entries.length === 1 && m.entries[0] !== undefined) {
        this.parts.requests.readIndexConfirmed(m.entries[0].data, m.index);
        this.parts.requests.serveReads(this.parts.applier.applied);
      }
    }
    this.schedule();
  }

  /**
   * Client requests were queued. On a follower whose turn is waiting for the disk they are forwarded to the leader
   * at once (kvstore/requests.ts `forward`); otherwise the next turn hands them to the core.
   */
  submit(): void {
    if (this.running && !this.forwardDue && this.canForward()) {
      this.forwardDue = true;
      setImmediate(() => {
        this.forwardDue = false;
        if (this.stopped || !this.canForward()) return;
        const sent = this.parts.requests.forward(this.leader, (msgs) => this.parts.hooks.send(msgs));
        this.counts.proposals += sent.proposals;
        this.counts.readIndexes += sent.readIndexes;
      });
    }
    this.schedule();
  }

  // A follower that knows a reachable leader. Its role and leader are the core's own while a turn waits for the
  // disk: the core changes only when stepped, at the start of a turn, and the Ready's SoftState is noted first.
  private canForward(): boolean {
    return this.role_ === StateType.StateFollower && this.leader !== None && this.leader !== this.opts.id && this.parts.hooks.peerReachable(this.leader);
  }

  tick(): void {
    this.inTicks++;
    this.schedule();
  }

  report(fn: () => void): void {
    if (this.stopped) return;
    this.inReports.push(fn);
    this.schedule();
  }

  /** Runs a turn soon, unless one is due or running (a running turn picks the new work up itself). */
  schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    if (!this.running) setImmediate(() => void this.turn());
  }

  /** No turn starts after this, and a running one touches nothing once its fsync returns. */
  stop(): void {
    this.stopped = true;
  }

  // ## The loop.

  // One turn: hand everything queued to the RawNode, then handle Readies until there are none. Only the fsync is
  // awaited; requests that arrive meanwhile are queued and drained into the next Ready of the same turn.
  private async turn(): Promise<void> {
    this.scheduled = false;
    if (this.stopped) return;
    this.running = true;
    const { raw } = this.parts;
    let sliceStart = performance.now();
    try {
      for (;;) {
        this.scheduled = false;
        if (this.snapshotWritten !== null) {
          await this.recordSnapshot(this.snapshotWritten);
          if (this.stopped) return;
        }
        this.drain();
        if (this.stopped || !raw.hasReady()) break;
        const rd = raw.ready();
        await this.handleReady(rd);
        // stop() may have run during the fsync: the WAL is closed and every waiter failed; touch nothing more.
        if (this.stopped) return;
        raw.advance();
        this.maybeSnapshot();
        // Between Readys nothing is outstanding, so the event loop may run; what it delivers is drained next.
        if (performance.now() - sliceStart >= SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (this.stopped) return;
          sliceStart = performance.now();
        }
      }
    } catch (err) {
      // A failed write to the WAL leaves memory ahead of the disk; carrying on could acknowledge what a restart
      // would forget. Stop, and let the operator restart from the files.
      const reason = err instanceof Error ? (err.stack ?? err.message) : String(err);
      this.opts.logger.error(`the Ready loop failed: ${reason}`);
      this.parts.halt(`the Ready loop failed: ${err instanceof Error ? err.message : String(err)}`, true);
      return;
    } finally {
      this.running = false;
    }
    if (this.parts.applier.isRemoved) {
      this.parts.halt('this member was removed from the cluster', false);
      return;
    }
    if (this.scheduled) setImmediate(() => void this.turn());
  }

  private drain(): void {
    const { raw, requests, hooks } = this.parts;
    // Messages before ticks: a heartbeat that already arrived must count before the election timer runs out.
    const msgs = coalesceProposals(this.inMessages);
    this.inMessages = [];
    for (const m of msgs) {
      try {
        raw.step(m);
      } catch (err) {
        // A response from a member no longer in the configuration, or a local message type from outside: the core
        // refuses it and there is nothing else to do (etcd's node drops these too).
        if (!(err instanceof RaftError)) throw err;
        this.opts.logger.debug(`dropped ${MessageType[m.type]} from ${m.from}: ${err.message}`);
      }
    }
    const reports = this.inReports;
    this.inReports = [];
    for (const fn of reports) fn();
    requests.handOverControl(raw);
    for (; this.inTicks > 0; this.inTicks--) raw.tick();
    const leaderReachable = this.leader === this.opts.id || (this.leader !== None && hooks.peerReachable(this.leader));
    const noLeader = leaderReachable
      ? undefined
      : this.leader === None
        ? 'No leader is known'
        : `Leader ${this.leader} is unreachable from member ${this.opts.id}`;
    const handed = requests.handOverWork(raw, noLeader);
    this.counts.proposals += handed.proposals;
    this.counts.readIndexes += handed.readIndexes;
  }

  private async handleReady(rd: Ready): Promise<void> {
    const { storage, persistence, hooks } = this.parts;
    this.counts.readies++;
    if (rd.softState !== null) this.noteSoftState(rd.softState.lead, rd.softState.raftState);

    // (c, early) Thesis §10.2.1: a leader may send its appends while it writes the same entries to its own disk, and
    // any member its messages that promise nothing about its disk. Every message that promises durable state waits
    // for step (b); see sendBeforePersist.
    const afterPersist = this.sendBeforePersist(rd);

    // (a) A snapshot from the leader replaces our log prefix: its file and WAL record first, so that a crash
    // right after still finds the snapshot the WAL refers to.
    if (!isEmptySnapshot(rd.snapshot)) {
      persistence.saveSnapshot(rd.snapshot);
      storage.applySnapshot(rd.snapshot);
    }
    // (b) Figure 2, S1: currentTerm, votedFor and the log reach stable storage before we answer anyone.
    //
    // A snapshot forces the sync even when the core does not ask for one (a snapshot in the current term changes
    // only the commit index, so `mustSync` is false): the release below lets older WAL segments and snapshot files
    // go, and a restart can load the new snapshot only if the commit index that vouches for its WAL record is on
    // disk. Purging first and losing power before that HardState is durable leaves a member that cannot start.
    persistence.write(rd.hardState, rd.entries);
    const synced = rd.mustSync || !isEmptySnapshot(rd.snapshot) ? this.sync(this.isQuiet(rd)) : null;

    // (d, while the disk works) Entries committed are durable on a majority already (§5.4.2; the leader counts
    // itself only after its own write, docs/ready-contract.md), whether or not this member has written them yet:
    // applying them and answering their requests need not wait for the fsync of the new entries this Ready also
    // carries, which under load it nearly always does. So they are applied while that fsync runs in the thread
    // pool, as etcd's server applies in parallel with its WAL write (on a quiet member, whose fsync ran on this
    // thread, just after it). A crash before the fsync loses only memory; snapshots are taken after it. A Ready with
    // a snapshot keeps the order below: the snapshot is applied first, and only once its files are durable.
    const applyEarly = isEmptySnapshot(rd.snapshot);
    if (applyEarly) {
      try {
        this.apply(rd);
      } catch (err) {
        // The loop stops on this error; the fsync's own outcome no longer matters.
        synced?.catch(() => undefined);
        throw err;
      }
    }
    if (synced !== null) {
      await synced;
      if (this.stopped) return;
    }
    if (!isEmptyHardState(rd.hardState)) {
      storage.setHardState(rd.hardState);
      this.durableTerm = rd.hardState.term;
      this.durableVote = rd.hardState.vote;
    }
    if (rd.entries.length > 0) storage.append(rd.entries);
    // The snapshot, its WAL record and the HardState are all durable: older files may go.
    if (!isEmptySnapshot(rd.snapshot)) persistence.release(rd.snapshot);

    // (c) Only now may our votes and acknowledgements leave.
    if (afterPersist.length > 0) hooks.send(afterPersist);

    // (d) Apply: first a received snapshot, then committed entries in order (rule A1 of Figure 2).
    if (!applyEarly) this.apply(rd);
  }

  // Applies a Ready's snapshot and committed entries, in order, and answers the reads they make servable.
  private apply(rd: Ready): void {
    const { requests, applier } = this.parts;
    if (!isEmptySnapshot(rd.snapshot) && rd.snapshot.metadata.index > applier.applied) {
      this.opts.logger.info(`applying snapshot at index ${rd.snapshot.metadata.index} (term ${rd.snapshot.metadata.term})`);
      applier.applySnapshot(rd.snapshot);
      this.snapshotIndex = rd.snapshot.metadata.index;
    }
    for (const e of rd.committedEntries) applier.applyEntry(e);

    for (const rs of rd.readStates) requests.readIndexConfirmed(rs.requestCtx, rs.index);
    requests.serveReads(applier.applied);
  }

  // ## Where the fdatasync runs
  //
  // In libuv's thread pool, as a rule: the event loop goes on reading requests and peer messages while the disk
  // works, and under load that overlap is what fills the next Ready. The price is two thread wake-ups per fsync,
  // the pool thread's to start it and the loop's to hear that it ended, and on a machine whose cores are busy the
  // scheduler can make either wait. Traced at one client, a member's wait for its fsync was 0.55 ms on average
  // against 0.41 ms inside fdatasync(2) itself, and the difference grew in the tail, where a put's p99 lives.
  //
  // A member that is quiet has nothing to overlap. Take one client writing through a follower: the follower's
  // append, the leader's and the other follower's each carry one entry, and no other request waits anywhere. What
  // could arrive during the fsync is the acknowledgement or the commit index this very entry waits for, and the
  // loop steps no message before its fsync returns anyway. So when this Ready appends at most one entry, this
  // member holds at most one client request and it has been quiet for a while (next paragraph), the fdatasync runs
  // on the loop's own thread, as etcd's raft loop always runs it, and the wake-ups go.
  //
  // "Holds at most one request now" is not yet quiet. Eight clients spread over three members leave each member
  // holding one request or none much of the time, and a quarter to a third of its fsyncs then blocked the loop while
  // the next requests queued on its sockets: 8% fewer operations a second than with every fsync in the pool
  // (docs/operations.md). So the member must also have had no two requests at once for its last
  // `QUIET_AFTER_ALONE` arrivals (`Requests.arrivedAloneInARow`). One client never overlaps itself and passes; a
  // member shared by several clients overlaps within a few requests, and the pool takes its fsyncs again.
  //
  // While its fsync runs on the loop's thread the member answers nothing: not the keep-alives of its peer streams,
  // not `GET /health`, not a request that arrives. That is fine for the half millisecond a healthy disk takes, not
  // for a busy shared disk (a traced put once waited 19 ms for one, docs/operations.md) and not for a disk in
  // trouble, where one fdatasync can take seconds and the peers would drop streams silent for two. So after an
  // fsync slower than `SLOW_FSYNC_MICROS` the pool takes them again until one is fast: a slow disk then delays the
  // writes, not the member.
  private isQuiet(rd: Ready): boolean {
    const { requests } = this.parts;
    return (
      rd.entries.length <= 1 &&
      requests.outstanding <= 1 &&
      requests.arrivedAloneInARow >= QUIET_AFTER_ALONE &&
      this.lastFsyncMicros < SLOW_FSYNC_MICROS
    );
  }

  // Waits until everything written so far is durable; see "Where the fdatasync runs".
  private async sync(onLoopThread = false): Promise<void> {
    this.counts.fsyncs++;
    if (onLoopThread) this.counts.fsyncsOnLoop++;
    const started = process.hrtime.bigint();
    await this.parts.persistence.sync(onLoopThread);
    this.lastFsyncMicros = Number((process.hrtime.bigint() - started) / 1000n);
    this.counts.fsyncMicros += this.lastFsyncMicros;
  }

  /**
   * Sends now, before the Ready's write, the messages that may go early, and returns the rest (to go after the
   * write). Thesis §10.2.1: the leader may send AppendEntries to its followers in parallel with writing to its own
   * disk, because it counts itself towards the commit quorum only once its own write is done; the core guarantees
   * that by holding back the leader's self-acknowledgement until advance() (docs/ready-contract.md). Committing on
   * the followers' acknowledgements alone is still §5.4 commitment: the entry is durable on a majority.
   *
   * Any other message that promises nothing about this member's disk may go early too, whatever the role: a
   * follower's forwarded proposal (MsgProp) or read (MsgReadIndex), its heartbeat responses, a pre-candidate's
   * MsgPreVote. Holding them back would make a write or read sent to a follower wait for the fsync of unrelated
   * entries that happened to arrive in the same Ready. etcd's core draws the same line (its `msgsAfterAppend`).
   *
   * The rule, exactly: only when the Ready changes neither term nor vote and carries no snapshot, and only messages
   * other than MsgAppResp, MsgVoteResp and MsgPreVoteResp, which always wait for the fsync: they are acknowledgements
   * and votes (S1, AE4, RV2). A Ready that changes the term or the vote sends nothing early, so no message carries a
   * term this member could forget in a crash, and a candidate's MsgVote leaves only once its vote for itself is
   * durable.
   */
  private sendBeforePersist(rd: Ready): Message[] {
    if (rd.messages.length === 0 || !isEmptySnapshot(rd.snapshot)) return rd.messages;
    const hs = rd.hardState;
    if (!isEmptyHardState(hs) && (hs.term !== this.durableTerm || hs.vote !== this.durableVote)) return rd.messages;
    const early: Message[] = [];
    const late: Message[] = [];
    for (const m of rd.messages) (promisesDurability(m.type) ? late : early).push(m);
    if (early.length > 0) this.parts.hooks.send(early);
    return late;
  }

  private noteSoftState(lead: NodeId, role: StateType): void {
    if (lead !== this.leader) {
      this.opts.logger.info(lead === None ? 'lost the leader' : `leader is now member ${lead}`);
    }
    this.leader = lead;
    this.role_ = role;
    this.parts.requests.leaderIs(lead);
  }

  // §7: once enough entries are applied, the map itself stands in for them. Keep `snapshotCatchup` entries so a
  // follower that is only slightly behind gets entries rather than a whole snapshot.
  //
  // A configuration change also calls for a snapshot once the log has been compacted. A new member can then only
  // catch up from a snapshot (§7), and the leader sends its newest one; a snapshot from before the change does not
  // list the new member, and Raft refuses to restore a snapshot whose configuration leaves the node out.
  //
  // Taking a snapshot is the one piece of work here whose size grows with the state rather than with the load: the
  // whole map and its history are encoded and written to a file, megabytes that took a member's thread for hundreds
  // of milliseconds, during which it answered nobody. So only the capture happens here, between two Readys (the
  // state as applied up to now; the map's entries are never changed in place, so it copies the key list, not the
  // values). Encoding and writing the file go on in slices between turns (`takeSnapshot`), and the turn after the
  // file is durable records it in the WAL (`recordSnapshot`). Raft does not wait for any of it: the log keeps
  // everything until the snapshot is recorded, as it would had the snapshot simply been due later.
  private maybeSnapshot(): void {
    const { storage, applier } = this.parts;
    if (this.snapshotting) return;
    const applied = applier.applied;
    const dueByCount = applied >= nextSnapshotAt(this.opts.id, this.snapshotIndex, this.opts.snapshotCount);
    const dueByConfChange = applier.confChangedSinceLastSnapshot && storage.firstIndex() > 1 && applied > this.snapshotIndex;
    if (!dueByCount && !dueByConfChange) return;
    this.snapshotting = true;
    const metadata = { index: applied, term: storage.term(applied), confState: applier.currentConfState };
    void this.takeSnapshot(metadata, applier.snapshotEncoding());
  }

  private async takeSnapshot(metadata: SnapshotMetadata, encoding: SnapshotEncoding): Promise<void> {
    const pause = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (!encoding.step(SNAPSHOT_STEP_ITEMS)) {
        await pause();
        if (this.stopped) return;
      }
      const snap: Snapshot = { data: encoding.bytes(), metadata };
      await this.parts.persistence.writeSnapshotFile(snap, pause);
      if (this.stopped) return;
      this.snapshotWritten = snap;
      this.schedule();
    } catch (err) {
      // A snapshot file that cannot be written (a full disk) stops the member, as a failed WAL write does: the log
      // would otherwise grow without bound, and the operator must make room.
      if (this.stopped) return;
      this.opts.logger.error(`taking a snapshot failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      this.parts.halt(`taking a snapshot failed: ${err instanceof Error ? err.message : String(err)}`, true);
    }
  }

  // Records a snapshot whose file is durable: its WAL record, then MemoryStorage, then the older files go. As for a
  // received snapshot, nothing older is released until the new snapshot's file, its WAL record and the HardState
  // written before it (whose commit index vouches for the record) are synced. A snapshot received from the leader
  // while this one was being written may have overtaken it; it is then dropped (its file, which no WAL record names,
  // is purged with the older ones).
  private async recordSnapshot(snap: Snapshot): Promise<void> {
    const { storage, persistence } = this.parts;
    this.snapshotWritten = null;
    this.snapshotting = false;
    const { index } = snap.metadata;
    if (index < storage.firstIndex()) {
      this.opts.logger.info(`dropped the snapshot at index ${index}: a newer one was received meanwhile`);
      return;
    }
    persistence.recordSnapshot(snap);
    storage.createSnapshot(index, snap.metadata.confState, snap.data);
    const compactTo = index - this.opts.snapshotCatchup;
    if (compactTo > storage.firstIndex()) storage.compact(compactTo);
    await this.sync();
    if (this.stopped) return;
    persistence.release(snap);
    this.snapshotIndex = index;
    this.opts.logger.info(`saved snapshot at index ${index}; log compacted to ${Math.max(compactTo, 0)}`);
  }
}

// The proposals forwarded by followers since the last turn, as one MsgProp after the other messages: stepped one by
// one, each would be appended alone and sent to every follower in a MsgApp of its own; together they are one append
// and one MsgApp per follower. A proposal carries no term and asks nothing of its sender, so which follower sent
// it, and where among the other messages it is stepped, changes nothing but the batching. The core checks each
// entry as it would alone (a second pending configuration change is still turned into an empty entry), with one
// exception: the cap on uncommitted entries is counted per message, so near the cap the batch is dropped whole where
// some of its parts might have fitted. A dropped proposal is never answered; its writer times out with an unknown
// outcome, as it would if a part had been dropped.
function coalesceProposals(msgs: Message[]): Message[] {
  let first: Message | undefined;
  let proposals = 0;
  for (const m of msgs) {
    if (m.type !== MessageType.MsgProp) continue;
    first ??= m;
    proposals++;
  }
  if (first === undefined || proposals === 1) return msgs;
  const others = msgs.filter((m) => m.type !== MessageType.MsgProp);
  const entries = msgs.filter((m) => m.type === MessageType.MsgProp).flatMap((m) => m.entries);
  others.push({ ...first, entries });
  return others;
}

// Responses that vouch for this member's stable storage: an acknowledged append (AE4) or a vote (RV2).
function promisesDurability(type: MessageType): boolean {
  return type === MessageType.MsgAppResp || type === MessageType.MsgVoteResp || type === MessageType.MsgPreVoteResp;
}
