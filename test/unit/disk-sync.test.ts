// A member's disk (kvstore/disk.ts) syncs in two places: libuv's thread pool, or the calling thread when the Ready
// loop finds itself quiet. Both must give the same guarantee and fail the same way; the power-loss sweep
// (test/powerloss/storage-sweep.test.ts) replays lives that use both.
import fs from 'fs';
import * as path from 'path';
import { createDisk, openDisk } from '../../kvstore/disk';
import { Entry, EntryType } from '../../raft/types';
import { WalError } from '../../wal/wal';
import { RecordingLogger } from '../support/recording_logger';
import { entryData, scratchDir } from '../wal/helpers';

let root: string;
beforeEach(() => {
  root = scratchDir('disk-sync');
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(root, { recursive: true, force: true });
});

const meta = { id: 1, clusterId: 'a1', members: [{ id: 1, peerURL: 'http://127.0.0.1:1', clientURL: '', learner: false }] };

function entries(lo: number, hi: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push({ index: i, term: 1, type: EntryType.EntryNormal, data: entryData(i, 1, 50) });
  return out;
}

async function codeOf(p: Promise<void>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof WalError ? err.code : String(err);
  }
}

test('a sync on the calling thread has run its fdatasync by the time it returns', async () => {
  const dataDir = path.join(root, 'member');
  const p = createDisk(dataDir, meta, new RecordingLogger()).persistence;
  const calls: string[] = [];
  jest.spyOn(fs, 'fdatasyncSync').mockImplementation(() => {
    calls.push('fdatasyncSync');
  });
  jest.spyOn(fs, 'fdatasync').mockImplementation(() => {
    calls.push('fdatasync');
  });
  p.write({ term: 1, vote: 1, commit: 0 }, entries(1, 3));
  const synced = p.sync(true);
  expect(calls).toEqual(['fdatasyncSync']);
  await synced;
  jest.restoreAllMocks();
  p.close();
  const { start } = openDisk(dataDir, new RecordingLogger());
  expect(start.storage.lastIndex()).toBe(3);
  start.persistence.close();
});

test('a failed fdatasync on the calling thread rejects, and the WAL then refuses syncs from either place', async () => {
  const dataDir = path.join(root, 'member');
  const p = createDisk(dataDir, meta, new RecordingLogger()).persistence;
  jest.spyOn(fs, 'fdatasyncSync').mockImplementation(() => {
    const err: NodeJS.ErrnoException = new Error('EIO: i/o error, fdatasync');
    err.code = 'EIO';
    throw err;
  });
  p.write({ term: 1, vote: 1, commit: 0 }, entries(1, 2));
  expect(await codeOf(p.sync(true))).toBe('SyncFailed');
  expect(await codeOf(p.sync(false))).toBe('SyncFailed');
  expect(await codeOf(p.sync(true))).toBe('SyncFailed');
  p.close();
});
