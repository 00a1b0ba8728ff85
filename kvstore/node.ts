// # The Ready loop
//
// The core (raft/) is a pure state machine: it never touches a disk, a socket or a clock. This file is the driver
// that does, for one node. It owns the RawNode and runs one loop that:
//
// 1. gathers everything that arrived since the last turn: peer messages, ticks of the clock, client proposals,
//    configuration changes, read requests, reports about unreachable peers, and hands it all to the RawNode;
// 2. asks for one `Ready` and handles it in the order Raft's safety requires (see docs/ready-loop.md):
//    a. a snapshot from the leader: its file, then its WAL record, then MemoryStorage;
//    b. the HardState and new entries: WAL (fsync when `mustSync`), then MemoryStorage;
//    c. messages to peers: only now, because a vote or an acknowledgement promises that the state it depends on
//       is on stable storage (Figure 2, "Persistent state ... updated on stable storage before responding");
//    d. committed entries: applied to the key-value map in log order, configuration changes through
//       `applyConfChange` (§5.3, thesis §4.1);
// 3. calls `advance()`, and every `snapshotCount` applied entries compacts the log into a snapshot (§7).
//
// Step 1 drains every queue before step 2, so under load one Ready (and so one fsync) covers many requests. The
// fsync of step 2b runs off the event loop: whatever arrives meanwhile is queued for the next Ready, so the disk
// and the parsing of the next batch of requests overlap.

import crypto from 'node:crypto';
import { decodeConfChange, decodeConfChangeV2 } from '../raft/codec';
import { RaftError } from '../raft/errors';
import { Logger } from '../raft/logger';
import { RawNode, Ready, SnapshotStatus } from '../raft/rawnode';
import { SeededRand } from '../raft/rand';
import { MemoryStorage } from '../raft/storage';
import { StateType as ProgressState } from '../raft/tracker/state';
import {
  ConfChange,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  NodeId,
  None,
  Snapshot,
  StateType,
  isEmptyHardState,
  isEmptySnapshot,
} from '../raft/types';
import { Command, CommandOp, decodeCommand, encodeCommand } from './command';
import { KvError } from './errors';
import { ApplyResult, KvStore } from './kv';
import { Membership, decodeMemberContext } from './members';
import { encodeSnapshotData, restoreSnapshotData } from './snapshot';

/** Where the loop makes state durable (kvstore/disk.ts on wal/ and snap/). */
export interface Persistence {
  /** Writes the snapshot file, then its WAL record (so the WAL never points at a missing snapshot). */
  saveSnapshot(snap: Snapshot): void;
  /** Appends the HardState and entries to the WAL, without waiting for the disk. */
  write(hardState: Ready['hardState'], entries: Entry[]): void;
  /**
   * Makes everything written so far durable (fdatasync). Asynchronous, so the event loop keeps accepting requests
   * and peer messages while the disk works; they join the next Ready.
   */
  sync(): Promise<void>;
  /** Lets the WAL and snapshot files older than `snap` go. */
  release(snap: Snapshot): void;
  close(): void;
}

/** The knobs of one node's loop. */
export interface NodeOptions {
  id: NodeId;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  /** Applied entries between two snapshots. */
  snapshotCount: number;
  /** Entries kept in memory behind a snapshot, for followers that are only a little behind. */
  snapshotCatchup: number;
  /** How long a proposal, read or membership change may wait before it fails. */
  requestTimeoutMs: number;
  logger: Logger;
}

/** What the node restored from disk (kvstore/disk.ts), or a fresh start. */
export interface NodeStart {
  storage: MemoryStorage;
  persistence: Persistence;
  /** The snapshot MemoryStorage holds, or an empty one. */
  snapshot: Snapshot;
  /** The membership known before the log is applied: the initial cluster, or what a join was told. */
  members: Membership;
  /** Peers to bootstrap a brand-new cluster with; empty on restart or join. */
  bootstrap: { id: NodeId; context: Uint8Array }[];
}

