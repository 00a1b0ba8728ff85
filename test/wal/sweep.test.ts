// Damage sweeps over a WAL of more than 1,000 records in several segments. Recovery runs on in-memory copies of the
// segments (decodeLog is the whole decision; Wal.readAll only adds the file work), and a sample of cases goes
// through real files to check the repair itself.
import * as fs from 'fs';
import * as path from 'path';
import { decodeHardState } from '../../raft/codec';
import { Entry } from '../../raft/types';
import { DecodedLog, decodeLog } from '../../wal/decoder';
import { SECTOR_BYTES } from '../../wal/record';
import { SegmentName, listSegments } from '../../wal/segment';
import { Wal, WalError, emptyWalSnapshot } from '../../wal/wal';
import { RecordingLogger } from '../support/recording_logger';
import { firstDifference, makeEntries, scratchDir } from './helpers';

const LONG = process.env.TSRAFT_LONG === '1';
const SAVES = 1000;
const meta = { nodeId: 1, clusterId: 7 };

interface Frame {
  start: number;
  end: number;
  type: number;
  dataEnd: number;
}

// Walks frames by their length words, independently of the reader under test.
function framesOf(bytes: Uint8Array): Frame[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: Frame[] = [];
  let off = 0;
  while (off + 8 <= b.length && b.readUInt32LE(off) !== 0) {
    const end = off + 8 + b.readUInt32LE(off) + b[off + 4];
    out.push({ start: off, end, type: b[off + 12], dataEnd: off + 8 + b.readUInt32LE(off) });
    off = end;
  }
  return out;
}

let root: string;
let dir: string;
/** A segment and its bytes, kept in memory so each damaged variant costs no file I/O. */
interface SegmentImage {
  segment: SegmentName;
  bytes: Uint8Array;
}

let images: SegmentImage[];
let tailFrames: Frame[];
let all: Entry[];
/** Entries before the tail segment. */
let entriesBeforeTail: number;

