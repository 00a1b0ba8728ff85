// # A follower's progress, as the leader sees it
//
// Figure 2 gives the leader two numbers per follower: nextIndex, the next entry to send, and matchIndex, the highest
// entry known to be replicated there (state S3, rules L3 and L4). etcd adds flow control around them: a replication
// state (probe, replicate, snapshot; see state.ts), a window of appends in flight, a pause flag for probes, and the
// commit index already sent, so that an idle follower still learns the commit index without being flooded.

import { RaftPanic } from '../logger';
import type { NodeId } from '../types';
import { Inflights } from './inflights';
import { StateType } from './state';

/** The fields a new Progress starts from; the rest start at their zero values, in StateProbe. */
export interface ProgressInit {
  match?: number;
  next: number;
  inflights: Inflights;
  isLearner?: boolean;
  recentActive?: boolean;
}

/** The leader's view of one follower (or learner), and the rules by which it changes. */
export class Progress {
  /** matchIndex (S3): the follower's log is known to match the leader's up to here. Never decreases. */
  match: number;
  /**
   * nextIndex (S3): the next entry to send. Entries in (match, next) are in flight.
   * Invariant: 0 <= match < next. In StateSnapshot, next == pendingSnapshot + 1.
   */
  next: number;
  /** How the leader currently replicates to this follower. */
  state: StateType = StateType.StateProbe;
  /**
   * In StateSnapshot: the index of the snapshot sent. Replication resumes once the follower reports a match from
   * which the log can continue, whatever snapshot it actually applied.
   */
  pendingSnapshot = 0;
  /**
   * The follower was heard from since the last check-quorum round (thesis §6.2: a leader that cannot hear a
   * majority steps down).
   */
  recentActive: boolean;
  /**
   * Appends are paused: in StateProbe after each probe until an answer or a heartbeat response; in StateReplicate
   * while the inflight window is full.
   */
  msgAppFlowPaused = false;
  /** The appends in flight, used in StateReplicate. */
  inflights: Inflights;
  /** This peer is a learner: it receives the log but neither votes nor counts toward commitment. */
  isLearner: boolean;
  // The highest commit index sent to the follower. Invariant: in StateSnapshot, equal to pendingSnapshot.
  private sentCommitIndex = 0;

  constructor(init: ProgressInit) {
    this.match = init.match ?? 0;
    this.next = init.next;
    this.inflights = init.inflights;
    this.isLearner = init.isLearner ?? false;
    this.recentActive = init.recentActive ?? false;
  }

  /** A copy sharing no state with this one. */
  clone(): Progress {
    const copy = new Progress({
      match: this.match,
      next: this.next,
      inflights: this.inflights.clone(),
      isLearner: this.isLearner,
      recentActive: this.recentActive,
    });
    copy.state = this.state;
    copy.pendingSnapshot = this.pendingSnapshot;
    copy.msgAppFlowPaused = this.msgAppFlowPaused;
    copy.sentCommitIndex = this.sentCommitIndex;
    return copy;
  }

  /** Enters `state` afresh: unpaused, no pending snapshot, nothing in flight. */
  resetState(state: StateType): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /**
   * Falls back to probing from match+1. After a snapshot, the follower has (at least) the snapshot, so probing
   * starts after it.
   */
  becomeProbe(): void {
    if (this.state === StateType.StateSnapshot) {
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState(StateType.StateProbe);
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState(StateType.StateProbe);
      this.next = this.match + 1;
    }
    this.sentCommitIndex = Math.min(this.sentCommitIndex, this.next - 1);
  }

  /** Starts streaming appends from match+1: the follower's log is known to match up to `match`. */
  becomeReplicate(): void {
    this.resetState(StateType.StateReplicate);
    this.next = this.match + 1;
  }

  /** Records that a snapshot at `snapshotIndex` was sent (§7); appends wait until the follower reports back. */
  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(StateType.StateSnapshot);
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
    this.sentCommitIndex = snapshotIndex;
  }

  /**
   * Updates the flow control for an append of `entries` entries (`bytes` of payload) starting at `next`. In
   * StateReplicate `next` moves past them optimistically and the append joins the inflight window; in StateProbe a
   * non-empty append is a probe, and further ones wait for its answer.
   */
  sentEntries(entries: number, bytes: number): void {
    switch (this.state) {
      case StateType.StateReplicate:
        if (entries > 0) {
          this.next += entries;
          this.inflights.add(this.next - 1, bytes);
        }
        // A full window turns this append into the last one until acknowledgements free some room.
        this.msgAppFlowPaused = this.inflights.full();
        break;
      case StateType.StateProbe:
        if (entries > 0) this.msgAppFlowPaused = true;
        break;
      default:
        throw new RaftPanic(`sending append in unhandled state ${StateType[this.state]}`);
    }
  }

  /**
   * Whether sending commit index `index` could advance the follower's commit index: it is above what was already
   * sent, and what was sent has not yet covered everything the follower may hold (up to next-1).
   */
  canBumpCommit(index: number): boolean {
    return index > this.sentCommitIndex && this.sentCommitIndex < this.next - 1;
  }

  /** Records that commit index `commit` was sent to the follower. */
  sentCommit(commit: number): void {
    this.sentCommitIndex = commit;
  }

  /**
   * Handles an accepted append up to `n` (rule L3: update nextIndex and matchIndex). Returns false for a stale
   * acknowledgement at or below `match`.
   */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * Handles an append rejected at index `rejected`, with the follower's hint that its log may match up to
   * `matchHint` (rule L3: decrement nextIndex and retry, here by more than one when the hint allows). Returns false
   * for a stale rejection, which leaves the progress unchanged.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === StateType.StateReplicate) {
      // Entries up to match are known to be accepted, so a rejection at or below it is stale.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      this.sentCommitIndex = Math.min(this.sentCommitIndex, this.next - 1);
      return true;
    }
    // Outside StateReplicate one probe is in flight at a time, ending at next-1; a rejection of anything else is
    // stale (best effort: messages are rarely reordered).
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.sentCommitIndex = Math.min(this.sentCommitIndex, this.next - 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /** Whether appends to this follower are throttled: paused, or waiting for a snapshot. */
  isPaused(): boolean {
    switch (this.state) {
      case StateType.StateProbe:
      case StateType.StateReplicate:
        return this.msgAppFlowPaused;
      case StateType.StateSnapshot:
        return true;
    }
  }

  /** etcd's rendering, e.g. "StateReplicate match=11 next=15 paused inflight=3[full]". */
  toString(): string {
    let s = `${StateType[this.state]} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    const n = this.inflights.count();
    if (n > 0) {
      s += ` inflight=${n}`;
      if (this.inflights.full()) s += '[full]';
    }
    return s;
  }
}

/** Every tracked peer's Progress, by node ID. */
export class ProgressMap extends Map<NodeId, Progress> {
  /** One "id: progress" line per peer, in ID order, as etcd prints it. */
  override toString(): string {
    return [...this.keys()]
      .sort((a, b) => a - b)
      .map((id) => `${id}: ${String(this.get(id))}\n`)
      .join('');
  }
}
