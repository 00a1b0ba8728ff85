// # Record framing
//
// A segment file is a sequence of frames. Each frame is one record:
//
//     length word (8 bytes) | CRC (4 bytes) | type (1 byte) | data | zero padding to a multiple of 8
//
// The length word holds the body length (CRC + type + data) in bytes 0-3 (little-endian), the padding count in
// byte 4, a zero in byte 5, and in bytes 6-7 a CRC-16 (CCITT) of bytes 0-5. etcd's WAL uses the same
// 8-byte word with the padding in its top byte; the check bits are tsraft's addition, so that a damaged length word
// is recognised as damage rather than read as "the file ends inside this record", which is what a crash looks like.
// An all-zero word marks the end of the log: segments are allocated as zeros, and no real frame has a zero
// word (the body is at least 5 bytes, and the check bits of a valid word are not all zero for that length).
//
// The CRC is a chain, as in etcd: each record's CRC covers its type byte and data, starting from the CRC of the
// record before it, across segment boundaries. A CRC record (first in every segment) carries the running value
// without changing it, which ties each segment to the one before: a segment that is missing, reordered, or taken
// from another log breaks the chain. Unlike etcd, the type byte is covered too, so a flipped type cannot make an
// entry read as a hard state.

import { crc32c } from '@node-rs/crc32';
import { entrySize, writeEntryInto } from '../raft/codec';
import type { Entry } from '../raft/types';
import { WalError, hexCrc } from './errors';

/** The kind of a record. Values are etcd's walpb record types. */
export enum RecordType {
  /** The node and cluster identity; second record of every segment. */
  Metadata = 1,
  /** One raft log entry (raftpb.Entry wire format). */
  Entry = 2,
  /** A raft HardState (raftpb.HardState wire format). */
  State = 3,
  /** The running CRC at the start of a segment; first record of every segment. */
  Crc = 4,
  /** A snapshot marker: index, term and membership of a snapshot saved by the application. */
  Snapshot = 5,
}

/** Bytes of the length word. */
export const LENGTH_WORD_BYTES = 8;
/** Bytes of a body before its data: CRC and type. */
const BODY_HEADER_BYTES = 5;
/** The disk sector size that torn writes are assumed to respect: a write reaches the disk in whole sectors. */
export const SECTOR_BYTES = 512;

/** A record to write: its type and its encoded data. */
export interface RecordInput {
  type: RecordType;
  data: Uint8Array;
}

/**
 * An entry record to write, given as the entry itself: it is encoded straight into the frame, which spares the
 * allocation of a buffer per entry on the WAL's hottest path. The bytes are those of a RecordInput holding
 * `encodeEntry(entry)`.
 */
export interface EntryRecordInput {
  type: RecordType.Entry;
  entry: Entry;
}

function dataSize(r: RecordInput | EntryRecordInput): number {
  return 'entry' in r ? entrySize(r.entry) : r.data.length;
}

/**
 * Extends the CRC chain over one record. `typeAndData` is the record's type byte followed by its data, which is how
 * they lie in a frame, so one CRC call covers both without copying.
 */
export function chainCrc(prev: number, typeAndData: Uint8Array): number {
  return crc32c(typeAndData, prev);
}

function paddingFor(bodyLen: number): number {
  return (8 - (bodyLen % 8)) % 8;
}

/** The bytes a record with `dataLen` bytes of data occupies on disk. */
export function frameSize(dataLen: number): number {
  const bodyLen = BODY_HEADER_BYTES + dataLen;
  return LENGTH_WORD_BYTES + bodyLen + paddingFor(bodyLen);
}

