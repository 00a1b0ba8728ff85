// # The unstable tail of the log
//
// Figure 2 says a server persists new entries before answering an RPC that depends on them (S1). The core cannot
// write to disk, so new entries (and a snapshot received from the leader, §7) first live here, in memory, until the
// application reports them durable. Writes are pipelined: entries handed to the application are "in progress" and
// are not handed out again, but they stay here, readable, until `stableTo` confirms them, because storage does not
// show them until then.
//
// A newer leader may overwrite part of the tail at any time (AE3). Such a rewrite can even reach entries that are in
// progress: then the write in flight will finish with entries that no longer belong to the log, and `stableTo` must
// recognise its confirmation as stale by the entry's term.

import { Logger } from './logger';
import { Entry, Snapshot } from './types';
import { EntryId } from './util';

/** Entries and a snapshot not yet known to be in stable storage. */
export class Unstable {
  /** A snapshot received from the leader and not yet persisted, if any. */
  snapshot: Snapshot | null = null;
  /** The entries not yet persisted. entries[i] has index offset + i. */
  entries: Entry[] = [];
  /**
   * The index of entries[0]; one past the last entry in stable storage that this log still agrees with. It may be
   * below the last index of storage: then the next write must truncate storage first.
   */
  offset: number;
  /** Whether the snapshot has been handed to the application to persist. */
  snapshotInProgress = false;
  /**
   * One past the last entry handed to the application to persist: entries[0, offsetInProgress - offset) are being
   * written.
   * Invariant: offset <= offsetInProgress <= offset + entries.length.
   */
  offsetInProgress: number;

  constructor(
    offset: number,
    readonly logger: Logger,
  ) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** The first index of the log if a snapshot is pending (the one after it); undefined otherwise. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === null ? undefined : this.snapshot.metadata.index + 1;
  }

  /** The last index if there are unstable entries or a pending snapshot; undefined otherwise. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== null) return this.snapshot.metadata.index;
    return undefined;
  }

  /** The term of entry i if this tail or its snapshot knows it; undefined otherwise. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== null && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset].term;
  }

  /** The entries not yet handed out for persisting. */
  nextEntries(): Entry[] {
    const inProgress = this.offsetInProgress - this.offset;
    return inProgress === this.entries.length ? [] : this.entries.slice(inProgress);
  }

  /** The snapshot, if there is one not yet handed out for persisting. */
  nextSnapshot(): Snapshot | null {
    return this.snapshotInProgress ? null : this.snapshot;
  }

  /**
   * Marks everything currently here as handed out for persisting, so `nextEntries` and `nextSnapshot` stop
   * returning it. Entries added later are returned until the next call.
   */
  acceptInProgress(): void {
    if (this.entries.length > 0) {
      this.offsetInProgress = this.entries[this.entries.length - 1].index + 1;
    }
    if (this.snapshot !== null) this.snapshotInProgress = true;
  }

  /**
   * Records that the entries up to `id` are durable, so storage now serves them. The caller must know that no
   * append still in flight can overwrite them.
   */
  stableTo(id: EntryId): void {
    const term = this.maybeTerm(id.index);
    if (term === undefined) {
      this.logger.info(`entry at index ${id.index} missing from unstable log; ignoring`);
      return;
    }
    if (id.index < this.offset) {
      this.logger.info(`entry at index ${id.index} matched unstable snapshot; ignoring`);
      return;
    }
    if (term !== id.term) {
      // The write that finished carried an entry a newer leader has since replaced (AE3): what storage holds at
      // this index is about to be overwritten, so it must not count as stable.
      this.logger.info(
        `entry at (index,term)=(${id.index},${id.term}) mismatched with entry at (${id.index},${term}) in unstable ` +
          `log; ignoring`,
      );
      return;
    }
    this.entries = this.entries.slice(id.index + 1 - this.offset);
    this.offset = id.index + 1;
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
  }

  /** Records that the snapshot at index i is durable. */
  stableSnapTo(i: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === i) {
      this.snapshot = null;
      this.snapshotInProgress = false;
    }
  }

  /** Replaces the whole tail with a snapshot from the leader (§7, InstallSnapshot): the log restarts after it. */
  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = s;
    this.snapshotInProgress = false;
  }

  /**
   * Appends `ents` (contiguous, non-empty), first dropping every entry at or after `ents[0].index`: the conflicting
   * suffix AE3 deletes. The caller has already checked that nothing committed is dropped.
   */
  truncateAndAppend(ents: Entry[]): void {
    const fromIndex = ents[0].index;
    if (fromIndex === this.offset + this.entries.length) {
      // The common case: the new entries extend the tail.
      for (const e of ents) this.entries.push(e);
    } else if (fromIndex <= this.offset) {
      // The new entries replace the whole tail and perhaps part of stable storage, which the next write truncates.
      this.logger.info(`replace the unstable entries from index ${fromIndex}`);
      this.entries = ents.slice();
      this.offset = fromIndex;
      this.offsetInProgress = this.offset;
    } else {
      this.logger.info(`truncate the unstable entries before index ${fromIndex}`);
      this.entries = this.slice(this.offset, fromIndex).concat(ents);
      // Entries in progress at or after fromIndex were replaced; only the ones before it are still being written.
      this.offsetInProgress = Math.min(this.offsetInProgress, fromIndex);
    }
  }

  /** The entries with indexes in [lo, hi), all of which must be here. The caller may keep the array. */
  slice(lo: number, hi: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }

  /** Panics unless offset <= lo <= hi <= offset + entries.length. */
  mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) this.logger.panic(`invalid unstable.slice ${lo} > ${hi}`);
    const upper = this.offset + this.entries.length;
    if (lo < this.offset || hi > upper) {
      this.logger.panic(`unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    }
  }
}