/** Hooks the node calls as membership changes, so the transport can follow. */
export interface NodeHooks {
  onPeersChanged(members: Membership): void;
  /** Sends a Ready's messages; must not block. */
  send(msgs: Message[]): void;
  /** Whether the last request to a peer succeeded. */
  peerReachable(id: NodeId): boolean;
  /** Requests and messages the transport has sent to peers so far (for `GET /status`). */
  peerCounters(): { peerRequests: number; peerMessages: number };
  /** The node has stopped by itself: it applied its own removal (`failed` false) or could not go on (`failed` true). */
  onStopped(reason: string, failed: boolean): void;
}

/**
 * Running totals since the member started, reported by `GET /status`. Compared with the number of client requests
 * over the same interval they show how well the loop batches: many proposals per Ready, one fsync per Ready.
 */
export interface NodeCounters {
  /** Readys handled. */
  readies: number;
  /** WAL writes that were fsynced (Readys with `mustSync`). */
  fsyncs: number;
  /** Time the loop waited for those fsyncs, in microseconds: the disk's share of a write's latency. */
  fsyncMicros: number;
  /** Client writes handed to the core. */
  proposals: number;
  /** ReadIndex requests made (one per turn that had linearizable reads waiting). */
  readIndexes: number;
}

/** A peer's replication progress, as the leader tracks it (§5.3: nextIndex and matchIndex). */
export interface PeerProgress {
  match: number;
  next: number;
  state: string;
  recentActive: boolean;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: KvError): void;
  timer: NodeJS.Timeout;
}

interface ReadBatch {
  // Invariant: `index` is 0 until the ReadState for this batch arrives.
  index: number;
  waiters: Waiter<void>[];
}

/** A node of the replicated key-value store: the RawNode, its storage, the map, and the loop between them. */
export class RaftNode {
  readonly kv = new KvStore();
  readonly members: Membership;
  private readonly raw: RawNode;
  private readonly storage: MemoryStorage;
  private readonly persistence: Persistence;

  // Invariant: appliedIndex <= the HardState's commit; snapshotIndex <= appliedIndex.
  private appliedIndex: number;
  private snapshotIndex: number;
  /** Whether a configuration change was applied after the newest snapshot was taken (see maybeSnapshot). */
  private confChangedSinceSnapshot = false;
  // Invariant: the term and vote last written to the WAL; a Ready that changes either sends nothing before its write.
  private durableTerm: number;
  private durableVote: NodeId;
  private confState: ConfState;
  private leader: NodeId = None;
  private role_: StateType = StateType.StateFollower;

  // Inboxes, drained at the start of every turn of the loop.
  private inMessages: Message[] = [];
  private inTicks = 0;
  private inProposals: { seq: number; data: Uint8Array; waiter: Waiter<ApplyResult> }[] = [];
  private inReads: Waiter<void>[] = [];
  private inReports: (() => void)[] = [];

  private readonly epoch = crypto.randomBytes(4).readUInt32BE(0);
  private seq = 0;
  private readonly proposals = new Map<number, Waiter<ApplyResult>>();
  private readonly confChanges = new Map<string, Waiter<void>>();
  private readonly reads = new Map<string, ReadBatch>();
  private readonly transfers: { to: NodeId; waiter: Waiter<NodeId> }[] = [];

  private readonly counts: NodeCounters = { readies: 0, fsyncs: 0, fsyncMicros: 0, proposals: 0, readIndexes: 0 };
  private scheduled = false;
  // Invariant: true from the start of a turn until it ends, including while it waits for an fsync; no second turn
  // starts meanwhile (the RawNode allows one Ready at a time, and advance() must follow the write).
  private running = false;
  private ticker: NodeJS.Timeout | null = null;
  private stopped = false;
  private removed = false;