beforeAll(() => {
  root = scratchDir('sweep');
  dir = path.join(root, 'wal');
  const w = Wal.create(dir, meta, { segmentSize: 16 * 1024, logger: new RecordingLogger() });
  all = [];
  // One entry and one hard state per save; keep going until the tail segment holds plenty of records.
  const tailFrameCount = (): number => {
    const tail = listSegments(dir).pop()?.name ?? '';
    return framesOf(fs.readFileSync(path.join(dir, tail))).length;
  };
  for (let i = 1; i <= SAVES || tailFrameCount() < 40; i++) {
    const e = makeEntries(i, i, 1);
    all.push(...e);
    w.save({ term: 1, vote: 1, commit: i }, e, false);
  }
  w.close();
  images = listSegments(dir).map((segment) => ({ segment, bytes: fs.readFileSync(path.join(dir, segment.name)) }));
  tailFrames = framesOf(images[images.length - 1].bytes);
  entriesBeforeTail = all.length - tailFrames.filter((f) => f.type === 2).length;
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function tailBytes(): Uint8Array {
  return images[images.length - 1].bytes;
}

function withTail(bytes: Uint8Array): SegmentImage[] {
  return [...images.slice(0, -1), { segment: images[images.length - 1].segment, bytes }];
}

function read(imgs: SegmentImage[]): DecodedLog {
  const bySeq = new Map(imgs.map((img) => [img.segment.seq, img.bytes]));
  const read = (s: SegmentName): Uint8Array => bySeq.get(s.seq) ?? new Uint8Array(0);
  return decodeLog(imgs.map((img) => img.segment), read, { start: emptyWalSnapshot(), entries: true });
}

/** What the log holds when the tail segment's good records end at `cut`: entries and the last commit. */
function prefixAt(cut: number): { entries: number; commit: number } {
  let index = entriesBeforeTail;
  let commit = entriesBeforeTail;
  for (const f of tailFrames) {
    if (f.end > cut) break;
    if (f.type === 2) index++;
    if (f.type === 3) commit = decodeHardState(tailBytes().subarray(f.start + 13, f.dataEnd)).commit;
  }
  return { entries: index, commit };
}

function expectPrefix(log: DecodedLog, cut: number): void {
  const want = prefixAt(cut);
  expect(log.entries.length).toBe(want.entries);
  expect(firstDifference(log.entries, all.slice(0, want.entries))).toBe(-1);
  expect(log.hardState).toEqual({ term: 1, vote: 1, commit: want.commit });
}

/** A refusal must be a WalError that names the file and the offset; a CRC refusal also names both CRCs. */
function expectClearRefusal(err: unknown): void {
  if (!(err instanceof WalError)) throw err;
  expect(err.file).toBeDefined();
  expect(err.offset).toBeDefined();
  expect(err.message).toContain(err.file ?? '?');
  expect(err.message).toContain(`offset ${err.offset}`);
  if (err.code === 'CrcMismatch') {
    expect(err.expectedCrc).toBeDefined();
    expect(err.actualCrc).toBeDefined();
    expect(err.message).toMatch(/0x[0-9a-f]{8}.*0x[0-9a-f]{8}/);
  }
}

test('the sweep log has over 1,000 records in at least 3 segments', () => {
  expect(images.length).toBeGreaterThanOrEqual(3);
  expect(all.length * 2).toBeGreaterThan(1000);
  expect(tailFrames.length).toBeGreaterThanOrEqual(40);
  expect(firstDifference(read(images).entries, all)).toBe(-1);
});

test('truncation at every byte of the last 8 records recovers the longest valid prefix', () => {
  const tail = images[images.length - 1].bytes;
  const from = tailFrames[tailFrames.length - 8].start;
  const to = tailFrames[tailFrames.length - 1].end;
  for (let k = from; k <= to; k++) {
    const log = read(withTail(tail.subarray(0, k)));
    expectPrefix(log, k);
    const boundary = tailFrames.some((f) => f.end === k);
    expect(log.torn === null).toBe(boundary);
    if (log.torn !== null) expect(log.end).toBe(log.torn.offset);
  }
});

test('a torn write (zeros from a sector boundary on) anywhere in the tail recovers the longest valid prefix', () => {
  const tail = images[images.length - 1].bytes;
  const headerEnd = tailFrames[2].end;
  const to = tailFrames[tailFrames.length - 1].end;
  let cases = 0;
  for (let k = Math.ceil(headerEnd / SECTOR_BYTES) * SECTOR_BYTES; k < to; k += SECTOR_BYTES) {
    const torn = Buffer.from(tail);
    torn.fill(0, k);
    expectPrefix(read(withTail(torn)), k);
    cases++;
  }
  expect(cases).toBeGreaterThan(0);
});

test('bit flips in the last 8 records and in every segment header are repaired only as a torn tail, or refused', () => {
  const targets: { seg: number; byte: number; header: boolean }[] = [];
  images.forEach((img, seg) => {
    const frames = framesOf(img.bytes);
    // The header: CRC record, metadata, and the state (or, in the first segment, snapshot) record.
    for (let b = 0; b < frames[2].end; b++) targets.push({ seg, byte: b, header: true });
  });
  const tailSeg = images.length - 1;
  for (let b = tailFrames[tailFrames.length - 8].start; b < tailFrames[tailFrames.length - 1].end; b++) {
    targets.push({ seg: tailSeg, byte: b, header: false });
  }
  const counts = { refused: 0, repaired: 0 };
  for (const t of targets) {
    for (let bit = 0; bit < 8; bit++) {
      if (!LONG && bit !== t.byte % 8) continue;
      const bytes = Buffer.from(images[t.seg].bytes);
      bytes[t.byte] ^= 1 << bit;
      const imgs = images.map((img, i) => (i === t.seg ? { segment: img.segment, bytes } : img));
      let log: DecodedLog | null = null;
      try {
        log = read(imgs);
      } catch (err) {
        expectClearRefusal(err);
        counts.refused++;
      }
      if (log === null) continue;
      // Accepted: only as a torn final record, cut where the damaged record starts, the rest intact.
      counts.repaired++;
      expect(t.header).toBe(false);
      expect(log.torn).not.toBeNull();
      const last = tailFrames[tailFrames.length - 1];
      expect(log.torn?.offset).toBe(last.start);
      expect(t.byte).toBeGreaterThanOrEqual(last.start);
      expectPrefix(log, last.start);
    }
  }
  expect(counts.refused + counts.repaired).toBeGreaterThan(LONG ? 4000 : 500);
  // A flip leaves non-zero bytes where a torn write leaves zeros, so nearly every flip is refused.
  expect(counts.repaired).toBeLessThanOrEqual(counts.refused / 50);
});

test('real files: a truncated tail is repaired on reopen, kept as .broken, and the log accepts appends again', () => {
  const last = images[images.length - 1];
  const file = path.join(dir, last.segment.name);
  const from = tailFrames[tailFrames.length - 8].start;
  const to = tailFrames[tailFrames.length - 1].end;
  const step = LONG ? 1 : 7;
  for (let k = from + 1; k < to; k += step) {
    fs.writeFileSync(file, last.bytes.subarray(0, k));
    fs.rmSync(`${file}.broken`, { force: true });
    const logger = new RecordingLogger();
    const w = Wal.open(dir, emptyWalSnapshot(), { segmentSize: 16 * 1024, logger });
    const r = w.readAll();
    const want = prefixAt(k);
    expect(r.entries.length).toBe(want.entries);
    const boundary = tailFrames.some((f) => f.end === k);
    expect(fs.existsSync(`${file}.broken`)).toBe(!boundary);
    expect(logger.lines.some((l) => l.startsWith('WARN repaired'))).toBe(!boundary);
    const next = makeEntries(want.entries + 1, want.entries + 1, 2);
    w.save({ term: 2, vote: 1, commit: want.entries }, next, true);
    w.close();
    const w2 = Wal.open(dir, emptyWalSnapshot(), { segmentSize: 16 * 1024, logger });
    const r2 = w2.readAll();
    w2.close();
    expect(firstDifference(r2.entries, [...all.slice(0, want.entries), ...next])).toBe(-1);
  }
  fs.writeFileSync(file, last.bytes);
});
