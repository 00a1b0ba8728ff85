// # A member of the replicated key-value store
//
// `RaftNode` is what the rest of the service sees of a member: the HTTP API queues requests through it and reads
// the state it reports. Behind it, three modules do the work:
//
// - kvstore/loop.ts: the Ready loop, the only code that touches the RawNode, the disk and the peers;
// - kvstore/requests.ts: the requests waiting on the core, their timers, and the error each failure answers with;
// - kvstore/apply.ts: the committed log applied to the key-value map and the membership registry.
//
// The durable side is an interface (`Persistence`, implemented on wal/ and snap/ by kvstore/disk.ts), so the whole
// member can run against a fake disk that records what was written and synced, and when.

import crypto from 'node:crypto';
import { Logger } from '../raft/logger';
import { RawNode, Ready, SnapshotStatus } from '../raft/rawnode';
import { SeededRand } from '../raft/rand';
import { MemoryStorage } from '../raft/storage';
import { StateType as ProgressState } from '../raft/tracker/state';
import { ConfChange, Entry, HardState, Message, NodeId, None, Snapshot, StateType } from '../raft/types';
import { KvApplier } from './apply';
import { CommandOp } from './command';
import { KvError } from './errors';
import { ApplyResult, KvStore } from './kv';
import { ReadyLoop } from './loop';
import { Membership } from './members';
import { Requests } from './requests';

/** Where the loop makes state durable (kvstore/disk.ts on wal/ and snap/). */
export interface Persistence {
  /**
   * Writes the snapshot file, then its WAL record (so the WAL never points at a missing snapshot). Like `write`, it
   * is durable only once a later `sync()` resolves. For a snapshot received from the leader.
   */
  saveSnapshot(snap: Snapshot): void;
  /**
   * Writes the file of a snapshot this member took, durably, awaiting `pause()` between slices of it so that the
   * member serves meanwhile. `recordSnapshot` follows, once the file is durable.
   */
  writeSnapshotFile(snap: Snapshot, pause: () => Promise<void>): Promise<void>;
  /** Appends the WAL record of a snapshot whose file is durable; durable itself once a later `sync()` resolves. */
  recordSnapshot(snap: Snapshot): void;
  /** Appends the HardState and entries to the WAL, without waiting for the disk. */
  write(hardState: Ready['hardState'], entries: Entry[]): void;
  /**
   * Makes everything written so far durable (fdatasync). Normally in libuv's thread pool, so the event loop keeps
   * accepting requests and peer messages while the disk works; they join the next Ready. With `onLoopThread` the
   * fdatasync runs on the calling thread instead and the promise is settled when this returns: for a member with
   * nothing to overlap (see kvstore/loop.ts, "Where the fdatasync runs").
   */
  sync(onLoopThread?: boolean): Promise<void>;
  /**
   * Lets the WAL and snapshot files older than `snap` go. The loop calls it only after a `sync()` that covers the
   * snapshot, its WAL record and the HardState written after it: purged files cannot come back, so the newer state
   * must be recoverable before they go.
   */
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
  /** How long a write or read may wait for a reachable leader before it fails with NoLeader (kvstore/requests.ts). */
  leaderWaitMs: number;
  logger: Logger;
  /** Seeds the core's randomness (election timeouts); by default the operating system's. Tests fix it to replay a run. */
  randSeed?: number;
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
  /** Fsyncs of the WAL: Readys with `mustSync` or a snapshot, and snapshots this member took. */
  fsyncs: number;
  /** Time the loop waited for those fsyncs, in microseconds: the disk's share of a write's latency. */
  fsyncMicros: number;
  /** Of `fsyncs`, those run on the loop's own thread because the member was quiet (kvstore/loop.ts). */
  fsyncsOnLoop: number;
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
  /** Appends sent and not yet acknowledged (the flow-control window in use). */
  inflight: number;
}

