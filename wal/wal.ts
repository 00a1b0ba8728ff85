// # The write-ahead log
//
// Rule S1 of Figure 2 says a server's current term, its vote and its log must be on stable storage before it
// answers a request. `Wal` is that storage for tsraft: an append-only sequence of records (hard states, entries,
// snapshot markers) in segment files, each record checked by a CRC chained across the whole log.
//
// Exported API (the rest of the module is internal):
//
//     Wal.create(dir, metadata, options?): Wal         new directory, ready to append
//     Wal.open(dir, atSnapshot, options?): Wal          locks an existing directory; call readAll() next
//     Wal.openNewest(dir, pick, options?): Wal           the same at the snapshot `pick` chooses among the valid
//                                                       markers, reading each segment once for both
//     Wal.exists(dir): boolean                          true if dir holds any segment
//     Wal.validSnapshotEntries(dir): WalSnapshot[]      markers at or below the last commit, without locking
//     wal.readAll(): { metadata, hardState, entries }   replays the log (repairing a torn tail); then appendable
//     wal.save(hardState, entries, mustSync): void      appends; fdatasyncs when mustSync
//     wal.saveSnapshot(walSnapshot): void               appends a snapshot marker and syncs
//     wal.sync(): void                                  fdatasync of the tail segment
//     wal.syncAsync(): Promise<void>                    the same fdatasync, run in libuv's thread pool
//     wal.releaseLockTo(index): void                    segments wholly before `index` are no longer needed
//     wal.purgeSegments(keep = 0): string[]             deletes released segments but the newest `keep`
//     wal.close(): void                                 syncs and releases the directory, even mid-syncAsync
//     emptyWalSnapshot(), walSnapshotOf(snapshot)      the marker of no snapshot / of a raft Snapshot
//     WalError (code: WalErrorCode), WalMetadata, WalSnapshot, WalOptions, ReadAllResult, DEFAULT_SEGMENT_SIZE
//
// Every call but `syncAsync` is synchronous: a save returns once the bytes are written (and, with mustSync, on disk),
// which is what a Ready loop needs before it sends messages that depend on them. One exception: a save of a hard
// state that moves only the commit index (same term and vote, no entries, no mustSync) is held in memory and
// written with the next append, or by the next sync or close, whichever comes first; a newer one replaces it. A
// crash may lose it, which loses nothing: the commit index is volatile state that the leader tells again (Figure 2),
// and every entry it covered was synced before it could commit. etcd's WAL buffers such records until its next sync
// too. On a busy member it saves a write(2) per commit, which is one per put at one client.
//
// `syncAsync` gives the same guarantee without blocking the event loop: `save(..., false)`, then await `syncAsync()`.
//
// - Durable when: the promise resolves once everything appended before the call (by any save or saveSnapshot) is on
//   disk. A later append is not covered; a sealed segment is, because `cut` fsyncs it before moving on.
// - Ordering: durability only grows, so once any promise resolves, everything appended before every earlier call is
//   durable too. At most one fdatasync runs at a time; a call made while one runs joins it if it covers every append
//   so far, and otherwise joins the next one, which starts as soon as the running one settles and covers everything
//   appended by then (all calls made meanwhile share it: group commit).
// - Blocking calls in between: a `sync`, `save(..., true)`, `saveSnapshot` or a cut makes everything durable at
//   once, and a pending `syncAsync` that they cover resolves without another fdatasync.
// - Descriptors: one that an fdatasync is running on is never closed under it (its number could be reused by the
//   next open and the wrong file synced); a cut or `close` closes it once that sync settles.
// - close() does not wait for a running fdatasync: it fdatasyncs the tail itself, synchronously, so every pending
//   `syncAsync` resolves, and it releases the directory at once. A `syncAsync` after close rejects with WalError
//   'InvalidState'.
// - Failure: a failed fdatasync (`sync` or `syncAsync`) fails with WalError 'SyncFailed', and so does every later
//   call but `close`, which then only releases: the kernel may have dropped the pages it could not write, so a later
//   fdatasync that succeeds would prove nothing. A failed write, allocation, truncation or rename (a full disk) fails
//   with WalError 'WriteFailed' and has the same effect: a record may be half written, and syncing it would make the
//   half durable. Both name the file and the disk. Reopen the directory and replay to learn what reached the disk.
//
// Space: a segment is allocated whole when it is cut (zeros written over it, not a sparse ftruncate), so on a full
// disk the cut fails, cleanly and before any append depends on it, rather than an append or an fdatasync later.
//
// The application persists a snapshot in this order: the snapshot file (snap/), then the WAL's snapshot marker
// (`saveSnapshot`), then the hard state and entries (`save`). See docs/durability.md for why.

