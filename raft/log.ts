// # The replicated log
//
// `RaftLog` is one server's view of the log of Figure 2: the durable prefix in `Storage` (after the last snapshot,
// §7), followed by the `Unstable` tail not yet persisted. It also tracks how far the log is committed (S2: commit
// index) and how far the application has applied it (S2: last applied), with the rule between them:
//
//     applied <= applying <= committed <= lastIndex
//
// Appending follows the AppendEntries receiver rules: refuse without a match at prevLogIndex (AE2), drop a
// conflicting suffix (AE3), append what is new (AE4), advance the commit index (AE5).

import { Logger } from './logger';
import { Unstable } from './log_unstable';
import { Storage, StorageError } from './storage';
import { Entry, Snapshot } from './types';
import { EntryId, LogSlice, limitSize, noLimit, pbEntryId } from './util';

/** The log of one server: storage plus the unstable tail, with its commit and apply indexes. */
export class RaftLog {
  /** Everything persisted since the last snapshot. */
  readonly storage: Storage;
  /** Entries and a snapshot not yet persisted. */
  readonly unstable: Unstable;
  /**
   * The highest index known to be stored on a quorum, so it will never change (§5.3, §5.4.2).
   * Invariant: committed <= lastIndex().
   */
  committed: number;
  /**
   * The highest index handed to the application to apply; some of those may still be in flight.
   * Invariant: applied <= applying <= committed.
   */
  applying: number;
  /**
   * The highest index the application has applied to its state machine (A1).
   * Invariant: applied <= committed.
   */
  applied: number;
  readonly logger: Logger;
  /** The most bytes of entries handed out for applying and not yet acknowledged by `appliedTo`. */
  readonly maxApplyingEntsSize: number;
  /** Bytes of entries handed out for applying and not yet acknowledged. */
  applyingEntsSize = 0;
  /** Whether handing out committed entries is paused until the application acknowledges some. */
  applyingEntsPaused = false;

  constructor(storage: Storage, logger: Logger, maxApplyingEntsSize: number) {
    this.storage = storage;
    this.logger = logger;
    this.maxApplyingEntsSize = maxApplyingEntsSize;
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new Unstable(lastIndex + 1, logger);
    // Whatever a snapshot covers was committed and applied before it was taken (§7).
    this.committed = firstIndex - 1;
    this.applying = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  /** The state in one line, as etcd prints it when restoring a snapshot. */
  toString(): string {
    return (
      `committed=${this.committed}, applied=${this.applied}, applying=${this.applying}, ` +
      `unstable.offset=${this.unstable.offset}, unstable.offsetInProgress=${this.unstable.offsetInProgress}, ` +
      `len(unstable.Entries)=${this.unstable.entries.length}`
    );
  }

  /**
   * Appends the leader's slice `a` and commits up to `committed` if the log holds `a.prev` (AE2). Returns
   * [index of the last entry of `a`, true], or [0, false] when the log does not match.
   */
  maybeAppend(a: LogSlice, committed: number): [number, boolean] {
    if (!this.matchTerm(a.prev)) return [0, false];
    const lastNewIndex = a.prev.index + a.entries.length;
    const ci = this.findConflict(a.entries);
    if (ci !== 0) {
      // AE3: a committed entry can never conflict, or two servers would have committed different entries at one
      // index (State Machine Safety).
      if (ci <= this.committed) {
        this.logger.panic(`entry ${ci} conflict with committed entry [committed(${this.committed})]`);
      }
      const offset = a.prev.index + 1;
      if (ci - offset > a.entries.length) {
        this.logger.panic(`index, ${ci - offset}, is out of range [${a.entries.length}]`);
      }
      // AE4: only the entries from the first conflict or gap on are new.
      this.append(a.entries.slice(ci - offset));
    }
    // AE5: commit no further than the last entry this message vouches for; entries beyond it may still conflict.
    this.commitTo(Math.min(committed, lastNewIndex));
    return [lastNewIndex, true];
  }

  /** Appends `ents` after truncating whatever they overwrite; returns the new last index. */
  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0].index - 1;
    if (after < this.committed) {
      this.logger.panic(`after(${after}) is out of range [committed(${this.committed})]`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry of `ents` that is not in the log with the same term: the first conflict (same index,
   * other term, AE3) or, if none, the first new entry. 0 if the log already holds them all. `ents` must be
   * contiguous.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      const id = pbEntryId(e);
      if (!this.matchTerm(id)) {
        if (id.index <= this.lastIndex()) {
          this.logger.info(
            `found conflict at index ${id.index} [existing term: ${this.zeroTermOnOutOfBounds(id.index)}, ` +
              `conflicting term: ${id.term}]`,
          );
        }
        return id.index;
      }
    }
    return 0;
  }

