// # Stable storage
//
// Figure 2 asks every server to keep its term, vote and log on stable storage (S1). The core never writes that
// storage itself: it hands new entries, hard states and snapshots to the application in a Ready, and reads back what
// the application has made durable through the `Storage` interface below. `MemoryStorage` is the simplest such
// storage, an array in memory that an application backs with its own write-ahead log.
//
// Because the log may be compacted (§7), storage holds only a suffix of the log. The entry just before that suffix
// is gone, but its term is kept: AppendEntries must still check prevLogTerm against it (AE2).

import { entrySize } from './codec';
import { RaftPanic } from './logger';
import {
  ConfState,
  Entry,
  EntryType,
  HardState,
  Snapshot,
  emptyConfState,
  emptyHardState,
  emptySnapshot,
} from './types';

/** What went wrong in a storage call. */
export type StorageErrorCode = 'Compacted' | 'SnapOutOfDate' | 'Unavailable' | 'SnapshotTemporarilyUnavailable';

const storageErrorMessages: Record<StorageErrorCode, string> = {
  Compacted: 'requested index is unavailable due to compaction',
  SnapOutOfDate: 'requested index is older than the existing snapshot',
  Unavailable: 'requested entry at index is unavailable',
  SnapshotTemporarilyUnavailable: 'snapshot is temporarily unavailable',
};

/**
 * The error of a `Storage` call. The messages are etcd's, since the core prints some of them.
 *
 * - `Compacted`: the index precedes the first one storage still holds (§7).
 * - `SnapOutOfDate`: a snapshot older than the one storage holds was offered or requested.
 * - `Unavailable`: the index is beyond the last entry.
 * - `SnapshotTemporarilyUnavailable`: a snapshot is being prepared; ask again later.
 */
export class StorageError extends Error {
  override name = 'StorageError';

  constructor(readonly code: StorageErrorCode) {
    super(storageErrorMessages[code]);
  }
}

/**
 * Read access to what the application has made durable. Every method may throw `StorageError`; any other error
 * leaves the node unable to continue.
 */
export interface Storage {
  /** The persisted hard state (empty if none yet) and the membership of the latest snapshot. */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * The entries with indexes in [lo, hi), at least one if any, and no more than `maxSize` encoded bytes beyond the
   * first. Throws `Compacted` if lo has been compacted away, `Unavailable` if part of the range is missing. The
   * caller may keep the returned array but must not change the entries in it.
   */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /**
   * The term of entry i, for i in [firstIndex() - 1, lastIndex()]. The term of the entry just before the first is
   * kept for the log-matching check of AppendEntries (AE2) even though the entry itself was compacted.
   */
  term(i: number): number;
  /** The index of the last entry. */
  lastIndex(): number;
  /** The index of the first entry still available; older ones are covered by the snapshot (§7). */
  firstIndex(): number;
  /** The latest snapshot; throws `SnapshotTemporarilyUnavailable` if it is not ready yet. */
  snapshot(): Snapshot;
}

