// # The directory lock
//
// Exactly one process may use a WAL directory: two writers appending to the same segment would interleave frames
// and break the CRC chain for both. The guard is an exclusive, non-blocking flock on a `LOCK` file inside the
// directory. The kernel drops a flock when its holder exits for any reason, kill -9 included, so a crashed node can
// restart at once; a lock file that merely exists (as proper-lockfile makes) would have to go stale first. The
// holder writes its pid into the file so the refusal can name it.

import * as fs from 'fs';
import * as path from 'path';
import { flockSync } from 'fs-ext';
import { WalError } from './errors';

/** The name of the lock file inside a WAL directory. */
export const LOCK_FILE = 'LOCK';

function isWouldBlock(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  return err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK';
}

/** An exclusive hold on a WAL directory, kept until `release()` or the process's exit. */
export class DirLock {
  private fd: number | null;

  private constructor(readonly dir: string, fd: number) {
    this.fd = fd;
  }

  /** Takes the lock of `dir` or throws WalError 'Locked' naming the directory and the holder's pid. */
  static acquire(dir: string): DirLock {
    const file = path.join(dir, LOCK_FILE);
    // Open without truncating: until the lock is ours, the file holds the current holder's pid.
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    try {
      flockSync(fd, 'exnb');
    } catch (err) {
      const holder = fs.readFileSync(file, 'utf8').trim();
      fs.closeSync(fd);
      if (!isWouldBlock(err)) throw err;
      throw new WalError('Locked', `WAL directory ${dir} is locked by process ${holder === '' ? 'unknown' : holder}`);
    }
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, `${process.pid}\n`, 0);
    return new DirLock(dir, fd);
  }

  /** Releases the lock; idempotent. */
  release(): void {
    if (this.fd === null) return;
    flockSync(this.fd, 'un');
    fs.closeSync(this.fd);
    this.fd = null;
  }
}
