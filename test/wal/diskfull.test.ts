// A full disk (ENOSPC): where it may strike, what the WAL, the snapshotter and the member do then, and what is left
// on the disk. Two ways to fill a disk: a small tmpfs mounted for the test (needs root; those tests say why they are
// skipped otherwise), and FaultFs refusing chosen operations with ENOSPC.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CommandOp } from '../../kvstore/command';
import { Snapshot } from '../../raft/types';
import { SnapError, Snapshotter } from '../../snap/snapshotter';
import { FaultFs, FaultOp } from '../../wal/faultfs';
import { installDurableFs } from '../../wal/fileutil';
import { Wal, WalError, emptyWalSnapshot } from '../../wal/wal';
import { leads, startMember } from '../powerloss/member';
import { RecordingLogger } from '../support/recording_logger';
import { firstDifference, makeEntries, scratchDir } from './helpers';

const meta = { nodeId: 1, clusterId: 7 };

function enospc(syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), { code: 'ENOSPC', errno: -28, syscall });
}

/** Mounts a tmpfs of `bytes` on a fresh directory, or returns why it cannot. */
function mountSmallDisk(bytes: number): { dir: string; unmount: () => void } | string {
  const dir = scratchDir('diskfull-mnt');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    fs.rmdirSync(dir);
    return `cannot mount a tmpfs (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); run as root`;
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
      fs.rmdirSync(dir);
    },
  };
}