/** A node of the replicated key-value store: the RawNode, its storage, the map, and the loop between them. */
export class RaftNode {
  readonly members: Membership;
  private readonly raw: RawNode;
  private readonly storage: MemoryStorage;
  private readonly persistence: Persistence;
  private readonly requests: Requests;
  private readonly applier: KvApplier;
  private readonly loop: ReadyLoop;
  // The commit index this node started from (its HardState's, or a bootstrap's): serializable reads and the first
  // election wait until it is applied.
  private readonly commitAtStart: number;
  private ticker: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly opts: NodeOptions,
    start: NodeStart,
    private readonly hooks: NodeHooks,
  ) {
    this.persistence = start.persistence;
    this.storage = start.storage;
    this.members = start.members;
    this.raw = new RawNode({
      id: opts.id,
      electionTick: opts.electionTicks,
      heartbeatTick: opts.heartbeatTicks,
      storage: start.storage,
      applied: start.snapshot.metadata.index,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      // A follower far behind would otherwise be sent 256 appends of 1 MiB in one Ready: encoding and writing them
      // holds the leader's only thread for seconds, long enough for every peer stream to miss its keepalives. Bytes
      // in flight are capped instead; small entries never reach the cap, so the write path is unchanged.
      maxInflightBytes: 8 * 1024 * 1024,
      maxUncommittedEntriesSize: 1 << 30,
      checkQuorum: true,
      preVote: true,
      stepDownOnRemoval: true,
      logger: opts.logger,
      // Election timeouts must differ between members and between runs; the core takes its randomness from here.
      rand: new SeededRand(opts.randSeed ?? crypto.randomBytes(4).readUInt32BE(0)),
    });
    if (start.bootstrap.length > 0) this.raw.bootstrap(start.bootstrap);
    // After a bootstrap, which commits the founding configuration in memory.
    this.commitAtStart = this.raw.basicStatus().commit;
    this.requests = new Requests(opts.id, opts.requestTimeoutMs, opts.leaderWaitMs);
    this.applier = new KvApplier(opts.id, start.members, start.snapshot, this.raw, {
      commandApplied: (cmd, result) => this.requests.commandApplied(cmd, result),
      confChangeApplied: (tag, refusal) => this.requests.confChangeApplied(tag, refusal),
      membersChanged: (members) => hooks.onPeersChanged(members),
    });
    this.loop = new ReadyLoop(opts, {
      raw: this.raw,
      storage: start.storage,
      persistence: start.persistence,
      requests: this.requests,
      applier: this.applier,
      hooks,
      halt: (reason, failed) => {
        this.stop();
        hooks.onStopped(reason, failed);
      },
    });
    this.hooks.onPeersChanged(this.members);
  }

  /** The key-value map, as applied on this member. */
  get kv(): KvStore {
    return this.applier.kv;
  }

  /** Starts the clock; the loop runs whenever there is work. */
  start(): void {
    this.ticker = setInterval(() => this.loop.tick(), this.opts.tickMs);
    this.loop.schedule();
  }

  /**
   * Moves the election clock forward by `ticks`, as if that much time had passed without a word from a leader. A
   * starting member calls it once it can reach a quorum (kvstore/serve.ts): the first election of a new cluster,
   * or of a cluster restarting all at once, then comes one tick plus the randomised part of the timeout after it
   * rather than a whole timeout, and a leader that is alive resets the clock with its next heartbeat anyway. etcd's
   * server does the same when it starts (its "advance ticks"). PreVote keeps a member that advanced too far from
   * disturbing a leader it has not yet heard from: the others, hearing from that leader, refuse to vote.
   */
  advanceTicks(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.loop.tick();
  }

  /** Stops the clock and fails every waiting request. Safe to call twice. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.loop.stop();
    if (this.ticker !== null) clearInterval(this.ticker);
    this.requests.failAll();
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
    this.loop.deliver(msgs);
  }

  reportUnreachable(id: NodeId): void {
    this.loop.report(() => this.raw.reportUnreachable(id));
  }

  // A leader that crashed is found out by the election timeout (§5.2): a second or more of a cluster that takes no
  // writes, though each follower could tell at once. Its dial to the leader's peer address was refused, and a refusal
  // means no process listens there: the leader's process is gone, and with it the leadership of its term (a restarted
  // process comes back a follower). So the follower forgets its leader, which lets it grant the other followers'
  // pre-votes at once (with CheckQuorum a follower refuses them while it believes in a leader, thesis §4.2.3), and
  // moves its election clock to one tick short of the timeout's lower bound, as a starting member does (advanceTicks).
  // What is left to wait is one tick plus the randomised part of the timeout, still there to keep the survivors from
  // splitting the vote. Safety never rests on timing; at worst a follower that was wrong about the leader runs a
  // pre-vote that the others, still hearing from the leader, turn down. A peer that is merely slow or cut off keeps its
  // connections open or drops them silently; only a refusal counts.
  reportGone(id: NodeId): void {
    this.loop.report(() => {
      const { raftState, lead } = this.raw.basicStatus();
      if (raftState !== StateType.StateFollower || lead !== id) return;
      this.raw.forgetLeader();
      // The core ignores the request when lease-based reads rely on the old leader's lease.
      if (this.raw.basicStatus().lead !== None) return;
      this.opts.logger.info(`leader ${id}'s peer address refuses connections: its process is gone; forgot it and advanced the election clock`);
      // Queued ticks run after the reports of the same turn, so these count from the forgotten leader on.
      this.advanceTicks(this.opts.electionTicks - 1);
    });
  }

  // A peer's stream is open again after failing, most often because the peer restarted. The leader heartbeats at
  // once rather than at its next tick: a restarted follower serves nothing until it hears who leads.
  reportReachable(): void {
    this.loop.report(() => this.raw.ping());
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.loop.report(() => this.raw.reportSnapshot(id, ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure));
  }

  /** Proposes a write; resolves once it is applied on THIS node, so a read here right after sees it. */
  propose(op: CommandOp, key: string, value: Uint8Array): Promise<ApplyResult> {
    this.checkServing();
    const applied = this.requests.propose(op, key, value);
    this.loop.submit();
    return applied;
  }

  /**
   * Waits until a read on this node would be linearizable: ReadIndex (§8, thesis §6.4) confirms this node's
   * leader still leads and gives the commit index at the time of the request; once that index is applied, the
   * local map reflects every write acknowledged before the read began.
   */
  readBarrier(): Promise<void> {
    this.checkServing();
    const confirmed = this.requests.readBarrier();
    this.loop.submit();
    return confirmed;
  }

  /**
   * Waits until a serializable read on this node would not go back in time: everything its own log held as
   * committed when it started is applied. A restarted member replays that part of its log in its first turns, and
   * until then its map is as old as its snapshot, older than what it may have served before it went down.
   */
  localReadBarrier(): Promise<void> {
    this.checkServing();
    if (this.replayed) return Promise.resolve();
    const caughtUp = this.requests.localReadBarrier(this.commitAtStart);
    this.loop.schedule();
    return caughtUp;
  }

  /** Whether this node has applied everything that was committed in its log when it started. */
  get replayed(): boolean {
    return this.applier.applied >= this.commitAtStart;
  }

  /** Proposes a configuration change and resolves once this node has applied it. */
  proposeConfChange(cc: ConfChange, requestTag: string): Promise<void> {
    this.checkServing();
    const applied = this.requests.proposeConfChange(cc, requestTag);
    this.loop.schedule();
    return applied;
  }

  /** A fresh tag for a configuration change's context, matched when the change is applied. */
  nextRequestTag(): string {
    return this.requests.nextRequestTag();
  }

  /** Asks the leader to hand leadership to `to` (thesis §3.10); resolves with the new leader. */
  transferLeader(to: NodeId): Promise<NodeId> {
    this.checkServing();
    const moved = this.requests.transferLeader(to);
    this.loop.schedule();
    return moved;
  }

  // ## What the API reports.

  get id(): NodeId {
    return this.opts.id;
  }

  get leaderId(): NodeId {
    return this.loop.leaderId;
  }

  get applied(): number {
    return this.applier.applied;
  }

  get lastSnapshotIndex(): number {
    return this.loop.lastSnapshotIndex;
  }

  get role(): StateType {
    return this.loop.role;
  }

  /** The term this member leads in, or 0 when it does not lead: the core's view now, not as of the last Ready. */
  leaderTerm(): number {
    const s = this.raw.basicStatus();
    return s.raftState === StateType.StateLeader ? s.term : 0;
  }

  /** Term, vote and commit index, as of the last Ready (which is durable by the time anyone can ask). */
  hardState(): HardState {
    const s = this.raw.basicStatus();
    return { term: s.term, vote: s.vote, commit: s.commit };
  }

  /** The loop's and the transport's running totals. */
  counters(): NodeCounters & { peerRequests: number; peerMessages: number } {
    return { ...this.loop.counts, ...this.hooks.peerCounters() };
  }

  /** What the leader knows of each peer's log (empty on a follower). */
  progress(): Map<NodeId, PeerProgress> {
    const out = new Map<NodeId, PeerProgress>();
    for (const [id, pr] of this.raw.status().progress) {
      out.set(id, { match: pr.match, next: pr.next, state: ProgressState[pr.state] ?? String(pr.state), recentActive: pr.recentActive, inflight: pr.inflights.count() });
    }
    return out;
  }

  /** The last `n` entries of the persisted log, oldest first (fewer after a compaction). */
  logTail(n: number): Entry[] {
    const last = this.storage.lastIndex();
    const first = Math.max(this.storage.firstIndex(), last - n + 1);
    return first > last ? [] : this.storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER);
  }

  private checkServing(): void {
    if (this.stopped) throw new KvError('Stopped', `Member ${this.opts.id} has stopped`);
  }
}