  constructor(
    private readonly opts: NodeOptions,
    start: NodeStart,
    private readonly hooks: NodeHooks,
  ) {
    this.storage = start.storage;
    this.persistence = start.persistence;
    this.members = start.members;
    this.appliedIndex = start.snapshot.metadata.index;
    this.snapshotIndex = start.snapshot.metadata.index;
    this.confState = start.snapshot.metadata.confState;
    const durable = start.storage.initialState().hardState;
    this.durableTerm = durable.term;
    this.durableVote = durable.vote;
    if (!isEmptySnapshot(start.snapshot)) restoreSnapshotData(start.snapshot.data, this.kv, this.members);
    this.raw = new RawNode({
      id: opts.id,
      electionTick: opts.electionTicks,
      heartbeatTick: opts.heartbeatTicks,
      storage: this.storage,
      applied: this.appliedIndex,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      maxUncommittedEntriesSize: 1 << 30,
      checkQuorum: true,
      preVote: true,
      stepDownOnRemoval: true,
      logger: opts.logger,
      // Election timeouts must differ between members and between runs; the core takes its randomness from here.
      rand: new SeededRand(crypto.randomBytes(4).readUInt32BE(0)),
    });
    if (start.bootstrap.length > 0) this.raw.bootstrap(start.bootstrap);
    this.hooks.onPeersChanged(this.members);
  }

  /** Starts the clock; the loop runs whenever there is work. */
  start(): void {
    this.ticker = setInterval(() => {
      this.inTicks++;
      this.schedule();
    }, this.opts.tickMs);
    this.schedule();
  }

  /** Stops the clock and fails every waiting request. Safe to call twice. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    const err = new KvError('Stopped', `Member ${this.opts.id} is stopping`);
    for (const w of this.proposals.values()) settle(w, () => w.reject(err));
    for (const w of this.confChanges.values()) settle(w, () => w.reject(err));
    for (const b of this.reads.values()) for (const w of b.waiters) settle(w, () => w.reject(err));
    for (const p of this.inProposals) settle(p.waiter, () => p.waiter.reject(err));
    for (const w of this.inReads) settle(w, () => w.reject(err));
    for (const t of this.transfers) settle(t.waiter, () => t.waiter.reject(err));
    try {
      this.persistence.close();
    } catch (closeErr) {
      this.opts.logger.error(`closing the WAL failed: ${closeErr instanceof Error ? closeErr.message : String(closeErr)}`);
    }
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  // ## Entry points (any time, from HTTP handlers); each queues work and wakes the loop.

  /** Messages from the transport. */
  deliver(msgs: Message[]): void {
    if (this.stopped) return;
    for (const m of msgs) this.inMessages.push(m);
    this.schedule();
  }

  reportUnreachable(id: NodeId): void {
    this.report(() => this.raw.reportUnreachable(id));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.report(() => this.raw.reportSnapshot(id, ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure));
  }

  /** Proposes a write; resolves once it is applied on THIS node, so a read here right after sees it. */
  propose(op: CommandOp, key: string, value: Uint8Array): Promise<ApplyResult> {
    this.checkServing();
    const seq = ++this.seq;
    const cmd: Command = { op, epoch: this.epoch, seq, key, value };
    return new Promise<ApplyResult>((resolve, reject) => {
      const waiter = this.waiter<ApplyResult>(resolve, reject, () => {
        this.proposals.delete(seq);
        return new KvError('OutcomeUnknown', `Write to "${key}" was proposed but not applied within ${this.opts.requestTimeoutMs} ms; it may or may not take effect`);
      });
      this.proposals.set(seq, waiter);
      this.inProposals.push({ seq, data: encodeCommand(cmd), waiter });
      this.schedule();
    });
  }

