import * as fs from 'fs';
import * as path from 'path';
import { SnapError, Snapshotter, decodeSnapFile, encodeSnapFile, snapshotName } from '../../snap/snapshotter';
import { Snapshot, emptySnapshot } from '../../raft/types';
import { RecordingLogger } from '../support/recording_logger';
import { entryData, scratchDir } from '../wal/helpers';

function snapAt(term: number, index: number, size = 200): Snapshot {
  return {
    data: entryData(index, term, size),
    metadata: {
      index,
      term,
      confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SnapError) return err.code;
    throw err;
  }
  return 'no error';
}

let dir: string;
beforeEach(() => {
  dir = path.join(scratchDir('snap'), 'snap');
});
afterEach(() => {
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

describe('Snapshotter', () => {
  test('saveSnap writes <term>-<index>.snap and load returns the newest', () => {
    const s = new Snapshotter(dir);
    expect(s.saveSnap(snapAt(1, 10))).toBe('0000000000000001-000000000000000a.snap');
    s.saveSnap(snapAt(2, 20));
    s.saveSnap(snapAt(1, 15));
    expect(s.snapNames()).toEqual([snapshotName(2, 20), snapshotName(1, 15), snapshotName(1, 10)]);
    expect(s.load()).toEqual(snapAt(2, 20));
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('saveSnapInSlices writes the same file as saveSnap, pausing between slices, and leaves no temporary file', async () => {
    const whole = new Snapshotter(path.join(dir, 'whole'));
    const sliced = new Snapshotter(path.join(dir, 'sliced'));
    for (const size of [0, 200, 256 * 1024 - 40, 700 * 1024]) {
      const snap = snapAt(3, 30 + size, size);
      let pauses = 0;
      const name = await sliced.saveSnapInSlices(snap, () => {
        pauses++;
        return Promise.resolve();
      });
      expect(name).toBe(whole.saveSnap(snap));
      if (size === 0) {
        // Empty data is an empty snapshot only with empty metadata; this one has metadata, so it is written.
        expect(name).not.toBe('');
      }
      const bytes = fs.readFileSync(path.join(dir, 'sliced', name));
      expect(bytes.equals(fs.readFileSync(path.join(dir, 'whole', name)))).toBe(true);
      expect(bytes.equals(encodeSnapFile(snap))).toBe(true);
      expect(pauses).toBe(Math.floor(bytes.length / (256 * 1024)));
      expect(sliced.load()).toEqual(snap);
    }
    expect(fs.readdirSync(path.join(dir, 'sliced')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('an empty snapshot is not saved, and load without files is refused', () => {
    const s = new Snapshotter(dir);
    expect(s.saveSnap(emptySnapshot())).toBe('');
    expect(codeOf(() => s.load())).toBe('NoSnapshot');
  });

  test('loadNewestAvailable picks the newest snapshot the WAL has a marker for', () => {
    const s = new Snapshotter(dir);
    s.saveSnap(snapAt(1, 10));
    s.saveSnap(snapAt(1, 20));
    s.saveSnap(snapAt(2, 30));
    expect(s.loadNewestAvailable([{ term: 0, index: 0 }, { term: 1, index: 10 }, { term: 1, index: 20 }])).toEqual(
      snapAt(1, 20),
    );
    expect(codeOf(() => s.loadNewestAvailable([{ term: 0, index: 0 }]))).toBe('NoSnapshot');
    // Nothing was damaged, so nothing was renamed.
    expect(s.snapNames()).toHaveLength(3);
  });

  test('purge keeps the newest N and removes leftover temporaries', () => {
    const s = new Snapshotter(dir);
    for (let i = 1; i <= 5; i++) s.saveSnap(snapAt(1, i * 10));
    fs.writeFileSync(path.join(dir, `${snapshotName(1, 60)}.tmp`), 'partial');
    expect(s.purge(2)).toEqual([snapshotName(1, 30), snapshotName(1, 20), snapshotName(1, 10)]);
    expect(fs.readdirSync(dir).sort()).toEqual([snapshotName(1, 40), snapshotName(1, 50)]);
  });

  test('a file whose content belongs to another name is refused', () => {
    const bytes = encodeSnapFile(snapAt(1, 10));
    expect(codeOf(() => decodeSnapFile(snapshotName(1, 11), bytes))).toBe('NameMismatch');
    expect(decodeSnapFile(snapshotName(1, 10), bytes)).toEqual(snapAt(1, 10));
  });
});

describe('Snapshot damage sweeps', () => {
  // Every truncation and a bit flip at every byte of the newest file: load falls back to the older snapshot (and
  // renames the damaged one .broken), or, with no older one, refuses. It never returns changed content.
  function sweep(withOlder: boolean): { fellBack: number; refused: number } {
    const s = new Snapshotter(dir, new RecordingLogger());
    if (withOlder) s.saveSnap(snapAt(1, 10));
    s.saveSnap(snapAt(2, 20));
    const newest = path.join(dir, snapshotName(2, 20));
    const good = fs.readFileSync(newest);
    const counts = { fellBack: 0, refused: 0 };
    const check = (damaged: Buffer): void => {
      fs.rmSync(`${newest}.broken`, { force: true });
      fs.writeFileSync(newest, damaged);
      let got: Snapshot | null = null;
      try {
        got = s.load();
      } catch (err) {
        if (!(err instanceof SnapError)) throw err;
        expect(err.code).toBe('NoSnapshot');
        counts.refused++;
      }
      if (got !== null) {
        expect(got).toEqual(snapAt(1, 10));
        counts.fellBack++;
      }
      expect(fs.existsSync(newest)).toBe(false);
      expect(fs.existsSync(`${newest}.broken`)).toBe(true);
    };
    for (let n = 0; n < good.length; n++) check(good.subarray(0, n));
    for (let i = 0; i < good.length; i++) {
      const bad = Buffer.from(good);
      bad[i] ^= 1 << i % 8;
      check(bad);
    }
    return counts;
  }

  test('damage to the newest snapshot falls back to the older one', () => {
    const n = encodeSnapFile(snapAt(2, 20)).length;
    expect(sweep(true)).toEqual({ fellBack: 2 * n, refused: 0 });
  });

  test('damage to the only snapshot is refused', () => {
    const n = encodeSnapFile(snapAt(2, 20)).length;
    expect(sweep(false)).toEqual({ fellBack: 0, refused: 2 * n });
  });
});
