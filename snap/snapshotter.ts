// # Snapshot files
//
// The application's state machine, as of a log index, saved so the log before it can be discarded (§7). Each
// snapshot is one file named `<term>-<index>.snap` (16 hex digits each, etcd's names), holding a checked copy of a
// raftpb.Snapshot:
//
//     magic "tsnp" (4 bytes) | CRC-32C of the body (4 bytes LE) | body length (8 bytes LE) | body (raftpb.Snapshot)
//
// A file is written under a temporary name, fsynced, renamed into place and the directory fsynced, so a snapshot
// file is whole or absent; when a step fails (a full disk), the temporary file is removed and the error names the file
// and the disk. A file that fails its checks anyway (a damaged disk) is renamed to `<name>.broken` and
// the next older one is tried, so one bad file costs a longer replay rather than the node.
//
// Exported API:
//
//     new Snapshotter(dir, logger?)
//     snapshotter.saveSnap(snapshot): string              writes the file durably; returns its name ('' if empty)
//     snapshotter.saveSnapInSlices(snapshot, pause)       the same, awaiting pause() between slices of the file
//     snapshotter.load(): Snapshot                        the newest valid snapshot; SnapError 'NoSnapshot' if none
//     snapshotter.loadNewestAvailable(walSnaps): Snapshot the newest valid one whose term and index the WAL records
//     snapshotter.snapNames(): string[]                   snapshot file names, newest first
//     snapshotter.purge(keep): string[]                   deletes all but the newest `keep`; returns names deleted
//     SnapError (code: SnapErrorCode), snapshotName(term, index)

import * as path from 'path';
import { crc32c } from '@node-rs/crc32';
import { decodeSnapshot, encodeSnapshotParts } from '../raft/codec';
import { Logger, discardLogger } from '../raft/logger';
import { Snapshot, isEmptySnapshot } from '../raft/types';
import { DurableFs, describeDisk, durableFs, errorMessage, fsyncDir, isDiskFull, mkdirAll, writeFileAtomic, writeFileAtomicInSlices } from '../wal/fileutil';

/** What went wrong with a snapshot file. */
export type SnapErrorCode =
  /** No valid snapshot file (of those asked for) exists. */
  | 'NoSnapshot'
  /** The file is empty. */
  | 'EmptySnapshot'
  /** The file is shorter or longer than its header says, or its header is not a snapshot header. */
  | 'Malformed'
  /** The body's CRC differs from the stored one. */
  | 'CrcMismatch'
  /** The body decodes to a snapshot whose term or index differs from the file name's. */
  | 'NameMismatch'
  /** Writing the file failed (a full disk); no part of it, temporary or not, is left behind. */
  | 'WriteFailed';

/** The one error class of the snapshot module. */
export class SnapError extends Error {
  override name = 'SnapError';

  constructor(
    readonly code: SnapErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(message);
  }
}

const MAGIC = Buffer.from('tsnp', 'latin1');
const HEADER_BYTES = 16;
const SNAP_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

