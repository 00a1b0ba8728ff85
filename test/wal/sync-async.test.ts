// Wal.syncAsync: the fdatasync off the event loop, its sharing rules, and the lifetime of the descriptors it syncs.
// The callback of an fdatasync in libuv's thread pool never runs before the code that started it yields, so
// everything a test does synchronously after `syncAsync()` happens while that sync is still running.
import fs from 'fs';
import * as path from 'path';
import { emptyHardState } from '../../raft/types';
import { listSegments } from '../../wal/segment';
import { Wal, WalError, emptyWalSnapshot } from '../../wal/wal';
import { RecordingLogger } from '../support/recording_logger';
import { firstDifference, makeEntries, scratchDir } from './helpers';

const meta = { nodeId: 5, clusterId: 0xbeef };
const small = () => ({ segmentSize: 4096, logger: new RecordingLogger() });
const state = (commit: number) => ({ term: 1, vote: 1, commit });

let dir: string;
beforeEach(() => {
  dir = path.join(scratchDir('wal-async'), 'wal');
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

function reopen() {
  const w = Wal.open(dir, emptyWalSnapshot(), small());
  return { w, r: w.readAll() };
}

/** The file descriptor `fd` of this process names, or '' if it is closed. */
function fdTarget(fd: number): string {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return '';
  }
}

/** How many descriptors of this process are open on each of the WAL's segments, by segment name. */
function openSegments(): Map<string, number> {
  const names = new Map(listSegments(dir).map((s) => [fs.realpathSync(path.join(dir, s.name)), s.name]));
  const out = new Map<string, number>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    const name = names.get(fdTarget(Number(fd)));
    if (name !== undefined) out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}

/** Records the file each asynchronous fdatasync was started on, then runs the real one. */
function recordAsyncSyncs(): string[] {
  const real = fs.fdatasync;
  const files: string[] = [];
  jest.spyOn(fs, 'fdatasync').mockImplementation((fd: number, cb: fs.NoParamCallback) => {
    files.push(path.basename(fdTarget(fd)));
    real(fd, cb);
  });
  return files;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WalError) return err.code;
    throw err;
  }
  return 'no error';
}