import * as path from 'path';
import { encodeHardState } from '../raft/codec';
import { Logger, RaftPanic } from '../raft/logger';
import { Entry, HardState, emptyHardState, isEmptyHardState } from '../raft/types';
import { DecodedLog, decodeLog } from './decoder';
import { WalError } from './errors';
import {
  DurableFs,
  describeDisk,
  durableFs,
  errorMessage,
  fsyncDir,
  isDiskFull,
  mkdirAll,
  removeQuietly,
  removeTree,
  writeAll,
} from './fileutil';
import { DirLock } from './lock';
import { EntryRecordInput, RecordInput, RecordType, TornTail, encodeFrames } from './record';
import {
  SegmentBytes,
  SegmentName,
  listSegments,
  parseSegmentName,
  readSegment,
  segmentName,
  selectSegments,
} from './segment';
import { WalMetadata, WalSnapshot, emptyWalSnapshot, encodeMetadata, encodeWalSnapshot } from './walpb';

export { WalError } from './errors';
export type { WalErrorCode } from './errors';
export { emptyWalSnapshot, walSnapshotOf } from './walpb';
export type { WalMetadata, WalSnapshot } from './walpb';

/** Segments are cut once they reach this many bytes, as etcd's default. */
export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;

// How much segment data `openNewest` keeps from its first pass for the replay (the newest segments, which are the
// ones the replay reads); older ones are read again if the replay needs them.
const PREREAD_BUDGET_BYTES = 128 * 1024 * 1024;

/** Tuning and reporting. */
export interface WalOptions {
  /** Cut a new segment once the tail reaches this size; each segment is allocated whole (zeros) to this size. */
  segmentSize?: number;
  /** Where repairs and cuts are reported. Defaults to standard error. */
  logger?: Logger;
}

/** What `readAll` recovers. */
export interface ReadAllResult {
  metadata: WalMetadata;
  /** The last hard state saved (empty if none was). */
  hardState: HardState;
  /** The entries after the snapshot `open` was given, contiguous from its index + 1. */
  entries: Entry[];
}

const stderrLogger: Logger = {
  debug: () => undefined,
  info: (m) => process.stderr.write(`wal: ${m}\n`),
  warning: (m) => process.stderr.write(`wal: ${m}\n`),
  error: (m) => process.stderr.write(`wal: ${m}\n`),
  panic: (m): never => {
    throw new RaftPanic(m);
  },
};

/** The segment being appended to. */
interface Tail {
  segment: SegmentName;
  fd: number;
}

/** The callers waiting for one fdatasync. */
interface Waiters {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: WalError) => void;
}