// CRC-16/CCITT (polynomial 0x1021) of the length word's first 6 bytes: any single-bit error, and any burst up to
// 16 bits, changes it. Computed here rather than with CRC-32C to save a native call per frame.
const CRC16_TABLE = ((): Uint16Array => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

function lengthWordCheck(buf: Uint8Array, off: number): number {
  let c = 0xffff;
  for (let i = off; i < off + 6; i++) c = ((c << 8) & 0xffff) ^ CRC16_TABLE[((c >>> 8) ^ buf[i]) & 0xff];
  return c;
}

/**
 * Frames `records` into one buffer, continuing the CRC chain from `crc`. Returns the bytes and the new running CRC.
 * One buffer means one write() for a whole batch, so a crash leaves a prefix of it on disk.
 */
export function encodeFrames(
  records: readonly (RecordInput | EntryRecordInput)[],
  crc: number,
): { bytes: Buffer; crc: number } {
  let total = 0;
  for (const r of records) total += frameSize(dataSize(r));
  // Every byte is written below (padding and the reserved byte explicitly), so the buffer need not be zeroed first.
  const buf = Buffer.allocUnsafe(total);
  let off = 0;
  let running = crc;
  for (const r of records) {
    const dataLen = dataSize(r);
    if (r.type === RecordType.Crc && dataLen !== 0) {
      throw new WalError('InvalidState', 'A CRC record carries no data');
    }
    const bodyLen = BODY_HEADER_BYTES + dataLen;
    const pad = paddingFor(bodyLen);
    buf.writeUInt32LE(bodyLen, off);
    buf[off + 4] = pad;
    buf[off + 5] = 0;
    buf.writeUInt16LE(lengthWordCheck(buf, off), off + 6);
    const typeAt = off + LENGTH_WORD_BYTES + 4;
    buf[typeAt] = r.type;
    const dataEnd = typeAt + 1 + dataLen;
    if ('entry' in r) writeEntryInto(buf, typeAt + 1, r.entry);
    else buf.set(r.data, typeAt + 1);
    buf.fill(0, dataEnd, dataEnd + pad);
    // A CRC record stores the running value as is; every other record extends the chain.
    if (r.type !== RecordType.Crc) running = chainCrc(running, buf.subarray(typeAt, dataEnd));
    buf.writeUInt32LE(running >>> 0, off + LENGTH_WORD_BYTES);
    off = dataEnd + pad;
  }
  return { bytes: buf, crc: running };
}

/** A torn final record: where it starts (the offset to truncate to) and what was wrong with it. */
export interface TornTail {
  offset: number;
  reason: string;
}

/** What scanning one segment found: the running CRC after its records, where the next frame goes, any torn tail. */
export interface SegmentScan {
  crc: number;
  end: number;
  torn: TornTail | null;
}

const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/** The offset just past the last non-zero byte of `bytes` (0 if every byte is zero). */
export function dataEnd(bytes: Uint8Array): number {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let hi = view.length;
  // Compare whole chunks with memcmp first: an allocated segment is mostly zeros.
  while (hi > 0) {
    const lo = Math.max(0, hi - ZERO_CHUNK.length);
    if (view.compare(ZERO_CHUNK, 0, hi - lo, lo, hi) !== 0) break;
    hi = lo;
  }
  while (hi > 0 && view[hi - 1] === 0) hi--;
  return hi;
}

function isVerifiedType(t: number): t is RecordType {
  return t >= RecordType.Metadata && t <= RecordType.Snapshot;
}

/**
 * Reads the frames of one segment, verifying the length words, the padding, the types and the CRC chain.
 *
 * `crc` is the running CRC at the end of the previous segment, or null when this is the first segment read and its
 * CRC record seeds the chain. In the last segment (`isLast`), damage that a power loss during appends explains is
 * reported as `torn` instead of refused: a frame cut short, a frame holding a zeroed sector (a write that never
 * reached the disk), or a zeroed length word with bytes after it (the page cache wrote unsynced pages back out of
 * order, and an earlier one was lost). Nothing after such a hole was synced (an fdatasync covers every earlier
 * write), unless the disk itself zeroed a synced sector, which no format without per-sync markers can tell apart;
 * etcd's WAL makes the same choice. Everything else that is wrong throws a WalError naming the file
 * and offset.
 *
 * Each record is handed to `onRecord` as soon as it is verified, with the offset of its frame.
 *
 * `knownDataEnd`, when the reader already found it (wal/segment.ts `readSegment`), is `dataEnd(bytes)`: it spares a
 * second pass over the zeros of a young segment.
 */
export function scanSegment(
  file: string,
  bytes: Uint8Array,
  crc: number | null,
  isLast: boolean,
  knownDataEnd: number | undefined,
  onRecord: (type: RecordType, data: Uint8Array, offset: number) => void,
): SegmentScan {
  // Records verified (and handed to `onRecord`) so far.
  let seen = 0;
  let running = crc;
  let off = 0;
  let written = knownDataEnd ?? -1;
  const writtenEnd = (): number => (written >= 0 ? written : (written = dataEnd(bytes)));
  const finish = (torn: TornTail | null): SegmentScan => {
    if (running === null) throw new WalError('Corrupt', `${file}: segment has no CRC record`, { file, offset: 0 });
    return { crc: running, end: off, torn };
  };
  // A damaged frame is a torn tail only where a crash can leave one: after the segment header (segments appear
  // whole, by rename), in the last segment, with nothing but zeros after the frame's unwritten part.
  const tornOrThrow = (reason: string, frameEnd: number, err: WalError): SegmentScan => {
    const headerDone = seen >= 2;
    const unwrittenFrom = Math.ceil(writtenEnd() / SECTOR_BYTES) * SECTOR_BYTES;
    const lostWrite = unwrittenFrom < frameEnd || hasZeroSector(bytes, off, Math.min(frameEnd, bytes.length));
    if (isLast && headerDone && (frameEnd > bytes.length || lostWrite)) {
      return finish({ offset: off, reason });
    }
    throw err;
  };

  // A damaged record: a torn tail if a crash explains it, else an error naming the file and offset.
  const fail = (reason: string, frameEnd: number, detail: { expectedCrc?: number; actualCrc?: number } = {}): SegmentScan =>
    tornOrThrow(reason, frameEnd, new WalError(detail.expectedCrc === undefined ? 'Corrupt' : 'CrcMismatch',
      `${file}: ${reason}`, { file, offset: off, ...detail }));

  for (;;) {
    const left = bytes.length - off;
    if (left === 0) return finish(null);
    if (left < LENGTH_WORD_BYTES || isZero(bytes, off, LENGTH_WORD_BYTES)) {
      if (writtenEnd() <= off) return finish(null);
      if (left < LENGTH_WORD_BYTES) {
        const reason = `the file ends inside the length word at offset ${off}`;
        const err = new WalError('Corrupt', `${file}: ${reason}`, { file, offset: off });
        return tornOrThrow(reason, bytes.length + 1, err);
      }
      const reason = `non-zero bytes after the end of the log at offset ${off}`;
      const err = new WalError('Corrupt', `${file}: ${reason}`, { file, offset: off });
      if (isLast && seen >= 2) {
        return finish({ offset: off, reason: `${reason} (unsynced writes that reached the disk out of order)` });
      }
      throw err;
    }
    const bodyLen = readU32(bytes, off);
    const pad = bytes[off + 4];
    const check = bytes[off + 6] | (bytes[off + 7] << 8);
    const wellFormed = bytes[off + 5] === 0 && bodyLen >= BODY_HEADER_BYTES && pad === paddingFor(bodyLen);
    if (check !== lengthWordCheck(bytes, off) || !wellFormed) {
      throw new WalError('Corrupt', `${file}: invalid length word at offset ${off}`, { file, offset: off });
    }
    const frameEnd = off + LENGTH_WORD_BYTES + bodyLen + pad;
    if (frameEnd > bytes.length) {
      const reason = `the file ends at ${bytes.length}, inside the record at offset ${off} that ends at ${frameEnd}`;
      return tornOrThrow(reason, frameEnd, new WalError('Corrupt', `${file}: ${reason}`, { file, offset: off }));
    }
    const bodyStart = off + LENGTH_WORD_BYTES;
    const stored = readU32(bytes, bodyStart);
    const type = bytes[bodyStart + 4];
    const data = bytes.subarray(bodyStart + BODY_HEADER_BYTES, bodyStart + bodyLen);

    if (!isVerifiedType(type)) return fail(`unknown record type ${type} at offset ${off}`, frameEnd);
    if (!isZero(bytes, bodyStart + bodyLen, pad)) return fail(`non-zero padding in the record at offset ${off}`, frameEnd);
    if (seen === 0 && type !== RecordType.Crc) {
      throw new WalError('Corrupt', `${file}: segment does not start with a CRC record (type ${type} at offset 0)`, {
        file,
        offset: off,
      });
    }
    if (type === RecordType.Crc) {
      if (seen !== 0 || data.length !== 0) return fail(`misplaced CRC record at offset ${off}`, frameEnd);
      if (running !== null && stored !== running) {
        throw new WalError('CrcMismatch', `${file}: CRC mismatch at offset ${off}: the segment starts from ` +
          `${hexCrc(stored)} but the previous segment ends at ${hexCrc(running)}`,
          { file, offset: off, expectedCrc: running, actualCrc: stored });
      }
      running = stored;
    } else {
      const expected = chainCrc(running ?? 0, bytes.subarray(bodyStart + 4, bodyStart + bodyLen));
      if (expected !== stored) {
        return fail(`CRC mismatch at offset ${off}: expected ${hexCrc(expected)}, stored ${hexCrc(stored)}`, frameEnd, {
          expectedCrc: expected,
          actualCrc: stored,
        });
      }
      running = expected;
    }
    seen++;
    onRecord(type, data, off);
    off = frameEnd;
  }
}

function readU32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

function isZero(b: Uint8Array, off: number, len: number): boolean {
  const end = Math.min(b.length, off + len);
  for (let i = off; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

// Whether a 512-byte sector of the file lying wholly inside [from, to) is all zeros: a write that never reached the
// disk leaves one, a flipped bit does not.
function hasZeroSector(b: Uint8Array, from: number, to: number): boolean {
  for (let at = Math.ceil(from / SECTOR_BYTES) * SECTOR_BYTES; at + SECTOR_BYTES <= to; at += SECTOR_BYTES) {
    if (isZero(b, at, SECTOR_BYTES)) return true;
  }
  return false;
}