  /**
   * Waits until a read on this node would be linearizable: ReadIndex (§8, thesis §6.4) confirms this node's
   * leader still leads and gives the commit index at the time of the request; once that index is applied, the
   * local map reflects every write acknowledged before the read began.
   */
  readBarrier(): Promise<void> {
    this.checkServing();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter<void> = this.waiter<void>(resolve, reject, () => {
        this.inReads = this.inReads.filter((w) => w !== waiter);
        // A ReadState may never come (the leader changed); forget batches nobody waits for any more.
        for (const [key, b] of this.reads) {
          b.waiters = b.waiters.filter((w) => w !== waiter);
          if (b.waiters.length === 0) this.reads.delete(key);
        }
        return new KvError('Unavailable', `Read could not be confirmed by a quorum within ${this.opts.requestTimeoutMs} ms`);
      });
      this.inReads.push(waiter);
      this.schedule();
    });
  }

  /** Proposes a configuration change and resolves once this node has applied it. */
  proposeConfChange(cc: ConfChange, requestTag: string): Promise<void> {
    this.checkServing();
    return new Promise<void>((resolve, reject) => {
      const waiter = this.waiter<void>(resolve, reject, () => {
        this.confChanges.delete(requestTag);
        return new KvError('OutcomeUnknown', `Membership change was proposed but not applied within ${this.opts.requestTimeoutMs} ms; check the member list`);
      });
      this.confChanges.set(requestTag, waiter);
      this.report(() => {
        try {
          this.raw.proposeConfChange(cc);
        } catch (err) {
          this.confChanges.delete(requestTag);
          settle(waiter, () => waiter.reject(toKvError(err)));
        }
      });
    });
  }

  /** A fresh tag for a configuration change's context, matched when the change is applied. */
  nextRequestTag(): string {
    return `${this.epoch}:${++this.seq}`;
  }

  /** Asks the leader to hand leadership to `to` (thesis §3.10); resolves with the new leader. */
  transferLeader(to: NodeId): Promise<NodeId> {
    this.checkServing();
    return new Promise<NodeId>((resolve, reject) => {
      const waiter: Waiter<NodeId> = this.waiter<NodeId>(resolve, reject, () => {
        const i = this.transfers.findIndex((t) => t.waiter === waiter);
        if (i >= 0) this.transfers.splice(i, 1);
        return new KvError('Unavailable', `Leadership did not move to member ${to} within ${this.opts.requestTimeoutMs} ms`);
      });
      this.transfers.push({ to, waiter });
      this.report(() => this.raw.transferLeader(to));
    });
  }

  // ## What the API reports.

  get id(): NodeId {
    return this.opts.id;
  }

  get leaderId(): NodeId {
    return this.leader;
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get lastSnapshotIndex(): number {
    return this.snapshotIndex;
  }

  get role(): StateType {
    return this.role_;
  }

  /** Term, vote and commit index, as of the last Ready (which is durable by the time anyone can ask). */
  hardState(): HardState {
    const s = this.raw.basicStatus();
    return { term: s.term, vote: s.vote, commit: s.commit };
  }

  /** The loop's and the transport's running totals. */
  counters(): NodeCounters & { peerRequests: number; peerMessages: number } {
    return { ...this.counts, ...this.hooks.peerCounters() };
  }

  /** What the leader knows of each peer's log (empty on a follower). */
  progress(): Map<NodeId, PeerProgress> {
    const out = new Map<NodeId, PeerProgress>();
    for (const [id, pr] of this.raw.status().progress) {
      out.set(id, { match: pr.match, next: pr.next, state: ProgressState[pr.state] ?? String(pr.state), recentActive: pr.recentActive });
    }
    return out;
  }

  // ## The loop.

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    // Work queued during a turn is picked up by that turn's next round, or by a turn started when it ends.
    if (!this.running) setImmediate(() => void this.turn());
  }

  private report(fn: () => void): void {
    if (this.stopped) return;
    this.inReports.push(fn);
    this.schedule();
  }

  // One turn: hand everything queued to the RawNode, then handle Readies until there are none. Only the fsync is
  // awaited; requests that arrive meanwhile are queued and drained into the next Ready of the same turn.
  private async turn(): Promise<void> {
    this.scheduled = false;
    if (this.stopped) return;
    this.running = true;
    try {
      for (;;) {
        this.scheduled = false;
        this.drain();
        if (this.stopped || !this.raw.hasReady()) break;
        const rd = this.raw.ready();
        await this.handleReady(rd);
        // stop() may have run during the fsync: the WAL is closed and every waiter failed; touch nothing more.
        if (this.stopped) return;
        this.raw.advance();
        this.maybeSnapshot();
      }
    } catch (err) {
      // A failed write to the WAL leaves memory ahead of the disk; carrying on could acknowledge what a restart
      // would forget. Stop, and let the operator restart from the files.
      const reason = err instanceof Error ? (err.stack ?? err.message) : String(err);
      this.opts.logger.error(`the Ready loop failed: ${reason}`);
      this.stop();
      this.hooks.onStopped(`the Ready loop failed: ${err instanceof Error ? err.message : String(err)}`, true);
      return;
    } finally {
      this.running = false;
    }
    if (this.removed) {
      this.stop();
      this.hooks.onStopped('this member was removed from the cluster', false);
      return;
    }
    if (this.scheduled) setImmediate(() => void this.turn());
  }

  private drain(): void {
    // Messages before ticks: a heartbeat that already arrived must count before the election timer runs out.
    const msgs = this.inMessages;
    this.inMessages = [];
    for (const m of msgs) {
      try {
        this.raw.step(m);
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
    for (; this.inTicks > 0; this.inTicks--) this.raw.tick();
    const proposals = this.inProposals;
    this.inProposals = [];
    // A proposal forwarded to a leader this member cannot reach would be lost and answered only by a timeout, with
    // an unknown outcome. Refusing it here, before it exists, lets the client retry safely.
    const leaderReachable = this.leader === this.opts.id || (this.leader !== None && this.hooks.peerReachable(this.leader));
    for (const p of proposals) {
      if (!leaderReachable) {
        const why = this.leader === None ? 'No leader is known' : `Leader ${this.leader} is unreachable from member ${this.opts.id}`;
        this.failProposal(p.seq, new KvError('NoLeader', `${why}; retry shortly`));
        continue;
      }
      try {
        this.raw.propose(p.data);
        this.counts.proposals++;
      } catch (err) {
        this.failProposal(p.seq, toKvError(err));
      }
    }
    // One ReadIndex request covers every read that arrived in this turn.
    if (this.inReads.length > 0) {
      const waiters = this.inReads;
      this.inReads = [];
      if (!leaderReachable) {
        const err = new KvError('NoLeader', 'No reachable leader to confirm a linearizable read; retry shortly');
        for (const w of waiters) settle(w, () => w.reject(err));
      } else {
        const ctx = Buffer.allocUnsafe(10);
        ctx.writeUInt32BE(this.epoch, 0);
        ctx.writeUIntBE(++this.seq, 4, 6);
        this.reads.set(ctx.toString('hex'), { index: 0, waiters });
        this.raw.readIndex(ctx);
        this.counts.readIndexes++;
      }
    }
  }

  private failProposal(seq: number, err: KvError): void {
    const waiter = this.proposals.get(seq);
    if (waiter === undefined) return;
    this.proposals.delete(seq);
    settle(waiter, () => waiter.reject(err));
  }

  private async handleReady(rd: Ready): Promise<void> {
    this.counts.readies++;
    if (rd.softState !== null) this.noteSoftState(rd.softState.lead, rd.softState.raftState);

    // (c, early) Thesis §10.2.1: a leader may send its appends while it writes the same entries to its own disk.
    // Every message that promises durable state waits for step (b); see sendBeforePersist.
    const afterPersist = this.sendBeforePersist(rd);

    // (a) A snapshot from the leader replaces our log prefix: its file and WAL record first, so that a crash
    // right after still finds the snapshot the WAL refers to.
    if (!isEmptySnapshot(rd.snapshot)) {
      this.persistence.saveSnapshot(rd.snapshot);
      this.storage.applySnapshot(rd.snapshot);
    }
    // (b) Figure 2, S1: currentTerm, votedFor and the log reach stable storage before we answer anyone.
    this.persistence.write(rd.hardState, rd.entries);
    if (rd.mustSync) {
      this.counts.fsyncs++;
      const started = process.hrtime.bigint();
      await this.persistence.sync();
      this.counts.fsyncMicros += Number((process.hrtime.bigint() - started) / 1000n);
      if (this.stopped) return;
    }
    if (!isEmptyHardState(rd.hardState)) {
      this.storage.setHardState(rd.hardState);
      this.durableTerm = rd.hardState.term;
      this.durableVote = rd.hardState.vote;
    }
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    // Only once snapshot, marker and HardState are all durable may older WAL segments and snapshot files go.
    if (!isEmptySnapshot(rd.snapshot)) this.persistence.release(rd.snapshot);

    // (c) Only now may our votes and acknowledgements leave.
    if (afterPersist.length > 0) this.hooks.send(afterPersist);

    // (d) Apply: first a received snapshot, then committed entries in order (rule A1 of Figure 2).
    if (!isEmptySnapshot(rd.snapshot)) this.applySnapshot(rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(e);

    for (const rs of rd.readStates) {
      const batch = this.reads.get(Buffer.from(rs.requestCtx).toString('hex'));
      if (batch !== undefined) batch.index = rs.index;
    }
    this.serveReads();
  }

  /**
   * Sends now, before the Ready's write, the messages a leader may send early, and returns the rest (to go after
   * the write). Thesis §10.2.1: the leader may send AppendEntries to its followers in parallel with writing to its own
   * disk, because it counts itself towards the commit quorum only once its own write is done; the core guarantees
   * that by holding back the leader's self-acknowledgement until advance() (docs/ready-contract.md). Committing on
   * the followers' acknowledgements alone is still §5.4 commitment: the entry is durable on a majority.
   *
   * The rule, exactly: only while this member is leader, only when the Ready changes neither term nor vote and
   * carries no snapshot, and only messages that promise nothing about this member's disk (MsgApp, MsgHeartbeat,
   * MsgSnap, MsgTimeoutNow, MsgReadIndexResp, ...). MsgAppResp and the vote responses always wait for the fsync,
   * and so does everything a follower or candidate sends: its messages are acknowledgements and votes (S1, RV2).
   */
  private sendBeforePersist(rd: Ready): Message[] {
    if (rd.messages.length === 0 || this.role_ !== StateType.StateLeader || !isEmptySnapshot(rd.snapshot)) return rd.messages;
    const hs = rd.hardState;
    if (!isEmptyHardState(hs) && (hs.term !== this.durableTerm || hs.vote !== this.durableVote)) return rd.messages;
    const early: Message[] = [];
    const late: Message[] = [];
    for (const m of rd.messages) (promisesDurability(m.type) ? late : early).push(m);
    if (early.length > 0) this.hooks.send(early);
    return late;
  }

  private noteSoftState(lead: NodeId, role: StateType): void {
    if (lead !== this.leader) {
      this.opts.logger.info(lead === None ? 'lost the leader' : `leader is now member ${lead}`);
    }
    this.leader = lead;
    this.role_ = role;
    for (let i = this.transfers.length - 1; i >= 0; i--) {
      const t = this.transfers[i];
      if (t !== undefined && lead === t.to) {
        this.transfers.splice(i, 1);
        settle(t.waiter, () => t.waiter.resolve(lead));
      }
    }
  }

  private applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.appliedIndex) return;
    this.opts.logger.info(`applying snapshot at index ${snap.metadata.index} (term ${snap.metadata.term})`);
    restoreSnapshotData(snap.data, this.kv, this.members);
    this.confState = snap.metadata.confState;
    this.appliedIndex = snap.metadata.index;
    this.snapshotIndex = snap.metadata.index;
    this.members.syncRoles(this.confState);
    this.hooks.onPeersChanged(this.members);
    if (this.members.isRemoved(this.opts.id)) this.removed = true;
  }

  private applyEntry(e: Entry): void {
    if (e.index <= this.appliedIndex) return;
    switch (e.type) {
      case EntryType.EntryNormal:
        if (e.data.length > 0) this.applyCommand(decodeCommand(e.data));
        break;
      case EntryType.EntryConfChange:
        this.applyConfChange(decodeConfChange(e.data));
        break;
      case EntryType.EntryConfChangeV2:
        // tsraft proposes only single-member changes; a V2 entry still changes the configuration.
        this.confState = this.raw.applyConfChange(decodeConfChangeV2(e.data));
        this.members.syncRoles(this.confState);
        this.confChangedSinceSnapshot = true;
        break;
    }
    this.appliedIndex = e.index;
  }

  private applyCommand(cmd: Command): void {
    const result =
      cmd.op === CommandOp.PublishClientURL
        ? { existed: this.members.setClientURL(Number(cmd.key), Buffer.from(cmd.value).toString('utf8')) }
        : this.kv.apply(cmd);
    if (cmd.epoch !== this.epoch) return;
    const waiter = this.proposals.get(cmd.seq);
    if (waiter === undefined) return;
    this.proposals.delete(cmd.seq);
    settle(waiter, () => waiter.resolve(result));
  }

  private applyConfChange(cc: ConfChange): void {
    this.confState = this.raw.applyConfChange(cc);
    this.confChangedSinceSnapshot = true;
    this.members.applyConfChange(cc, this.confState);
    this.hooks.onPeersChanged(this.members);
    if (this.members.isRemoved(this.opts.id)) this.removed = true;
    const tag = decodeMemberContext(cc.context).request;
    const waiter = tag === undefined ? undefined : this.confChanges.get(tag);
    if (tag !== undefined && waiter !== undefined) {
      this.confChanges.delete(tag);
      settle(waiter, () => waiter.resolve());
    }
  }

  private serveReads(): void {
    for (const [key, batch] of this.reads) {
      if (batch.index === 0 || batch.index > this.appliedIndex) continue;
      this.reads.delete(key);
      for (const w of batch.waiters) settle(w, () => w.resolve());
    }
  }

  // §7: once enough entries are applied, the map itself stands in for them. Keep `snapshotCatchup` entries so a
  // follower that is only slightly behind gets entries rather than a whole snapshot.
  //
  // A configuration change also calls for a snapshot once the log has been compacted. A new member can then only
  // catch up from a snapshot (§7), and the leader sends its newest one; a snapshot from before the change does not
  // list the new member, and Raft refuses to restore a snapshot whose configuration leaves the node out.
  private maybeSnapshot(): void {
    const dueByCount = this.appliedIndex - this.snapshotIndex >= this.opts.snapshotCount;
    const dueByConfChange = this.confChangedSinceSnapshot && this.storage.firstIndex() > 1 && this.appliedIndex > this.snapshotIndex;
    if (!dueByCount && !dueByConfChange) return;
    this.confChangedSinceSnapshot = false;
    const snap = this.storage.createSnapshot(this.appliedIndex, this.confState, encodeSnapshotData(this.kv, this.members));
    this.persistence.saveSnapshot(snap);
    const compactTo = this.appliedIndex - this.opts.snapshotCatchup;
    if (compactTo > this.storage.firstIndex()) this.storage.compact(compactTo);
    this.persistence.release(snap);
    this.snapshotIndex = this.appliedIndex;
    this.opts.logger.info(`saved snapshot at index ${snap.metadata.index}; log compacted to ${Math.max(compactTo, 0)}`);
  }

  private checkServing(): void {
    if (this.stopped) throw new KvError('Stopped', `Member ${this.opts.id} has stopped`);
  }

  private waiter<T>(resolve: (v: T) => void, reject: (e: KvError) => void, onTimeout: () => KvError): Waiter<T> {
    const w: Waiter<T> = {
      resolve,
      reject,
      timer: setTimeout(() => reject(onTimeout()), this.opts.requestTimeoutMs),
    };
    return w;
  }
}

// Responses that vouch for this member's stable storage: an acknowledged append (AE4) or a vote (RV2).
function promisesDurability(type: MessageType): boolean {
  return type === MessageType.MsgAppResp || type === MessageType.MsgVoteResp || type === MessageType.MsgPreVoteResp;
}

function settle<T>(w: Waiter<T>, fn: () => void): void {
  clearTimeout(w.timer);
  fn();
}

function toKvError(err: unknown): KvError {
  if (err instanceof KvError) return err;
  if (err instanceof RaftError && err.code === 'ProposalDropped') {
    return new KvError('NoLeader', 'The proposal was dropped (no leader, or leadership is moving); retry shortly');
  }
  return new KvError('Internal', err instanceof Error ? err.message : String(err));
}