  /**
   * A guess at where this log stops matching another log of which only the entry (index, term) is known: the largest
   * index <= `index` whose term is <= `term` or unknown (compacted or missing), with that term (0 if unknown). This is
   * the fast backup of the end of §5.3: one round trip skips a whole term of conflicting entries.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (; index > 0; index--) {
      let ourTerm: number;
      try {
        ourTerm = this.term(index);
      } catch (err) {
        // Compacted or unavailable: we cannot tell, so assume a match could be here.
        if (err instanceof StorageError) return [index, 0];
        throw err;
      }
      if (ourTerm <= term) return [index, ourTerm];
    }
    return [0, 0];
  }

  /** Entries to hand to the application to persist, excluding those already in progress. */
  nextUnstableEnts(): Entry[] {
    return this.unstable.nextEntries();
  }

  /** Whether there are entries to persist that are not already in progress. */
  hasNextUnstableEnts(): boolean {
    return this.unstable.offsetInProgress < this.unstable.offset + this.unstable.entries.length;
  }

  /** Whether there are entries to persist, in progress or not. */
  hasNextOrInProgressUnstableEnts(): boolean {
    return this.unstable.entries.length > 0;
  }

  /**
   * Committed entries to hand to the application to apply (A1), within the byte budget for applying. With
   * `allowUnstable`, entries committed by a quorum but not yet persisted locally may be applied too: they are
   * committed, so the quorum keeps them even if this server loses them.
   */
  nextCommittedEnts(allowUnstable: boolean): Entry[] {
    if (this.applyingEntsPaused) return [];
    // A pending snapshot is applied first; mixing it with entries would make the order of application unclear.
    if (this.hasNextOrInProgressSnapshot()) return [];
    const lo = this.applying + 1;
    const hi = this.maxAppliableIndex(allowUnstable) + 1;
    if (lo >= hi) return [];
    const maxSize = this.maxApplyingEntsSize - this.applyingEntsSize;
    if (maxSize <= 0) {
      this.logger.panic(
        `applying entry size (${this.maxApplyingEntsSize}-${this.applyingEntsSize})=${maxSize} not positive`,
      );
    }
    try {
      return this.slice(lo, hi, maxSize);
    } catch (err) {
      return this.logger.panic(`unexpected error when getting unapplied entries (${errorText(err)})`);
    }
  }

  /** Whether `nextCommittedEnts(allowUnstable)` would return anything, without reading entries. */
  hasNextCommittedEnts(allowUnstable: boolean): boolean {
    if (this.applyingEntsPaused) return false;
    if (this.hasNextOrInProgressSnapshot()) return false;
    return this.applying + 1 < this.maxAppliableIndex(allowUnstable) + 1;
  }

  /** The highest committed index that may be applied: all of them, or only those already persisted locally. */
  maxAppliableIndex(allowUnstable: boolean): number {
    const hi = this.committed;
    return allowUnstable ? hi : Math.min(hi, this.unstable.offset - 1);
  }

  /** A snapshot to hand to the application to persist, if one is pending and not already in progress. */
  nextUnstableSnapshot(): Snapshot | null {
    return this.unstable.nextSnapshot();
  }

  /** Whether `nextUnstableSnapshot` would return a snapshot. */
  hasNextUnstableSnapshot(): boolean {
    return this.unstable.nextSnapshot() !== null;
  }