/** Writes a filler file until the disk is full. */
function fillDisk(dir: string): void {
  const fd = fs.openSync(path.join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
}

describe('on a small tmpfs', () => {
  let disk: { dir: string; unmount: () => void } | null = null;
  let skip = '';
  beforeAll(() => {
    const m = mountSmallDisk(2 * 1024 * 1024);
    if (typeof m === 'string') skip = m;
    else disk = m;
  });
  afterAll(() => disk?.unmount());
  const skipped = (): boolean => {
    if (skip !== '') process.stdout.write(`skipped: ${skip}\n`);
    return skip !== '';
  };

  test('a full disk fails the cut of a segment, never an append into one: segments are allocated whole', () => {
    if (skipped() || disk === null) return;
    const dir = path.join(disk.dir, 'wal');
    const segmentSize = 256 * 1024;
    const w = Wal.create(dir, meta, { segmentSize, logger: new RecordingLogger() });
    let synced = 0;
    let failure: unknown = null;
    for (let i = 1; i <= 2000 && failure === null; i++) {
      try {
        w.save({ term: 1, vote: 1, commit: i }, makeEntries(i, i, 1, 4000), true);
        synced = i;
      } catch (err) {
        failure = err;
      }
    }
    expect(failure).toBeInstanceOf(WalError);
    const err = failure as WalError;
    expect(err.code).toBe('WriteFailed');
    // It names the file being made and the disk, and it happened where nothing depended on the new segment.
    expect(err.message).toMatch(/cutting segment [0-9a-f]{16}-[0-9a-f]{16}\.wal/);
    expect(err.message).toContain(`tmpfs disk mounted at ${disk.dir}`);
    expect(err.message).toContain('is full');
    // From then on the WAL refuses to write, and close() does not sync what it refused.
    expect(() => w.save({ term: 1, vote: 1, commit: synced }, makeEntries(synced + 1, synced + 1, 1), true)).toThrow(err);
    expect(() => w.sync()).toThrow(err);
    w.close();
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // No append ever wrote past the blocks allocated for its segment.
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.wal'))) {
      expect(fs.statSync(path.join(dir, f)).size).toBeLessThanOrEqual(segmentSize);
    }
    // Every synced entry is there at the next start, still on the full disk.
    const again = Wal.open(dir, emptyWalSnapshot(), { segmentSize, logger: new RecordingLogger() });
    const r = again.readAll();
    expect(r.entries.length).toBeGreaterThanOrEqual(synced);
    expect(firstDifference(r.entries.slice(0, synced), makeEntries(1, synced, 1, 4000))).toBe(-1);
    again.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a torn final record is repaired on a full disk', () => {
    if (skipped() || disk === null) return;
    const dir = path.join(disk.dir, 'wal2');
    const segmentSize = 512 * 1024;
    const w = Wal.create(dir, meta, { segmentSize, logger: new RecordingLogger() });
    w.save({ term: 1, vote: 1, commit: 3 }, makeEntries(1, 3, 1, 100), true);
    w.save({ term: 1, vote: 1, commit: 3 }, makeEntries(4, 4, 1, 3000), true);
    w.close();
    // A power loss in the middle of the last append: its bytes from a sector boundary on never reached the disk.
    const file = path.join(dir, fs.readdirSync(dir).filter((f) => f.endsWith('.wal'))[0]);
    const bytes = fs.readFileSync(file);
    let end = bytes.length;
    while (bytes[end - 1] === 0) end--;
    const fd = fs.openSync(file, 'r+');
    const from = Math.ceil((end - 2000) / 512) * 512;
    fs.writeSync(fd, Buffer.alloc(end - from), 0, end - from, from);
    fs.closeSync(fd);
    fillDisk(disk.dir);
    const logger = new RecordingLogger();
    const again = Wal.open(dir, emptyWalSnapshot(), { segmentSize, logger });
    const r = again.readAll();
    expect(r.entries).toEqual(makeEntries(1, 3, 1, 100));
    expect(logger.lines.some((l) => l.startsWith('WARN repaired') && l.includes('could not be kept') && l.includes('is full'))).toBe(true);
    again.close();
    fs.rmSync(path.join(disk.dir, 'filler'));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('through FaultFs', () => {
  let root: string;
  let faults: FaultFs;
  let previous: ReturnType<typeof installDurableFs>;
  let failWhen: (op: FaultOp) => boolean = () => false;
  beforeEach(() => {
    root = scratchDir('diskfull');
    failWhen = () => false;
    faults = new FaultFs({ root, seed: 1, failWith: (op) => (failWhen(op) ? enospc(op.kind) : null) });
    faults.recordTrace = true;
    previous = installDurableFs(faults);
  });
  afterEach(() => {
    installDurableFs(previous);
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('a failed append makes the WAL refuse every write, and close() syncs nothing after it', () => {
    const dir = path.join(root, 'wal');
    const w = Wal.create(dir, meta, { segmentSize: 64 * 1024, logger: new RecordingLogger() });
    w.save({ term: 1, vote: 1, commit: 0 }, makeEntries(1, 2, 1), true);
    failWhen = (op) => op.kind === 'write';
    let err: unknown = null;
    try {
      w.save({ term: 1, vote: 1, commit: 2 }, makeEntries(3, 3, 1), false);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WalError);
    expect((err as WalError).code).toBe('WriteFailed');
    expect((err as WalError).message).toMatch(/appending to 0000000000000000-0000000000000000\.wal at offset \d+ failed/);
    failWhen = () => false;
    // The disk has room again, but what the failed write left is unknown: nothing more is written or synced.
    const opsBefore = faults.opCount;
    expect(() => w.save({ term: 1, vote: 1, commit: 2 }, makeEntries(3, 3, 1), true)).toThrow(err as WalError);
    expect(() => w.sync()).toThrow(err as WalError);
    w.close();
    expect(faults.trace.slice(opsBefore).map((o) => o.kind)).toEqual([]);
  });

  test('a cut that fails leaves no temporary segment, and the WAL refuses further writes', () => {
    const dir = path.join(root, 'wal');
    const w = Wal.create(dir, meta, { segmentSize: 4096, logger: new RecordingLogger() });
    failWhen = (op) => op.kind === 'allocate';
    let err: unknown = null;
    for (let i = 1; i < 100 && err === null; i++) {
      try {
        w.save({ term: 1, vote: 1, commit: 0 }, makeEntries(i, i, 1, 500), true);
      } catch (e) {
        err = e;
      }
    }
    expect((err as WalError).code).toBe('WriteFailed');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(() => w.sync()).toThrow(err as WalError);
    w.close();
  });

  test('a WAL whose creation fails leaves no temporary directory', () => {
    failWhen = (op) => op.kind === 'allocate';
    expect(() => Wal.create(path.join(root, 'wal'), meta, { segmentSize: 4096 })).toThrow(/creating the WAL failed.*is full/);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  test.each([
    ['at once', (s: Snapshotter, snap: Snapshot): Promise<string> => Promise.resolve().then(() => s.saveSnap(snap))],
    ['in slices', (s: Snapshotter, snap: Snapshot): Promise<string> => s.saveSnapInSlices(snap, () => Promise.resolve())],
  ])('a snapshot written %s that cannot be written leaves no temporary file and names its file', async (_how, save) => {
    const snap: Snapshot = {
      data: Buffer.alloc(3 * 1024 * 1024, 7),
      metadata: { index: 5, term: 1, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
    };
    const snapshotter = new Snapshotter(path.join(root, 'snap'));
    for (const kind of ['write', 'fsync', 'fdatasync', 'rename'] as const) {
      failWhen = (op) => op.kind === kind;
      let err: unknown = null;
      try {
        await save(snapshotter, snap);
      } catch (e) {
        err = e;
      }
      if (err === null) {
        // saveSnap flushes with fsync and the slices with fdatasync: the other one succeeded.
        expect(kind === 'fsync' || kind === 'fdatasync').toBe(true);
        expect(snapshotter.load().data).toEqual(snap.data);
        fs.rmSync(path.join(root, 'snap', '0000000000000001-0000000000000005.snap'));
        continue;
      }
      expect(err).toBeInstanceOf(SnapError);
      expect((err as SnapError).code).toBe('WriteFailed');
      expect((err as SnapError).message).toContain(path.join(root, 'snap', '0000000000000001-0000000000000005.snap'));
      expect((err as SnapError).message).toContain('is full');
      expect(fs.readdirSync(path.join(root, 'snap'))).toEqual([]);
    }
  });

  test('a member whose disk fills up stops with an error naming the file and the disk', async () => {
    const dataDir = path.join(root, 'member');
    const m = startMember(dataDir, { segmentSize: 64 * 1024, snapshotCount: 1000 });
    expect(await leads(m)).toBe(true);
    await m.node.propose(CommandOp.Put, 'a', Buffer.from('1'));
    failWhen = (op) => op.kind === 'write' && op.file.endsWith('.wal');
    await expect(m.node.propose(CommandOp.Put, 'b', Buffer.from('2'))).rejects.toThrow();
    expect(m.stopped?.failed).toBe(true);
    expect(m.stopped?.reason).toMatch(/0000000000000000-0000000000000000\.wal/);
    expect(m.stopped?.reason).toContain('is full');
    m.node.stop();
  });
});