/**
 * Storage in memory. It starts with an empty log, or from a snapshot given to `applySnapshot`, and grows with
 * `append`; `createSnapshot` and `compact` implement log compaction (§7).
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = emptySnapshot();
  // The first element is a marker standing for the last compacted entry (the snapshot's index and term, or index 0
  // and term 0 for a new log); it is never returned by `entries`. ents[i] has index ents[0].index + i.
  // Invariant: ents.length >= 1, and ents[0] has the index and term of the latest snapshot.
  //
  // Performance: one array for the life of the storage, changed in place and never replaced. V8 treats a field that
  // was never assigned again as a constant in the code it optimises, and the first assignment throws all that code
  // away: replacing the array at the first compaction sent the whole log's hot path back to the interpreter, on a
  // member seconds into serving.
  private readonly ents: Entry[] = [marker(0, 0)];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata.confState };
  }

  /** Records the hard state the application has persisted. */
  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= offset) throw new StorageError('Compacted');
    if (hi > this.lastIndex() + 1) {
      throw new RaftPanic(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    }
    if (this.ents.length === 1) throw new StorageError('Unavailable');
    if (lo > hi) throw new RaftPanic(`entries' lo(${lo}) is greater than hi(${hi})`);
    if (lo === hi) return [];
    // The size limit of `limitSize`, applied before copying: the first entry always, then while within maxSize.
    const start = lo - offset;
    let end = start + 1;
    let size = entrySize(this.ents[start]);
    while (end < hi - offset) {
      size += entrySize(this.ents[end]);
      if (size > maxSize) break;
      end++;
    }
    // A fresh array, so a caller appending to it cannot disturb this storage.
    return this.ents.slice(start, end);
  }

  term(i: number): number {
    const offset = this.ents[0].index;
    if (i < offset) throw new StorageError('Compacted');
    if (i - offset >= this.ents.length) throw new StorageError('Unavailable');
    return this.ents[i - offset].term;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Replaces the whole log with `snap` (§7, InstallSnapshot: the snapshot supersedes every entry it covers). Throws
   * `SnapOutOfDate` unless it is newer than the snapshot already held.
   */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) throw new StorageError('SnapOutOfDate');
    this.snap = snap;
    this.ents.length = 0;
    this.ents.push(marker(snap.metadata.index, snap.metadata.term));
  }

  /**
   * Records a snapshot of the state machine as of entry `i`, with membership `cs` (pass the result of the last
   * applied configuration change, or null to keep the previous one) and the application's `data`. Throws
   * `SnapOutOfDate` if `i` is not past the current snapshot; `i` beyond the last entry is a programming error and
   * throws RaftPanic.
   * The log is not compacted: call `compact` for that.
   */
  createSnapshot(i: number, cs: ConfState | null, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new StorageError('SnapOutOfDate');
    if (i > this.lastIndex()) {
      throw new RaftPanic(`snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    }
    const offset = this.ents[0].index;
    this.snap = {
      data,
      metadata: {
        index: i,
        term: this.ents[i - offset].term,
        confState: cs === null ? this.snap.metadata.confState : cloneConfState(cs),
      },
    };
    return this.snap;
  }

  /**
   * Discards the entries before `compactIndex`, which becomes the new marker (§7). The application must not compact
   * past what it has applied. Throws `Compacted` if that prefix is already gone; an index beyond the last entry is a
   * programming error and throws RaftPanic.
   */
  compact(compactIndex: number): void {
    const offset = this.ents[0].index;
    if (compactIndex <= offset) throw new StorageError('Compacted');
    if (compactIndex > this.lastIndex()) {
      throw new RaftPanic(`compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    }
    const i = compactIndex - offset;
    this.ents.splice(0, i + 1, marker(this.ents[i].index, this.ents[i].term));
  }

  /**
   * Appends `entries`, which must be contiguous. Entries already compacted are skipped; entries from an index
   * already present replace that index and everything after it, which is how a follower's log drops a conflicting
   * suffix (AE3) once the core has decided to. A gap after the last entry is a programming error and throws
   * RaftPanic.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return;
    // Skip what the snapshot already covers.
    const fresh = first > entries[0].index ? entries.slice(first - entries[0].index) : entries;
    const offset = fresh[0].index - this.ents[0].index;
    if (offset > this.ents.length) {
      throw new RaftPanic(`missing log entry [last: ${this.lastIndex()}, append at: ${fresh[0].index}]`);
    }
    // In place is safe: `entries` hands out copies, and the entries themselves are never changed. Truncating only
    // when something is overwritten spares the common pure append a costly resize call.
    if (offset < this.ents.length) this.ents.length = offset;
    for (const e of fresh) this.ents.push(e);
  }
}

function marker(index: number, term: number): Entry {
  return { index, term, type: EntryType.EntryNormal, data: new Uint8Array(0) };
}

function cloneConfState(cs: ConfState): ConfState {
  return {
    ...emptyConfState(),
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave,
  };
}