function newWaiters(): Waiters {
  let resolve: () => void = () => undefined;
  let reject: (err: WalError) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An fdatasync of `syncAsync`, running in libuv's thread pool. */
interface Flight {
  fd: number;
  segment: string;
  /** It makes the appends numbered up to here durable. */
  target: number;
  /** Set when a cut or close retired `fd` while the sync ran: the descriptor is closed once the sync settles. */
  closeAfter: boolean;
  waiters: Waiters;
}

/** An append-only, CRC-chained log of raft state in a directory of segment files. */
export class Wal {
  private lock: DirLock | null;
  private readonly fs: DurableFs;
  private readonly segmentSize: number;
  private readonly logger: Logger;
  /** The snapshot `open` was given; non-null exactly until `readAll` has run. */
  private start: WalSnapshot | null = null;
  /** Segments `openNewest` already read, by name, for `readAll`; emptied by it. */
  private preread = new Map<string, SegmentBytes>();
  /** Segments still needed, oldest first; the last is the tail. Invariant: non-empty while open. */
  private live: SegmentName[];
  private tail: Tail | null = null;
  /** Where the next frame goes in the tail. Invariant: every byte of the tail from here on is zero. */
  private offset = 0;
  /** The CRC chain's running value after the last record written. */
  private crc = 0;
  /** The index of the last entry written (or of the snapshot if none followed); names the next segment. */
  private lastIndex = 0;
  /** The last hard state saved (written, or held); repeated at the head of every new segment. */
  private state: HardState = emptyHardState();
  /** A saved hard state that moves only the commit index, not written yet (see the module comment). */
  private heldState: HardState | null = null;
  private metadata: WalMetadata | null = null;
  /** How many appends were written since the WAL was created or opened. */
  private appended = 0;
  /** Invariant: durable <= appended; appends numbered up to here are on disk. */
  private durable = 0;
  /** The fdatasync of `syncAsync` that is running, if any. Invariant: at most one runs at a time. */
  private flight: Flight | null = null;
  /** Callers of `syncAsync` that `flight` does not cover; they share the fdatasync started when it settles. */
  private queued: Waiters | null = null;
  /** The first failed fdatasync; once set, the WAL refuses everything but `close`. */
  private failure: WalError | null = null;

  private constructor(
    readonly dir: string,
    lock: DirLock,
    live: SegmentName[],
    options: WalOptions,
    dfs: DurableFs,
  ) {
    this.fs = dfs;
    this.lock = lock;
    this.live = live;
    this.segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    this.logger = options.logger ?? stderrLogger;
    if (!Number.isSafeInteger(this.segmentSize) || this.segmentSize < 4096) {
      throw new WalError('InvalidState', `Segment size ${this.segmentSize} is below the minimum of 4096 bytes`);
    }
  }

  /** True if `dir` exists and holds at least one segment file. */
  static exists(dir: string): boolean {
    const dfs = durableFs();
    if (dfs.kindOf(dir) !== 'dir') return false;
    return dfs.readdirSync(dir).some((f) => parseSegmentName(f) !== null);
  }

  /**
   * Creates a WAL in `dir` holding only `metadata` and the empty snapshot marker, and returns it locked and ready to
   * append. The first segment is written in `<dir>.tmp` and the directory renamed into place, so a crash never
   * leaves a half-made WAL under the real name. Throws WalError 'Exists' if `dir` holds a WAL or anything else.
   */
  static create(dir: string, metadata: WalMetadata, options: WalOptions = {}): Wal {
    const dfs = durableFs();
    if (Wal.exists(dir)) throw new WalError('Exists', `WAL directory ${dir} already holds a WAL`);
    if (dfs.kindOf(dir) === 'dir' && dfs.readdirSync(dir).length > 0) {
      throw new WalError('Exists', `WAL directory ${dir} is not empty`);
    }
    const tmp = `${path.resolve(dir)}.tmp`;
    removeTree(dfs, tmp);
    mkdirAll(dfs, tmp);
    const lock = DirLock.acquire(tmp, dfs);
    let fd = -1;
    try {
      const first = { seq: 0, index: 0, name: segmentName(0, 0) };
      const wal = new Wal(dir, lock, [first], options, dfs);
      const header: RecordInput[] = [
        { type: RecordType.Crc, data: new Uint8Array(0) },
        { type: RecordType.Metadata, data: encodeMetadata(metadata) },
        { type: RecordType.Snapshot, data: encodeWalSnapshot(emptyWalSnapshot()) },
      ];
      fd = wal.writeNewSegment(path.join(tmp, first.name), header, 0);
      // The segment's entry must be durable in the directory before the directory takes the real name: otherwise a
      // power loss can leave a WAL directory that exists but holds no segment.
      fsyncDir(dfs, tmp);
      // The lock is held on an open file, so it moves with the directory.
      removeTree(dfs, dir);
      dfs.renameSync(tmp, dir);
      fsyncDir(dfs, path.dirname(path.resolve(dir)));
      wal.tail = { segment: first, fd };
      wal.metadata = metadata;
      return wal;
    } catch (err) {
      // Nothing of a half-made WAL stays behind, so the next attempt starts clean.
      if (fd >= 0) dfs.closeSync(fd);
      lock.release();
      try {
        removeTree(dfs, tmp);
      } catch {
        // Reported by the error below; `create` removes a leftover temporary directory first anyway.
      }
      throw failedIn(tmp, 'creating the WAL', err);
    }
  }

  /**
   * Locks `dir` and prepares to read it from the segment holding `atSnapshot` on. Call `readAll` before appending.
   * Throws WalError 'Locked' (naming the holder's pid), 'NotFound' or 'MissingSegment'.
   */
  static open(dir: string, atSnapshot: WalSnapshot, options: WalOptions = {}): Wal {
    return Wal.lockAndOpen(dir, options, () => atSnapshot);
  }

  /**
   * `validSnapshotEntries` and `open` in one pass over the files: locks `dir`, reads every segment once, opens the
   * WAL at the marker `pick` returns (it is given the valid markers, oldest first; it may throw, and the directory is
   * released), and keeps the newest segments' bytes for `readAll`, which comes next. A restart reads its tail segment
   * once instead of twice.
   */
  static openNewest(dir: string, pick: (valid: WalSnapshot[]) => WalSnapshot, options: WalOptions = {}): Wal {
    return Wal.lockAndOpen(dir, options, (dfs, segments, keep) => {
      const read = (s: SegmentName): SegmentBytes => {
        const got = readSegment(dfs, dir, s);
        keep.set(s.name, got);
        let held = 0;
        for (const b of keep.values()) held += b.dataEnd;
        // Oldest first out: Map iterates in insertion order.
        for (const name of keep.keys()) {
          if (held <= PREREAD_BUDGET_BYTES || name === s.name) break;
          held -= keep.get(name)?.dataEnd ?? 0;
          keep.delete(name);
        }
        return got;
      };
      return pick(validMarkers(decodeLog(segments, read, { start: emptyWalSnapshot(), entries: false })));
    });
  }

  // Locks `dir`, clears interrupted segment creations, and opens at the snapshot `at` chooses (it may read the
  // segments, leaving what `readAll` may reuse in `keep`).
  private static lockAndOpen(
    dir: string,
    options: WalOptions,
    at: (dfs: DurableFs, segments: SegmentName[], keep: Map<string, SegmentBytes>) => WalSnapshot,
  ): Wal {
    if (!Wal.exists(dir)) throw new WalError('NotFound', `WAL directory ${dir} holds no segment`);
    const dfs = durableFs();
    const lock = DirLock.acquire(dir, dfs);
    try {
      // A segment still under its temporary name was never renamed into the log: a crash interrupted its creation.
      for (const f of dfs.readdirSync(dir)) if (f.endsWith('.wal.tmp')) dfs.unlinkSync(path.join(dir, f));
      const segments = listSegments(dir, dfs);
      const keep = new Map<string, SegmentBytes>();
      const start = at(dfs, segments, keep);
      const wal = new Wal(dir, lock, selectSegments(dir, segments, start.index), options, dfs);
      wal.start = start;
      wal.preread = keep;
      return wal;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /**
   * The snapshot markers in `dir` whose index is at most the last hard state's commit: the snapshots the WAL can be
   * opened at, for `Snapshotter.loadNewestAvailable`. Reads without locking and repairs nothing.
   */
  static validSnapshotEntries(dir: string): WalSnapshot[] {
    const dfs = durableFs();
    const read = (s: SegmentName): SegmentBytes => readSegment(dfs, dir, s);
    return validMarkers(decodeLog(listSegments(dir, dfs), read, { start: emptyWalSnapshot(), entries: false }));
  }

  /**
   * Replays the log from the snapshot given to `open`: verifies the CRC chain, the segment headers, the index
   * continuity and the snapshot marker, cuts away a torn final record (keeping its bytes as `.broken`), and leaves
   * the WAL ready to append after the last good record. Throws WalError on any other damage, after releasing the
   * lock.
   */
  readAll(): ReadAllResult {
    const start = this.start;
    if (start === null || this.lock === null) {
      throw new WalError('InvalidState', `WAL ${this.dir}: readAll is called once, after open`);
    }
    try {
      // Keep only the last segment's bytes: a torn tail is repaired from them.
      let lastRead: SegmentBytes = { bytes: new Uint8Array(0), dataEnd: 0 };
      const read = (s: SegmentName): SegmentBytes => {
        const got = this.preread.get(s.name) ?? readSegment(this.fs, this.dir, s);
        this.preread.delete(s.name);
        return (lastRead = got);
      };
      const log = decodeLog(this.live, read, { start, entries: true });
      this.preread.clear();
      const last = this.live[this.live.length - 1];
      if (log.torn !== null) this.repair(last, lastRead, log.torn);
      this.resumeAfter(log, last);
      this.start = null;
      return { metadata: log.metadata, hardState: log.hardState, entries: log.entries };
    } catch (err) {
      // A log that cannot be read is not ours to hold: free the directory for whoever examines it next.
      this.close();
      throw err;
    }
  }

  /**
   * Appends `entries`, then `hardState` unless it is empty, in one write; fdatasyncs when `mustSync` (Ready's
   * mustSync: the term, vote or log changed). Entries may overwrite a conflicting suffix: replay keeps the later one.
   */
  save(hardState: HardState, entries: readonly Entry[], mustSync: boolean): void {
    this.writable();
    const hasState = !isEmptyHardState(hardState);
    if (!hasState && entries.length === 0) return;
    if (entries.length === 0 && !mustSync && hardState.term === this.state.term && hardState.vote === this.state.vote) {
      this.heldState = { ...hardState };
      this.state = { ...hardState };
      return;
    }
    // A gap written now would make the log unreadable at the next restart (IndexGap): refuse it while the caller
    // can still see why.
    if (entries.length > 0 && entries[0].index > this.lastIndex + 1) {
      throw new WalError('IndexGap', `WAL ${this.dir}: entries start at index ${entries[0].index}, but the log ends ` +
        `at ${this.lastIndex}`);
    }
    // A held hard state goes first, unless this save brings a newer one (replay keeps the last).
    const records: (RecordInput | EntryRecordInput)[] = hasState ? [] : this.takeHeld();
    this.heldState = null;
    for (const e of entries) records.push({ type: RecordType.Entry, entry: e });
    if (hasState) records.push({ type: RecordType.State, data: encodeHardState(hardState) });
    this.append(records);
    if (entries.length > 0) this.lastIndex = entries[entries.length - 1].index;
    if (hasState) this.state = { ...hardState };
    if (this.offset >= this.segmentSize) this.cut();
    else if (mustSync) this.sync();
  }

  /** Appends a snapshot marker and syncs. The snapshot file must already be durable (see the module comment). */
  saveSnapshot(snapshot: WalSnapshot): void {
    this.writable();
    this.append([...this.takeHeld(), { type: RecordType.Snapshot, data: encodeWalSnapshot(snapshot) }]);
    this.lastIndex = Math.max(this.lastIndex, snapshot.index);
    if (this.offset >= this.segmentSize) this.cut();
    else this.sync();
  }

  /** Makes everything appended so far durable (fdatasync of the tail segment). Throws WalError 'SyncFailed'. */
  sync(): void {
    this.writable();
    this.writeHeld();
    this.syncTail(this.writable());
  }

  /**
   * Makes everything appended before the call durable, like `sync`, but runs the fdatasync in libuv's thread pool so
   * the event loop goes on meanwhile. Shares a running fdatasync when it covers every append so far, else the next
   * one. Rejects with WalError 'SyncFailed' or 'InvalidState'. See the module comment for the whole contract.
   */
  async syncAsync(): Promise<void> {
    this.writable();
    this.writeHeld();
    const tail = this.writable();
    if (this.durable >= this.appended) return;
    if (this.flight === null) return this.startSync(tail, newWaiters());
    if (this.flight.target >= this.appended) return this.flight.waiters.promise;
    this.queued ??= newWaiters();
    return this.queued.promise;
  }

  /**
   * Declares that entries below `index` are no longer needed (a snapshot covers them): every segment before the one
   * holding `index` becomes purgeable. The tail is never released.
   */
  releaseLockTo(index: number): void {
    this.writable();
    let keepFrom = this.live.length - 1;
    for (let i = 0; i < this.live.length; i++) {
      if (this.live[i].index >= index) {
        keepFrom = i - 1;
        break;
      }
    }
    if (keepFrom > 0) this.live = this.live.slice(keepFrom);
  }

  /**
   * Deletes the segments released by `releaseLockTo`, except the newest `keep` of them, and syncs the directory.
   * Returns the names deleted, oldest first.
   */
  purgeSegments(keep = 0): string[] {
    this.writable();
    const firstLive = this.live[0].seq;
    const released = listSegments(this.dir, this.fs).filter((s) => s.seq < firstLive);
    const doomed = released.slice(0, Math.max(0, released.length - keep));
    for (const s of doomed) this.fs.unlinkSync(path.join(this.dir, s.name));
    if (doomed.length > 0) fsyncDir(this.fs, this.dir);
    return doomed.map((s) => s.name);
  }

  /**
   * Syncs the tail, closes it and releases the directory; idempotent. A running `syncAsync` is not waited for: its
   * descriptor is closed once it settles. Releases even when the sync fails (and then throws WalError 'SyncFailed').
   */
  close(): void {
    let unwritten: unknown = null;
    if (this.tail !== null && this.lock !== null && this.failure === null) {
      try {
        this.writeHeld();
      } catch (err) {
        unwritten = err;
      }
    }
    const tail = this.tail;
    this.tail = null;
    this.preread.clear();
    try {
      if (unwritten !== null) throw unwritten;
      if (tail !== null && this.failure === null) this.syncTail(tail);
    } finally {
      if (tail !== null) this.retire(tail.fd);
      this.lock?.release();
      this.lock = null;
    }
  }

  private writable(): Tail {
    if (this.tail === null || this.lock === null) {
      throw new WalError('InvalidState', `WAL ${this.dir} is not open for appending (readAll first; not after close)`);
    }
    if (this.failure !== null) throw this.failure;
    return this.tail;
  }

  // The held hard state as a record to write now, if there is one; it is no longer held.
  private takeHeld(): RecordInput[] {
    const held = this.heldState;
    this.heldState = null;
    return held === null ? [] : [{ type: RecordType.State, data: encodeHardState(held) }];
  }

  // Writes the held hard state, if any, so that a sync covers it.
  private writeHeld(): void {
    const records = this.takeHeld();
    if (records.length > 0) this.append(records);
  }

  private syncTail(tail: Tail): void {
    try {
      this.fs.fdatasyncSync(tail.fd);
    } catch (err) {
      throw this.fail('SyncFailed', `fdatasync of ${tail.segment.name}`, err);
    }
    this.durable = this.appended;
  }

  private startSync(tail: Tail, waiters: Waiters): Promise<void> {
    const flight = { fd: tail.fd, segment: tail.segment.name, target: this.appended, closeAfter: false, waiters };
    this.flight = flight;
    this.fs.fdatasync(flight.fd, (err) => this.landed(flight, err));
    return waiters.promise;
  }

  /** Settles a finished fdatasync, then starts the one the queued callers wait for. */
  private landed(flight: Flight, err: NodeJS.ErrnoException | null): void {
    this.flight = null;
    if (flight.closeAfter) this.closeQuietly(flight.fd);
    if (err === null) {
      this.durable = Math.max(this.durable, flight.target);
      flight.waiters.resolve();
    } else {
      flight.waiters.reject(this.fail('SyncFailed', `fdatasync of ${flight.segment}`, err));
    }
    const queued = this.queued;
    if (queued === null) return;
    this.queued = null;
    // A blocking sync, a cut or close may have made the queued appends durable meanwhile.
    if (this.durable >= this.appended) queued.resolve();
    else if (this.failure !== null) queued.reject(this.failure);
    else if (this.tail === null) queued.reject(new WalError('InvalidState', `WAL ${this.dir} closed before a sync`));
    else this.startSync(this.tail, queued);
  }

  /** Closes a descriptor the WAL no longer writes to, once no fdatasync runs on it: its number may be reused. */
  private retire(fd: number): void {
    if (this.flight !== null && this.flight.fd === fd) this.flight.closeAfter = true;
    else this.closeQuietly(fd);
  }

  // A descriptor is closed even when the disk has failed: close(2) reports no error worth stopping for here.
  private closeQuietly(fd: number): void {
    try {
      this.fs.closeSync(fd);
    } catch (err) {
      this.logger.warning(`closing a segment of ${this.dir} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Records the first failure; from then on the WAL refuses everything but `close`, which only releases. */
  private fail(code: 'SyncFailed' | 'WriteFailed', what: string, err: unknown): WalError {
    this.failure ??= failedIn(this.dir, what, err, code);
    return this.failure;
  }

  private append(records: readonly (RecordInput | EntryRecordInput)[]): void {
    let tail = this.writable();
    let { bytes, crc } = encodeFrames(records, this.crc);
    // A batch that does not fit in the rest of the tail starts a new segment first, so that an append only writes
    // into blocks allocated for it and a full disk fails the cut instead. A batch larger than half a segment is
    // written where it is and overflows (the segment is then at least half full; the cut after it follows).
    if (this.offset + bytes.length > this.segmentSize && bytes.length <= this.segmentSize / 2) {
      this.cut();
      tail = this.writable();
      ({ bytes, crc } = encodeFrames(records, this.crc));
    }
    try {
      writeAll(this.fs, tail.fd, bytes, this.offset);
    } catch (err) {
      throw this.fail('WriteFailed', `appending to ${tail.segment.name} at offset ${this.offset}`, err);
    }
    this.offset += bytes.length;
    this.crc = crc;
    this.appended++;
  }

  /**
   * Writes a new segment file with `header` frames, allocated and synced; returns its open descriptor. On failure
   * the file is closed and removed before the error is thrown.
   */
  private writeNewSegment(file: string, header: RecordInput[], crc: number): number {
    const fd = this.fs.openSync(file, 'w+');
    try {
      // Allocate the whole segment now: the file reads as zeros past the log's end, which is how the end is found,
      // appends within it change no file size (so fdatasync has no size to flush), and they need no new block, so
      // a full disk shows here, where nothing depends on it yet.
      this.fs.allocateSync(fd, this.segmentSize);
      const frames = encodeFrames(header, crc);
      writeAll(this.fs, fd, frames.bytes, 0);
      this.fs.fsyncSync(fd);
      this.offset = frames.bytes.length;
      this.crc = frames.crc;
      return fd;
    } catch (err) {
      this.fs.closeSync(fd);
      removeQuietly(this.fs, file);
      throw err;
    }
  }

  /**
   * Starts the next segment: seals the tail at its last record, then writes the new one under a temporary name,
   * syncs it, renames it into place and syncs the directory, so it appears whole or not at all.
   */
  private cut(): void {
    const tail = this.writable();
    const metadata = this.metadata;
    if (metadata === null) throw new WalError('InvalidState', `WAL ${this.dir} has no metadata`);
    const segment = { seq: tail.segment.seq + 1, index: this.lastIndex + 1, name: '' };
    segment.name = segmentName(segment.seq, segment.index);
    const final = path.join(this.dir, segment.name);
    const header: RecordInput[] = [
      { type: RecordType.Crc, data: new Uint8Array(0) },
      { type: RecordType.Metadata, data: encodeMetadata(metadata) },
      { type: RecordType.State, data: encodeHardState(this.state) },
    ];
    let fd: number;
    try {
      this.fs.ftruncateSync(tail.fd, this.offset);
      this.fs.fsyncSync(tail.fd);
      fd = this.writeNewSegment(`${final}.tmp`, header, this.crc);
    } catch (err) {
      throw this.fail('WriteFailed', `cutting segment ${segment.name} after ${tail.segment.name}`, err);
    }
    try {
      this.fs.renameSync(`${final}.tmp`, final);
      fsyncDir(this.fs, this.dir);
    } catch (err) {
      this.closeQuietly(fd);
      removeQuietly(this.fs, `${final}.tmp`);
      throw this.fail('WriteFailed', `renaming segment ${segment.name} into place`, err);
    }
    // The sealed tail was fsynced above and the new segment holds no append yet: everything appended is durable.
    this.durable = this.appended;
    this.retire(tail.fd);
    this.tail = { segment, fd };
    this.live.push(segment);
    this.logger.info(`created segment ${segment.name}`);
  }

  /**
   * Cuts a torn final record away in place, keeping the damaged bytes (and only them) as `<name>.broken`: the
   * repair needs no more space than that evidence, so it works on a nearly full disk, and when even the evidence
   * does not fit, the repair goes on without it and says so.
   */
  private repair(segment: SegmentName, read: SegmentBytes, torn: TornTail): void {
    const file = path.join(this.dir, segment.name);
    const damaged = read.bytes.subarray(torn.offset, Math.max(read.dataEnd, torn.offset));
    let broken = `${file}.broken`;
    for (let n = 1; this.fs.kindOf(broken) !== null; n++) broken = `${file}.broken.${n}`;
    let kept = `the ${damaged.length} damaged bytes are kept as ${path.basename(broken)}`;
    try {
      const out = this.fs.openSync(broken, 'wx');
      try {
        writeAll(this.fs, out, damaged, 0);
        this.fs.fsyncSync(out);
      } finally {
        this.fs.closeSync(out);
      }
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      removeQuietly(this.fs, broken);
      kept = `the damaged bytes could not be kept (${describeDisk(this.dir)} is full)`;
    }
    const fd = this.fs.openSync(file, 'r+');
    try {
      // Zeros over the damaged bytes, in blocks the file already has: the end-of-log rule finds the end there again.
      writeAll(this.fs, fd, new Uint8Array(damaged.length), torn.offset);
      this.fs.fsyncSync(fd);
    } finally {
      this.fs.closeSync(fd);
    }
    this.logger.warning(`repaired ${file}: cut ${damaged.length} bytes at offset ${torn.offset} (${torn.reason}); ` +
      kept);
  }

  /** Opens the tail for appending after the last good record found by `decodeLog`. */
  private resumeAfter(log: DecodedLog, segment: SegmentName): void {
    const file = path.join(this.dir, segment.name);
    const fd = this.fs.openSync(file, 'r+');
    // A tail shorter than a segment (written by an older tsraft, or cut short) is allocated whole before any append.
    try {
      if (this.fs.fileSize(fd) < this.segmentSize) {
        this.fs.allocateSync(fd, this.segmentSize);
        this.fs.fsyncSync(fd);
      }
    } catch (err) {
      this.fs.closeSync(fd);
      throw failedIn(this.dir, `allocating ${segment.name}`, err);
    }
    this.tail = { segment, fd };
    this.offset = log.end;
    this.crc = log.crc;
    this.lastIndex = log.lastIndex;
    this.state = log.hardState;
    this.metadata = log.metadata;
  }
}

/** The markers a log can be opened at: those at or below its last commit. */
function validMarkers(log: DecodedLog): WalSnapshot[] {
  return log.snapshots.filter((s) => s.index <= log.hardState.commit);
}

/** A WalError for a failed file operation, naming the file and, for a full disk, the disk. */
function failedIn(dir: string, what: string, err: unknown, code: 'SyncFailed' | 'WriteFailed' = 'WriteFailed'): WalError {
  if (err instanceof WalError) return err;
  const why = errorMessage(err);
  const disk = isDiskFull(err) ? `: ${describeDisk(dir)} is full` : '';
  return new WalError(code, `WAL ${dir}: ${what} failed (${why})${disk}; what reached the disk is unknown until ` +
    'the WAL is reopened');
}