/** The file name of the snapshot at `index` taken in `term`. */
export function snapshotName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}.snap`;
}

/** Encodes a snapshot file's bytes. */
export function encodeSnapFile(snapshot: Snapshot): Buffer {
  return Buffer.concat(snapFilePieces(snapshot));
}

// The file as pieces whose concatenation is `encodeSnapFile(snapshot)`: the header, then the body in the parts
// `encodeSnapshotParts` gives, the snapshot's data among them as it lies (no copy of megabytes).
function snapFilePieces(snapshot: Snapshot): Uint8Array[] {
  const parts = encodeSnapshotParts(snapshot);
  let bodyLength = 0;
  let crc = 0;
  for (const p of parts) {
    bodyLength += p.length;
    crc = crc32c(Buffer.from(p.buffer, p.byteOffset, p.byteLength), crc);
  }
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(crc >>> 0, 4);
  header.writeUInt32LE(bodyLength % 2 ** 32, 8);
  header.writeUInt32LE(Math.floor(bodyLength / 2 ** 32), 12);
  return [header, ...parts];
}

/** Decodes and checks a snapshot file's bytes against its name; throws SnapError naming the file. */
export function decodeSnapFile(name: string, buf: Uint8Array): Snapshot {
  if (buf.length === 0) throw new SnapError('EmptySnapshot', `Snapshot file ${name} is empty`, name);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b.length < HEADER_BYTES || !b.subarray(0, 4).equals(MAGIC)) {
    throw new SnapError('Malformed', `Snapshot file ${name} does not start with a snapshot header`, name);
  }
  const bodyLen = b.readUInt32LE(8) + b.readUInt32LE(12) * 2 ** 32;
  if (bodyLen !== b.length - HEADER_BYTES) {
    throw new SnapError('Malformed', `Snapshot file ${name} holds ${b.length - HEADER_BYTES} body bytes, ` +
      `its header says ${bodyLen}`, name);
  }
  const body = b.subarray(HEADER_BYTES);
  const stored = b.readUInt32LE(4);
  const actual = crc32c(body) >>> 0;
  if (stored !== actual) {
    throw new SnapError('CrcMismatch', `Snapshot file ${name}: CRC mismatch: stored 0x${stored.toString(16)}, ` +
      `computed 0x${actual.toString(16)}`, name);
  }
  let snap: Snapshot;
  try {
    snap = decodeSnapshot(body);
  } catch (err) {
    throw new SnapError('Malformed', `Snapshot file ${name} does not decode: ${String(err)}`, name);
  }
  if (snapshotName(snap.metadata.term, snap.metadata.index) !== name) {
    throw new SnapError('NameMismatch', `Snapshot file ${name} holds the snapshot at term ` +
      `${snap.metadata.term} index ${snap.metadata.index}`, name);
  }
  return snap;
}

/** Saves, finds and loads the snapshot files of one directory. */
export class Snapshotter {
  private readonly fs: DurableFs;

  constructor(
    readonly dir: string,
    private readonly logger: Logger = discardLogger,
  ) {
    this.fs = durableFs();
    mkdirAll(this.fs, dir);
  }

  /**
   * Writes `snapshot` durably as `<term>-<index>.snap`: temporary file, fsync, rename, directory fsync. Returns the
   * file name, or '' for an empty snapshot (nothing to save). Save the file before the WAL's snapshot marker.
   */
  saveSnap(snapshot: Snapshot): string {
    if (isEmptySnapshot(snapshot)) return '';
    const name = snapshotName(snapshot.metadata.term, snapshot.metadata.index);
    const file = path.join(this.dir, name);
    try {
      writeFileAtomic(this.fs, file, encodeSnapFile(snapshot));
    } catch (err) {
      throw this.writeFailed(file, name, err);
    }
    return name;
  }

  /**
   * `saveSnap` for a member that goes on serving meanwhile: the file is written a slice at a time, awaiting `pause()`
   * between slices, and flushed in libuv's thread pool. The same file, the same guarantees, the same errors.
   */
  async saveSnapInSlices(snapshot: Snapshot, pause: () => Promise<void>): Promise<string> {
    if (isEmptySnapshot(snapshot)) return '';
    const name = snapshotName(snapshot.metadata.term, snapshot.metadata.index);
    const file = path.join(this.dir, name);
    try {
      await writeFileAtomicInSlices(this.fs, file, snapFilePieces(snapshot), pause);
    } catch (err) {
      throw this.writeFailed(file, name, err);
    }
    return name;
  }

  private writeFailed(file: string, name: string, err: unknown): SnapError {
    const disk = isDiskFull(err) ? `: ${describeDisk(this.dir)} is full` : '';
    return new SnapError('WriteFailed', `Saving snapshot file ${file} failed (${errorMessage(err)})${disk}`, name);
  }

  /** Snapshot file names, newest first (by term, then index). */
  snapNames(): string[] {
    return this.fs
      .readdirSync(this.dir)
      .filter((f) => SNAP_RE.test(f))
      .sort()
      .reverse();
  }

  /** The newest valid snapshot. Damaged files on the way are renamed `.broken`. Throws SnapError 'NoSnapshot'. */
  load(): Snapshot {
    return this.loadMatching(() => true);
  }

  /**
   * The newest valid snapshot whose term and index appear in `walSnaps` (from `Wal.validSnapshotEntries`): a file
   * the WAL has no marker for was saved by a node that crashed before recording it, and the WAL cannot be opened
   * there. Throws SnapError 'NoSnapshot' when none qualifies.
   */
  loadNewestAvailable(walSnaps: readonly { term: number; index: number }[]): Snapshot {
    const known = new Set(walSnaps.map((s) => snapshotName(s.term, s.index)));
    return this.loadMatching((name) => known.has(name));
  }

  /** Deletes all snapshot files but the newest `keep`, and leftover temporaries. Returns the names deleted. */
  purge(keep: number): string[] {
    const doomed = this.snapNames().slice(Math.max(0, keep));
    for (const f of this.fs.readdirSync(this.dir)) if (f.endsWith('.snap.tmp')) this.fs.unlinkSync(path.join(this.dir, f));
    for (const name of doomed) this.fs.unlinkSync(path.join(this.dir, name));
    fsyncDir(this.fs, this.dir);
    return doomed;
  }

  private loadMatching(match: (name: string) => boolean): Snapshot {
    for (const name of this.snapNames()) {
      if (!match(name)) continue;
      const file = path.join(this.dir, name);
      try {
        return decodeSnapFile(name, this.fs.readFileSync(file));
      } catch (err) {
        if (!(err instanceof SnapError)) throw err;
        this.fs.renameSync(file, `${file}.broken`);
        this.logger.warning(`${err.message}; renamed it to ${name}.broken`);
      }
    }
    throw new SnapError('NoSnapshot', `No valid snapshot file in ${this.dir}`);
  }
}