describe('Wal.syncAsync', () => {
  test('resolves once the appends are synced, and they are read back after reopening', async () => {
    const syncs = recordAsyncSyncs();
    const w = Wal.create(dir, meta, small());
    w.save(state(0), makeEntries(1, 5, 1), false);
    await w.syncAsync();
    w.save(state(5), makeEntries(6, 9, 1), false);
    await w.syncAsync();
    expect(syncs).toEqual([listSegments(dir)[0].name, listSegments(dir)[0].name]);
    w.close();
    const { w: w2, r } = reopen();
    expect(firstDifference(r.entries, makeEntries(1, 9, 1))).toBe(-1);
    expect(r.hardState).toEqual(state(5));
    w2.close();
  });

  test('with nothing appended since the last sync it resolves without an fdatasync', async () => {
    const syncs = recordAsyncSyncs();
    const w = Wal.create(dir, meta, small());
    await w.syncAsync();
    w.save(state(0), makeEntries(1, 2, 1), true);
    await w.syncAsync();
    w.save(emptyHardState(), [], false);
    await w.syncAsync();
    expect(syncs).toEqual([]);
    w.close();
  });

  test('a call covered by the running sync shares it; the others share the next one', async () => {
    const syncs = recordAsyncSyncs();
    const w = Wal.create(dir, meta, small());
    const settled: string[] = [];
    const track = (name: string, p: Promise<void>) => p.then(() => void settled.push(name));
    w.save(state(0), makeEntries(1, 3, 1), false);
    const a = track('a', w.syncAsync());
    const b = track('b', w.syncAsync());
    expect(syncs).toHaveLength(1);
    w.save(state(3), makeEntries(4, 6, 1), false);
    const c = track('c', w.syncAsync());
    w.save(state(6), makeEntries(7, 7, 1), false);
    const d = track('d', w.syncAsync());
    // c and d wait: the running sync may have missed their appends, and two never run at once.
    expect(syncs).toHaveLength(1);
    await Promise.all([a, b, c, d]);
    expect(syncs).toHaveLength(2);
    expect(settled.slice(0, 2).sort()).toEqual(['a', 'b']);
    expect(settled.slice(2).sort()).toEqual(['c', 'd']);
    w.close();
  });

  test('queued callers that a blocking sync covered meanwhile resolve without another fdatasync', async () => {
    const syncs = recordAsyncSyncs();
    const w = Wal.create(dir, meta, small());
    w.save(state(0), makeEntries(1, 3, 1), false);
    const a = w.syncAsync();
    w.save(state(3), makeEntries(4, 6, 1), false);
    const b = w.syncAsync();
    w.sync();
    await Promise.all([a, b]);
    expect(syncs).toHaveLength(1);
    w.close();
  });

  test('a cut during a running sync closes the sealed descriptor only once that sync settles', async () => {
    const syncs = recordAsyncSyncs();
    const w = Wal.create(dir, meta, small());
    w.save(state(0), makeEntries(1, 1, 1, 40), false);
    const first = listSegments(dir)[0].name;
    const running = w.syncAsync();
    let last = 1;
    while (listSegments(dir).length === 1) {
      last++;
      w.save(state(last - 1), makeEntries(last, last, 1, 40), false);
    }
    const second = listSegments(dir)[1].name;
    // Still open under the running fdatasync, so its number cannot have gone to another file.
    expect(openSegments()).toEqual(new Map([[first, 1], [second, 1]]));
    last++;
    w.save(state(last - 1), makeEntries(last, last, 1, 40), false);
    const after = w.syncAsync();
    await running;
    expect(openSegments()).toEqual(new Map([[second, 1]]));
    await after;
    // The queued sync went to the new tail, not to the sealed segment (which the cut had fsynced).
    expect(syncs).toEqual([first, second]);
    w.close();
    expect(openSegments()).toEqual(new Map());
    const { w: w2, r } = reopen();
    expect(firstDifference(r.entries, makeEntries(1, last, 1, 40))).toBe(-1);
    w2.close();
  });

  test('appends across many cuts with syncs running: every sync succeeds and every entry is read back', async () => {
    const syncs = recordAsyncSyncs();
    const w = Wal.create(dir, meta, small());
    const pending: Promise<void>[] = [];
    for (let i = 1; i <= 600; i++) {
      w.save(state(i - 1), makeEntries(i, i, 1, 60), false);
      if (i % 3 === 0) pending.push(w.syncAsync());
      // Yield now and then, so some syncs finish between appends and others run across several cuts.
      if (i % 17 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);
    const segs = listSegments(dir);
    expect(segs.length).toBeGreaterThan(10);
    // Every fdatasync was started on a segment of this WAL, and only the tail is still open.
    expect(syncs.length).toBeGreaterThan(0);
    const names = new Set(segs.map((s) => s.name));
    expect(syncs.filter((f) => !names.has(f))).toEqual([]);
    expect(openSegments()).toEqual(new Map([[segs[segs.length - 1].name, 1]]));
    w.close();
    const { w: w2, r } = reopen();
    expect(firstDifference(r.entries, makeEntries(1, 600, 1, 60))).toBe(-1);
    expect(r.hardState).toEqual(state(599));
    w2.close();
  });

  test('close during a running sync syncs itself, settles every caller and frees the directory at once', async () => {
    const syncs = recordAsyncSyncs();
    const w = Wal.create(dir, meta, small());
    w.save(state(0), makeEntries(1, 4, 1), false);
    const running = w.syncAsync();
    w.save(state(4), makeEntries(5, 8, 1), false);
    const queued = w.syncAsync();
    const tail = listSegments(dir)[0].name;
    w.close();
    // The directory is free, though the running fdatasync still holds its descriptor.
    const { w: w2, r } = reopen();
    expect(firstDifference(r.entries, makeEntries(1, 8, 1))).toBe(-1);
    expect(openSegments().get(tail)).toBe(2);
    await Promise.all([running, queued]);
    // close's own sync covered the queued caller: no second asynchronous fdatasync ran.
    expect(syncs).toEqual([tail]);
    expect(openSegments().get(tail)).toBe(1);
    expect(await codeOf(w.syncAsync())).toBe('InvalidState');
    w2.close();
  });

  test('a failed fdatasync rejects its callers and the queued ones, and the WAL refuses all but close', async () => {
    jest.spyOn(fs, 'fdatasync').mockImplementation((_fd: number, cb: fs.NoParamCallback) => {
      const err: NodeJS.ErrnoException = new Error('EIO: i/o error, fdatasync');
      err.code = 'EIO';
      setImmediate(() => cb(err));
    });
    const w = Wal.create(dir, meta, small());
    w.save(state(0), makeEntries(1, 2, 1), false);
    const failing = codeOf(w.syncAsync());
    w.save(state(2), makeEntries(3, 3, 1), false);
    const queued = codeOf(w.syncAsync());
    expect(await failing).toBe('SyncFailed');
    expect(await queued).toBe('SyncFailed');
    expect(await codeOf(w.syncAsync())).toBe('SyncFailed');
    expect(() => w.save(state(3), makeEntries(4, 4, 1), false)).toThrow(/fdatasync of .* failed \(EIO/);
    expect(() => w.sync()).toThrow(WalError);
    w.close();
    expect(openSegments()).toEqual(new Map());
    jest.restoreAllMocks();
    // Only the sync was made to fail: the writes are in the page cache, and the log they form is valid.
    const { w: w2, r } = reopen();
    expect(firstDifference(r.entries, makeEntries(1, 3, 1))).toBe(-1);
    w2.close();
  });
});
