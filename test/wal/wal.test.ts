import * as fs from 'fs';
import * as path from 'path';
import { ConfState, EntryType, emptyConfState } from '../../raft/types';
import { dataEnd } from '../../wal/record';
import { listSegments, readSegment } from '../../wal/segment';
import { Wal, WalError, WalSnapshot, emptyWalSnapshot } from '../../wal/wal';
import { RecordingLogger } from '../support/recording_logger';
import { nodeFs } from '../../wal/durablefs';
import { makeEntries, scratchDir } from './helpers';

const meta = { nodeId: 3, clusterId: 0x1234abcd };
const small = (logger = new RecordingLogger()) => ({ segmentSize: 4096, logger });

function snap(index: number, term: number, confState: ConfState = emptyConfState()): WalSnapshot {
  return { index, term, confState };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof WalError) return err.code;
    throw err;
  }
  return 'no error';
}

let dir: string;
beforeEach(() => {
  dir = path.join(scratchDir('wal'), 'wal');
});
afterEach(() => {
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

function reopen(at: WalSnapshot = emptyWalSnapshot(), opts = small()) {
  const w = Wal.open(dir, at, opts);
  return { w, r: w.readAll() };
}

describe('Wal round trips', () => {
  test('entries and hard states written are read back, and the WAL appends after readAll', () => {
    const w = Wal.create(dir, meta, small());
    w.save({ term: 1, vote: 1, commit: 0 }, makeEntries(1, 5, 1), true);
    w.save({ term: 2, vote: 2, commit: 3 }, makeEntries(6, 7, 2), true);
    w.close();
    const { w: w2, r } = reopen();
    expect(r.metadata).toEqual(meta);
    expect(r.hardState).toEqual({ term: 2, vote: 2, commit: 3 });
    expect(r.entries).toEqual([...makeEntries(1, 5, 1), ...makeEntries(6, 7, 2)]);
    w2.save({ term: 2, vote: 2, commit: 7 }, makeEntries(8, 8, 2), true);
    w2.close();
    const { w: w3, r: r3 } = reopen();
    expect(r3.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r3.hardState.commit).toBe(7);
    w3.close();
  });

  test('an empty save writes nothing and a hard state alone is kept', () => {
    const w = Wal.create(dir, meta, small());
    w.save({ term: 0, vote: 0, commit: 0 }, [], true);
    w.save({ term: 4, vote: 1, commit: 0 }, [], false);
    w.close();
    const { w: w2, r } = reopen();
    expect(r.hardState).toEqual({ term: 4, vote: 1, commit: 0 });
    expect(r.entries).toEqual([]);
    w2.close();
  });

  test('a later entry at an index replaces the earlier one and everything after it', () => {
    const w = Wal.create(dir, meta, small());
    w.save({ term: 1, vote: 1, commit: 2 }, makeEntries(1, 10, 1), true);
    w.save({ term: 2, vote: 2, commit: 2 }, makeEntries(6, 8, 2), true);
    w.save({ term: 3, vote: 3, commit: 2 }, makeEntries(3, 3, 3), true);
    w.save({ term: 3, vote: 3, commit: 2 }, makeEntries(4, 4, 3), true);
    w.close();
    const { w: w2, r } = reopen();
    expect(r.entries).toEqual([...makeEntries(1, 2, 1), ...makeEntries(3, 4, 3)]);
    w2.close();
  });

  test('entries keep their type and empty data survives', () => {
    const w = Wal.create(dir, meta, small());
    const ents = [
      { index: 1, term: 1, type: EntryType.EntryNormal, data: new Uint8Array(0) },
      { index: 2, term: 1, type: EntryType.EntryConfChangeV2, data: Uint8Array.of(1, 2, 3) },
    ];
    w.save({ term: 1, vote: 0, commit: 0 }, ents, true);
    w.close();
    const { w: w2, r } = reopen();
    expect(r.entries).toEqual(ents);
    w2.close();
  });

  test('open at a snapshot returns the entries after it and checks the marker', () => {
    const w = Wal.create(dir, meta, small());
    w.save({ term: 1, vote: 1, commit: 5 }, makeEntries(1, 10, 1), true);
    const cs: ConfState = { voters: [1, 2, 3], learners: [4], votersOutgoing: [], learnersNext: [], autoLeave: false };
    w.saveSnapshot(snap(5, 1, cs));
    w.close();
    const { w: w2, r } = reopen(snap(5, 1, cs));
    expect(r.entries).toEqual(makeEntries(6, 10, 1));
    w2.close();
    expect(codeOf(() => reopen(snap(4, 1)))).toBe('SnapshotNotFound');
    expect(codeOf(() => reopen(snap(5, 2)))).toBe('SnapshotMismatch');
    expect(Wal.validSnapshotEntries(dir)).toEqual([emptyWalSnapshot(), snap(5, 1, cs)]);
  });

  test('validSnapshotEntries leaves out markers above the last commit', () => {
    const w = Wal.create(dir, meta, small());
    w.save({ term: 1, vote: 1, commit: 3 }, makeEntries(1, 10, 1), true);
    w.saveSnapshot(snap(3, 1));
    w.saveSnapshot(snap(8, 1));
    w.close();
    expect(Wal.validSnapshotEntries(dir).map((s) => s.index)).toEqual([0, 3]);
  });

  test('openNewest picks among the valid markers and replays from the one picked, in one pass', () => {
    const w = Wal.create(dir, meta, small());
    w.save({ term: 1, vote: 1, commit: 6 }, makeEntries(1, 10, 1), true);
    w.saveSnapshot(snap(3, 1));
    w.saveSnapshot(snap(6, 1));
    w.saveSnapshot(snap(9, 1));
    w.close();
    let offered: number[] = [];
    const w2 = Wal.openNewest(dir, (valid) => {
      offered = valid.map((s) => s.index);
      return snap(3, 1);
    }, small());
    // The marker at 9 is above the commit: not offered, as validSnapshotEntries.
    expect(offered).toEqual([0, 3, 6]);
    expect(w2.readAll().entries).toEqual(makeEntries(4, 10, 1));
    w2.close();
    // A pick that throws leaves the directory unlocked.
    expect(() => Wal.openNewest(dir, () => {
      throw new Error('no snapshot file');
    }, small())).toThrow('no snapshot file');
    const w3 = Wal.openNewest(dir, (valid) => valid[valid.length - 1], small());
    expect(w3.readAll().entries).toEqual(makeEntries(7, 10, 1));
    w3.close();
  });

  test('a hard state that moves only the commit index is held until the next append, sync or close', () => {
    const read = (d: string) => {
      const w2 = Wal.open(d, emptyWalSnapshot(), small());
      const r = w2.readAll();
      w2.close();
      return { hardState: r.hardState, last: r.entries[r.entries.length - 1]?.index ?? 0 };
    };
    // What a crash at this point would leave on disk (the copy's lock file is a plain file, not held).
    let copies = 0;
    const crashNow = (): string => {
      const to = path.join(path.dirname(dir), `crash-${copies++}`);
      fs.cpSync(dir, to, { recursive: true });
      return to;
    };
    const w = Wal.create(dir, meta, small());
    w.save({ term: 1, vote: 1, commit: 0 }, makeEntries(1, 3, 1), true);
    w.save({ term: 1, vote: 1, commit: 2 }, [], false);
    w.save({ term: 1, vote: 1, commit: 3 }, [], false);
    const held = crashNow();
    // An append writes the newest held state before its entries.
    w.save({ term: 0, vote: 0, commit: 0 }, makeEntries(4, 4, 1), true);
    const appended = crashNow();
    w.save({ term: 1, vote: 1, commit: 4 }, [], false);
    w.sync();
    const synced = crashNow();
    w.save({ term: 1, vote: 1, commit: 4 }, [], false);
    // A change of term or vote is never held.
    w.save({ term: 2, vote: 0, commit: 4 }, [], false);
    const termChange = crashNow();
    w.save({ term: 2, vote: 0, commit: 4 }, makeEntries(5, 5, 2), true);
    // Held, then written by close.
    w.save({ term: 2, vote: 0, commit: 5 }, [], false);
    w.close();

    // Lost in a crash: only the commit index, never an entry.
    expect(read(held)).toEqual({ hardState: { term: 1, vote: 1, commit: 0 }, last: 3 });
    expect(read(appended)).toEqual({ hardState: { term: 1, vote: 1, commit: 3 }, last: 4 });
    expect(read(synced)).toEqual({ hardState: { term: 1, vote: 1, commit: 4 }, last: 4 });
    expect(read(termChange)).toEqual({ hardState: { term: 2, vote: 0, commit: 4 }, last: 4 });
    expect(read(dir)).toEqual({ hardState: { term: 2, vote: 0, commit: 5 }, last: 5 });
  });

  test('readSegment returns the file byte for byte and where its data ends, zeros or not', () => {
    const file = path.join(path.dirname(dir), '0000000000000000-0000000000000000.wal');
    const MiB = 1024 * 1024;
    const shapes: [string, number, number[]][] = [
      ['all zeros', 3 * MiB, []],
      ['empty', 0, []],
      ['data at the start', 3 * MiB + 17, [0, 1, 4095]],
      ['data across a chunk boundary', 2 * MiB, [MiB - 1, MiB]],
      ['a lone byte far after the data (a hole)', 3 * MiB, [5, 3 * MiB - 2]],
      ['the last byte', 4096, [4095]],
    ];
    for (const [what, size, nonZero] of shapes) {
      const bytes = Buffer.alloc(size);
      for (const at of nonZero) bytes[at] = 0x5a;
      fs.writeFileSync(file, bytes);
      const got = readSegment(nodeFs, path.dirname(dir), { seq: 0, index: 0, name: path.basename(file) });
      expect({ what, same: Buffer.from(got.bytes).equals(bytes), dataEnd: got.dataEnd }).toEqual({
        what,
        same: true,
        dataEnd: dataEnd(bytes),
      });
    }
  });

  test('many segments: cut at the size limit, read back across them, resume in the tail', () => {
    const logger = new RecordingLogger();
    const w = Wal.create(dir, meta, small(logger));
    for (let i = 1; i <= 400; i += 4) w.save({ term: 1, vote: 1, commit: i - 1 }, makeEntries(i, i + 3, 1, 40), true);
    w.close();
    const segs = listSegments(dir);
    expect(segs.length).toBeGreaterThan(5);
    expect(segs.map((s) => s.seq)).toEqual(segs.map((_, i) => i));
    // Every segment but the tail is sealed at its last record; names carry the next expected index.
    for (let i = 1; i < segs.length; i++) {
      expect(fs.statSync(path.join(dir, segs[i - 1].name)).size).toBeLessThan(4096 + 400);
      expect((segs[i].index - 1) % 4).toBe(0);
    }
    expect(logger.lines.filter((l) => l.includes('created segment')).length).toBe(segs.length - 1);
    const { w: w2, r } = reopen();
    expect(r.entries).toEqual(makeEntries(1, 400, 1, 40));
    expect(r.hardState).toEqual({ term: 1, vote: 1, commit: 396 });
    w2.save({ term: 1, vote: 1, commit: 400 }, makeEntries(401, 401, 1, 40), true);
    w2.close();
    const { w: w3, r: r3 } = reopen();
    expect(r3.entries.length).toBe(401);
    w3.close();
  });

  test('releaseLockTo and purgeSegments delete only segments wholly before the snapshot', () => {
    const w = Wal.create(dir, meta, small());
    for (let i = 1; i <= 300; i++) w.save({ term: 1, vote: 1, commit: i }, makeEntries(i, i, 1, 40), false);
    w.saveSnapshot(snap(200, 1));
    w.releaseLockTo(200);
    const before = listSegments(dir);
    const removed = w.purgeSegments();
    const after = listSegments(dir);
    expect(removed.length).toBeGreaterThan(0);
    expect(after.length + removed.length).toBe(before.length);
    // The segment holding entry 201 is kept: the snapshot still needs what follows it.
    expect(after[0].index).toBeLessThanOrEqual(201);
    w.close();
    const { w: w2, r } = reopen(snap(200, 1));
    expect(r.entries).toEqual(makeEntries(201, 300, 1, 40));
    w2.close();
    expect(codeOf(() => reopen(emptyWalSnapshot()))).toBe('NotFound');
  });

  test('purgeSegments keeps the newest released segments it is asked to keep', () => {
    const w = Wal.create(dir, meta, small());
    for (let i = 1; i <= 300; i++) w.save({ term: 1, vote: 1, commit: i }, makeEntries(i, i, 1, 40), false);
    w.releaseLockTo(300);
    const released = listSegments(dir).length - 1;
    expect(w.purgeSegments(2)).toHaveLength(released - 2);
    w.close();
  });
});

describe('Wal misuse and refusals', () => {
  test('create refuses a directory that holds a WAL; open refuses one that does not', () => {
    Wal.create(dir, meta, small()).close();
    expect(Wal.exists(dir)).toBe(true);
    expect(codeOf(() => Wal.create(dir, meta, small()))).toBe('Exists');
    expect(codeOf(() => Wal.open(`${dir}-none`, emptyWalSnapshot()))).toBe('NotFound');
    expect(Wal.exists(`${dir}-none`)).toBe(false);
  });

  test('a save that would leave a gap in the log is refused', () => {
    const w = Wal.create(dir, meta, small());
    w.save({ term: 1, vote: 1, commit: 0 }, makeEntries(1, 3, 1), true);
    expect(codeOf(() => w.save({ term: 1, vote: 1, commit: 0 }, makeEntries(5, 6, 1), true))).toBe('IndexGap');
    w.saveSnapshot(snap(10, 1));
    w.save({ term: 1, vote: 1, commit: 11 }, makeEntries(11, 11, 1), true);
    w.close();
  });

  test('create refuses a non-empty directory without a WAL', () => {
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'keep-me'), 'x');
    expect(codeOf(() => Wal.create(dir, meta, small()))).toBe('Exists');
    expect(fs.readFileSync(path.join(dir, 'keep-me'), 'utf8')).toBe('x');
  });

  test('save before readAll and after close are refused', () => {
    Wal.create(dir, meta, small()).close();
    const w = Wal.open(dir, emptyWalSnapshot(), small());
    expect(codeOf(() => w.save({ term: 1, vote: 0, commit: 0 }, [], true))).toBe('InvalidState');
    w.readAll();
    expect(codeOf(() => w.readAll())).toBe('InvalidState');
    w.close();
    expect(codeOf(() => w.save({ term: 1, vote: 0, commit: 0 }, [], true))).toBe('InvalidState');
  });

  test('a second open of a locked directory names the directory and this process', () => {
    const w = Wal.create(dir, meta, small());
    let msg = '';
    try {
      Wal.open(dir, emptyWalSnapshot());
    } catch (err) {
      if (!(err instanceof WalError)) throw err;
      expect(err.code).toBe('Locked');
      msg = err.message;
    }
    expect(msg).toBe(`WAL directory ${dir} is locked by process ${process.pid}`);
    w.close();
    reopen().w.close();
  });

  function manySegments(): string[] {
    const w = Wal.create(dir, meta, small());
    for (let i = 1; i <= 200; i++) w.save({ term: 1, vote: 1, commit: i }, makeEntries(i, i, 1, 40), false);
    w.close();
    return listSegments(dir).map((s) => path.join(dir, s.name));
  }

  test('a missing middle segment is refused', () => {
    const files = manySegments();
    fs.rmSync(files[2]);
    expect(codeOf(() => reopen())).toBe('MissingSegment');
  });

  test('swapped segments break the CRC chain', () => {
    const files = manySegments();
    const a = fs.readFileSync(files[1]);
    fs.writeFileSync(files[1], fs.readFileSync(files[2]));
    fs.writeFileSync(files[2], a);
    expect(codeOf(() => reopen())).toBe('CrcMismatch');
  });

  test('a segment taken from another log breaks the CRC chain', () => {
    const files = manySegments();
    const other = `${dir}-other`;
    const w = Wal.create(other, meta, small());
    for (let i = 1; i <= 200; i++) w.save({ term: 2, vote: 1, commit: i }, makeEntries(i, i, 2, 40), false);
    w.close();
    const otherFiles = listSegments(other).map((s) => path.join(other, s.name));
    fs.copyFileSync(otherFiles[2], files[2]);
    let err: unknown = null;
    try {
      reopen();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WalError);
    if (err instanceof WalError) {
      expect(err.code).toBe('CrcMismatch');
      expect(err.file).toBe(path.basename(files[2]));
      expect(err.offset).toBe(0);
      expect(err.message).toMatch(/CRC mismatch at offset 0: .*0x[0-9a-f]{8}.*0x[0-9a-f]{8}/);
    }
  });

  test('a segment from another node is refused', () => {
    const files = manySegments();
    const other = `${dir}-other`;
    Wal.create(other, { nodeId: 4, clusterId: meta.clusterId }, small()).close();
    const w = Wal.open(other, emptyWalSnapshot(), small());
    w.readAll();
    w.close();
    fs.copyFileSync(path.join(other, listSegments(other)[0].name), files[0]);
    expect(['CrcMismatch', 'MetadataConflict']).toContain(codeOf(() => reopen()));
  });

  test('a torn final record is cut away in place, its bytes kept as .broken, logged, and appending resumes', () => {
    const w = Wal.create(dir, meta, small());
    w.save({ term: 1, vote: 1, commit: 0 }, makeEntries(1, 3, 1, 100), true);
    w.close();
    const file = path.join(dir, listSegments(dir)[0].name);
    const bytes = fs.readFileSync(file);
    let end = bytes.length;
    while (bytes[end - 1] === 0) end--;
    // Cut the file 20 bytes into the final record (the hard state), as a crash mid-append would.
    fs.truncateSync(file, end - 10);
    const logger = new RecordingLogger();
    const { w: w2, r } = reopen(emptyWalSnapshot(), small(logger));
    expect(r.entries).toEqual(makeEntries(1, 3, 1, 100));
    expect(r.hardState).toEqual({ term: 0, vote: 0, commit: 0 });
    // Only the damaged record's bytes are kept as evidence (the repair must not need a segment's worth of space).
    const broken = fs.readFileSync(`${file}.broken`);
    let written = end - 10;
    while (bytes[written - 1] === 0) written--;
    expect(broken.length).toBeGreaterThan(0);
    expect(broken.length).toBeLessThan(64);
    expect(broken.equals(bytes.subarray(written - broken.length, written))).toBe(true);
    expect(logger.lines.some((l) => l.startsWith(`WARN repaired ${file}: cut `) && l.includes('.broken'))).toBe(true);
    w2.save({ term: 1, vote: 1, commit: 4 }, makeEntries(4, 4, 1), true);
    w2.close();
    const { w: w3, r: r3 } = reopen();
    expect(r3.entries.length).toBe(4);
    expect(r3.hardState.commit).toBe(4);
    w3.close();
  });
});