  /** Whether a snapshot is waiting to be persisted, in progress or not. */
  hasNextOrInProgressSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  /** The latest snapshot: the pending one, else storage's (which may throw `SnapshotTemporarilyUnavailable`). */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** The index of the first entry still available (§7: older ones live only in the snapshot). */
  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  /** The index of the last entry. */
  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Advances the commit index to `tocommit`; never moves it back. */
  commitTo(tocommit: number): void {
    if (this.committed < tocommit) {
      if (this.lastIndex() < tocommit) {
        this.logger.panic(
          `tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]. ` +
            `Was the raft log corrupted, truncated, or lost?`,
        );
      }
      this.committed = tocommit;
    }
  }

  /**
   * Records that the application has applied everything up to `i` (A1), releasing `size` bytes of the applying
   * budget.
   */
  appliedTo(i: number, size: number): void {
    if (this.committed < i || i < this.applied) {
      this.logger.panic(`applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    }
    this.applied = i;
    this.applying = Math.max(this.applying, i);
    this.applyingEntsSize = this.applyingEntsSize > size ? this.applyingEntsSize - size : 0;
    this.applyingEntsPaused = this.applyingEntsSize >= this.maxApplyingEntsSize;
  }

  /** Records that entries up to `i`, of `size` bytes, have been handed to the application to apply. */
  acceptApplying(i: number, size: number, allowUnstable: boolean): void {
    if (this.committed < i) {
      this.logger.panic(
        `applying(${i}) is out of range [prevApplying(${this.applying}), committed(${this.committed})]`,
      );
    }
    this.applying = i;
    this.applyingEntsSize += size;
    // Pause when the budget is spent, or when the batch just handed out stopped short of what may be applied: then
    // the size limit cut it, and the next entry would not fit either.
    this.applyingEntsPaused =
      this.applyingEntsSize >= this.maxApplyingEntsSize || i < this.maxAppliableIndex(allowUnstable);
  }

  /** Records that entries up to `id` are persisted (S1). */
  stableTo(id: EntryId): void {
    this.unstable.stableTo(id);
  }

  /** Records that the snapshot at index i is persisted. */
  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** Marks the current unstable entries and snapshot as handed to the application to persist. */
  acceptUnstable(): void {
    this.unstable.acceptInProgress();
  }

  /** The ID of the last entry: what RequestVote sends as lastLogIndex / lastLogTerm (§5.4.1). */
  lastEntryId(): EntryId {
    const index = this.lastIndex();
    let term: number;
    try {
      term = this.term(index);
    } catch (err) {
      return this.logger.panic(`unexpected error when getting the last term at ${index}: ${errorText(err)}`);
    }
    return { term, index };
  }

  /** The term of the last entry. */
  lastTerm(): number {
    return this.lastEntryId().term;
  }

  /**
   * The term of entry i, for i in [firstIndex() - 1, lastIndex()]. Throws StorageError `Compacted` below that range
   * and `Unavailable` above it.
   */
  term(i: number): number {
    // The unstable tail answers without touching storage; if it knows the entry, the entry is in range.
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    // The entry before firstIndex is compacted, but its term is kept for the AE2 check.
    if (i + 1 < this.firstIndex()) throw new StorageError('Compacted');
    if (i > this.lastIndex()) throw new StorageError('Unavailable');
    return this.storage.term(i);
  }

  /**
   * The term of entry i, or 0 if it is compacted or beyond the last entry. Any other error is a bug and panics.
   */
  zeroTermOnOutOfBounds(i: number): number {
    try {
      return this.term(i);
    } catch (err) {
      if (err instanceof StorageError && (err.code === 'Compacted' || err.code === 'Unavailable')) return 0;
      return this.logger.panic(`unexpected error (${errorText(err)})`);
    }
  }

  /** The entries from i to the end, within `maxSize` bytes (at least one). Throws StorageError `Compacted`. */
  entries(i: number, maxSize: number): Entry[] {
    const last = this.lastIndex();
    if (i > last) return [];
    return this.slice(i, last + 1, maxSize);
  }

  /** Every entry in the log. */
  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), noLimit);
  }

  /**
   * Whether a log ending at `their` is at least as up-to-date as this one (§5.4.1, RV2): a later last term wins;
   * with equal last terms, the longer log wins.
   */
  isUpToDate(their: EntryId): boolean {
    const our = this.lastEntryId();
    return their.term > our.term || (their.term === our.term && their.index >= our.index);
  }

  /** Whether the log holds entry `id`: by Log Matching (§5.3), then it agrees with its source up to there. */
  matchTerm(id: EntryId): boolean {
    // Performance: an index outside [firstIndex()-1, lastIndex()] is an ordinary miss (a follower checking entries
    // it does not hold yet), answered without building the StorageError that term() would throw for it.
    if (id.index > this.lastIndex() || id.index + 1 < this.firstIndex()) return false;
    try {
      return this.term(id.index) === id.term;
    } catch (err) {
      if (err instanceof StorageError) return false;
      throw err;
    }
  }

  /**
   * Commits up to `at.index` if that entry has term `at.term`, the leader's current term. §5.4.2: a leader commits by
   * counting replicas only entries of its own term; older entries commit with them, by Log Matching. Returns whether
   * the commit index moved.
   */
  maybeCommit(at: EntryId): boolean {
    // Term 0 never matches: no leader campaigns at term 0, and zeroTermOnOutOfBounds uses 0 for "unknown".
    if (at.term !== 0 && at.index > this.committed && this.matchTerm(at)) {
      this.commitTo(at.index);
      return true;
    }
    return false;
  }

  /** Replaces the log with a snapshot from the leader (§7, InstallSnapshot); everything in it is committed. */
  restore(s: Snapshot): void {
    this.logger.info(
      `log [${this.toString()}] starts to restore snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
    );
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /**
   * Visits the entries in [lo, hi) in consecutive pages of about `pageSize` bytes (at least one entry each). Stops
   * early when `visit` returns false; returns whether every page was visited. Throws StorageError `Compacted` if lo
   * has been compacted.
   */
  scan(lo: number, hi: number, pageSize: number, visit: (ents: Entry[]) => boolean): boolean {
    while (lo < hi) {
      const ents = this.slice(lo, hi, pageSize);
      if (ents.length === 0) this.logger.panic(`got 0 entries in [${lo}, ${hi})`);
      if (!visit(ents)) return false;
      lo += ents.length;
    }
    return true;
  }

  /**
   * The entries with indexes in [lo, hi), within `maxSize` bytes but at least one, read from storage and then from
   * the unstable tail. Throws StorageError `Compacted` if lo has been compacted.
   */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    const offset = this.unstable.offset;
    let ents: Entry[] = [];
    if (lo < offset) {
      const storedHi = Math.min(hi, offset);
      let stored: Entry[];
      try {
        stored = this.storage.entries(lo, storedHi, maxSize);
      } catch (err) {
        if (err instanceof StorageError && err.code === 'Unavailable') {
          return this.logger.panic(`entries[${lo}:${storedHi}) is unavailable from storage`);
        }
        throw err;
      }
      // Storage stopped short: the size limit is reached, so nothing from the unstable tail fits.
      if (stored.length < storedHi - lo) return stored;
      ents = stored;
    }
    if (hi > offset) {
      const tail = this.unstable.slice(Math.max(lo, offset), hi);
      ents = ents.length > 0 ? ents.concat(tail) : tail;
    }
    return limitSize(ents, maxSize);
  }

  /**
   * Throws StorageError `Compacted` if lo is below the first index; panics if the range is inverted or runs past the
   * last index.
   */
  mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) this.logger.panic(`invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new StorageError('Compacted');
    const last = this.lastIndex();
    if (hi > last + 1) this.logger.panic(`slice[${lo},${hi}) out of bound [${fi},${last}]`);
  }
}

/**
 * A log over `storage`, starting where storage ends: committed and applied at storage's snapshot. Committed entries
 * are handed out for applying at most `maxApplyingEntsSize` bytes at a time (no limit by default).
 */
export function newLog(storage: Storage, logger: Logger, maxApplyingEntsSize: number = noLimit): RaftLog {
  return new RaftLog(storage, logger, maxApplyingEntsSize);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
