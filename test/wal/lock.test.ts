// The directory lock across processes: a second process is refused with a message naming the directory and the
// holder's pid, and the kernel frees the lock the moment the holder is killed.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Wal, WalError, emptyWalSnapshot } from '../../wal/wal';
import { childScript } from './child';
import { RecordingLogger } from '../support/recording_logger';
import { scratchDir } from './helpers';

let scratch: string;
beforeAll(() => {
  scratch = scratchDir('lock');
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

test('a second process is refused while the holder lives, and the lock is free once it is killed', async () => {
  const script = childScript(scratch);
  const dir = path.join(scratch, 'wal');
  const holder = spawn(process.execPath, [script, dir, '1', String(64 * 1024)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => holder.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.on('data', (d: Buffer) => {
      if (d.toString().startsWith('ready')) resolve();
    });
    holder.on('exit', (code) => reject(new Error(`Holder exited early with ${code}`)));
  });
  try {
    // Another node process: it fails fast and says who holds the directory.
    const other = spawnSync(process.execPath, [script, dir, '2', String(64 * 1024)], { encoding: 'utf8' });
    expect(other.status).not.toBe(0);
    expect(other.stderr).toContain(`WalError: WAL directory ${dir} is locked by process ${holder.pid}`);
    // This process too.
    let err: unknown = null;
    try {
      Wal.open(dir, emptyWalSnapshot());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WalError);
    if (err instanceof WalError) {
      expect(err.code).toBe('Locked');
      expect(err.message).toBe(`WAL directory ${dir} is locked by process ${holder.pid}`);
    }
  } finally {
    holder.kill('SIGKILL');
    await exited;
  }
  // No waiting for staleness: the kernel released the flock with the process.
  const w = Wal.open(dir, emptyWalSnapshot(), { segmentSize: 64 * 1024, logger: new RecordingLogger() });
  expect(w.readAll().metadata).toEqual({ nodeId: 1, clusterId: 1 });
  w.close();
  expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')).toBe(`${process.pid}\n`);
});
