// # The directory lock
//
// Exactly one process may use a WAL directory: two writers appending to the same segment would interleave frames
// and break the CRC chain for both. The guard is an exclusive, non-blocking flock on a `LOCK` file inside the
// directory. The kernel drops a flock when its holder exits for any reason, kill -9 included, so a crashed node can
// restart at once, and it never drops it while the holder lives, however long its event loop stalls. The holder
// writes its pid into the file so the refusal can name it.

import * as fs from 'fs';
import * as path from 'path';
import { DurableFs, isErrno } from './durablefs';
import { WalError } from './errors';
import { durableFs } from './fileutil';

/** The name of the lock file inside a WAL directory. */
export const LOCK_FILE = 'LOCK';

function isWouldBlock(err: unknown): boolean {
  return isErrno(err, 'EAGAIN') || isErrno(err, 'EWOULDBLOCK');
}

/** An exclusive hold on a WAL directory, kept until `release()` or the process's exit. */
export class DirLock {
  private fd: number | null;

  private constructor(
    readonly dir: string,
    fd: number,
    private readonly dfs: DurableFs,
  ) {
    this.fd = fd;
  }

  /** Takes the lock of `dir` or throws WalError 'Locked' naming the directory and the holder's pid. */
  static acquire(dir: string, dfs: DurableFs = durableFs()): DirLock {
    const file = path.join(dir, LOCK_FILE);
    // Open without truncating: until the lock is ours, the file holds the current holder's pid.
    const fd = dfs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    try {
      dfs.flockSync(fd, 'exnb');
    } catch (err) {
      const holder = dfs.readFileSync(file).toString('utf8').trim();
      dfs.closeSync(fd);
      if (!isWouldBlock(err)) throw err;
      throw new WalError('Locked', `WAL directory ${dir} is locked by process ${holder === '' ? 'unknown' : holder}`);
    }
    // The pid is a courtesy for the refusal message; it is never synced, and a lost one only makes it say "unknown".
    const pid = Buffer.from(`${process.pid}\n`);
    dfs.ftruncateSync(fd, 0);
    dfs.writeSync(fd, pid, 0, pid.length, 0);
    return new DirLock(dir, fd, dfs);
  }

  /** Releases the lock; idempotent. Closing the descriptor is what drops the flock. */
  release(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    this.dfs.closeSync(fd);
  }
}
