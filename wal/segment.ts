// # Segment files
//
// The log is split into segment files named `<seq>-<index>.wal`, both as 16 lowercase hex digits (etcd's names):
// `seq` counts segments from 0 and `index` is the raft index the segment's first new entry was expected to have
// when it was cut. Names sort in log order, and the index lets `open` skip segments wholly before a snapshot.

import { Buffer } from 'node:buffer';
import * as path from 'path';
import { DurableFs } from './durablefs';
import { durableFs } from './fileutil';
import { WalError } from './errors';

/** A segment's identity as its name encodes it. */
export interface SegmentName {
  seq: number;
  index: number;
  name: string;
}

const SEGMENT_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

/** The file name of segment `seq` starting at raft index `index`. */
export function segmentName(seq: number, index: number): string {
  return `${hex16(seq)}-${hex16(index)}.wal`;
}

/** Parses a segment file name; null for any other file. */
export function parseSegmentName(name: string): SegmentName | null {
  const m = SEGMENT_RE.exec(name);
  if (m === null) return null;
  const seq = Number.parseInt(m[1], 16);
  const index = Number.parseInt(m[2], 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(index)) return null;
  return { seq, index, name };
}

/** The segments in `dir`, in sequence order. Other files (the lock, `.broken` evidence, temporaries) are ignored. */
export function listSegments(dir: string, dfs: DurableFs = durableFs()): SegmentName[] {
  const out: SegmentName[] = [];
  for (const f of dfs.readdirSync(dir)) {
    const s = parseSegmentName(f);
    if (s !== null) out.push(s);
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** Throws unless the sequence numbers are consecutive: a gap means a segment file is missing. */
export function checkConsecutive(dir: string, segs: readonly SegmentName[]): void {
  for (let i = 1; i < segs.length; i++) {
    if (segs[i].seq !== segs[i - 1].seq + 1) {
      throw new WalError('MissingSegment', `WAL directory ${dir} is missing segment ${segs[i - 1].seq + 1}: ` +
        `${segs[i - 1].name} is followed by ${segs[i].name}`);
    }
  }
}

/**
 * The segments to read for a snapshot at `index`: the last one whose name index is at most `index` (it holds the
 * entry after the snapshot, or the snapshot itself was taken while it was the tail) and every one after it.
 */
export function selectSegments(dir: string, segs: readonly SegmentName[], index: number): SegmentName[] {
  checkConsecutive(dir, segs);
  let from = -1;
  for (let i = 0; i < segs.length; i++) if (segs[i].index <= index) from = i;
  if (from < 0) {
    throw new WalError('NotFound', `WAL directory ${dir} has no segment covering index ${index}`);
  }
  return segs.slice(from);
}

/** A segment file as read for replay. */
export interface SegmentBytes {
  /** The whole file: every byte past `dataEnd` is zero. */
  bytes: Uint8Array;
  /** Just past the last non-zero byte (0 for a file of zeros): the most the file can hold of the log. */
  dataEnd: number;
}

const READ_CHUNK = 1024 * 1024;
const ZERO_CHUNK = Buffer.alloc(READ_CHUNK);

/**
 * Reads segment `segment` of `dir` in one pass, through a small reused buffer. A segment is allocated whole, so most
 * of a young tail is zeros: those chunks are recognised as they pass (one memcmp each) and never copied, and the
 * result's buffer leaves them as the zeros a fresh allocation already holds, so its pages are never touched. The
 * caller still sees every byte of the file, which the torn-tail rules need (a non-zero byte anywhere after the end
 * of the log is a hole left by unsynced writes, docs/durability.md), and learns where the data ends without
 * scanning the zeros again.
 */
export function readSegment(dfs: DurableFs, dir: string, segment: SegmentName): SegmentBytes {
  const fd = dfs.openSync(path.join(dir, segment.name), 'r');
  try {
    const size = dfs.fileSize(fd);
    const bytes = Buffer.alloc(size);
    const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, size));
    let dataEnd = 0;
    for (let at = 0; at < size; ) {
      const n = readFully(dfs, fd, chunk, Math.min(chunk.length, size - at), at);
      if (n === 0) break;
      if (chunk.compare(ZERO_CHUNK, 0, n, 0, n) !== 0) {
        chunk.copy(bytes, at, 0, n);
        dataEnd = at + lastNonZero(chunk, n);
      }
      at += n;
    }
    return { bytes, dataEnd };
  } finally {
    dfs.closeSync(fd);
  }
}

// Just past the last non-zero byte among the first `n` of `chunk`, which holds one: whole pages are skipped by memcmp.
function lastNonZero(chunk: Buffer, n: number): number {
  let hi = n;
  while (hi > 0) {
    const lo = Math.max(0, hi - 4096);
    if (chunk.compare(ZERO_CHUNK, 0, hi - lo, lo, hi) !== 0) break;
    hi = lo;
  }
  while (hi > 0 && chunk[hi - 1] === 0) hi--;
  return hi;
}

// Reads up to `length` bytes at `position`, looping over short reads; fewer only at the end of the file.
function readFully(dfs: DurableFs, fd: number, buf: Uint8Array, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = dfs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}
