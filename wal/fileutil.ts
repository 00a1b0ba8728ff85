// # Durable file operations
//
// Which `DurableFs` (wal/durablefs.ts) tsraft's files go through, and the moves every durable file makes on top of
// it: write all of a buffer (a single write may be short), make a directory's entries durable (a rename or a new
// file is not on disk until its directory is synced), replace a file atomically (write a temporary file, sync it,
// rename it over the old one, sync the directory), so a crash leaves either the old file or the new one, never a
// mix, and leave no temporary file behind when any step fails.
//
// The installed implementation is the real file system. Tests install a `FaultFs` with `installDurableFs`; a
// process started with `TSRAFT_FAULTFS=root=<data-dir>,seed=<n>` in its environment (read once, when this module
// loads) runs on a `FaultFs` over its data directory, and SIGUSR2 makes it lose power: its data directory is
// rewritten as a power loss could leave it and the process kills itself with SIGKILL. That variable is for fault
// testing only (docs/durability.md).

import * as fs from 'fs';
import * as path from 'path';
import { DurableFs, isErrno, nodeFs } from './durablefs';

export type { DurableFs } from './durablefs';

let installed: DurableFs = fromEnvironment(process.env.TSRAFT_FAULTFS);

function fromEnvironment(setting: string | undefined): DurableFs {
  if (setting === undefined || setting === '') return nodeFs;
  // Loaded only here: a member that is not under fault testing never needs the model, and every start pays for
  // each module it loads.
  const { FaultFs, faultFsOptionsFromEnv } = require('./faultfs') as typeof import('./faultfs');
  const faults = new FaultFs(faultFsOptionsFromEnv(setting));
  process.on('SIGUSR2', () => {
    const report = faults.crash();
    process.stderr.write(`TSRAFT_FAULTFS: power lost after ${report.ops} operations; kept ${report.keptFileChanges} ` +
      `of ${report.unsyncedFileChanges} unsynced file changes, ${report.keptDirChanges} of ` +
      `${report.unsyncedDirChanges} directory changes\n`);
    process.kill(process.pid, 'SIGKILL');
  });
  return faults;
}

/** The implementation new WALs, snapshotters and member directories use. */
export function durableFs(): DurableFs {
  return installed;
}

/** Installs `next` for everything constructed from now on; returns the one it replaces. For tests. */
export function installDurableFs(next: DurableFs): DurableFs {
  const previous = installed;
  installed = next;
  return previous;
}

/** Writes every byte of `buf` to `fd` at `position`, looping over short writes. */
export function writeAll(dfs: DurableFs, fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) done += dfs.writeSync(fd, buf, done, buf.length - done, position + done);
}

/** Makes the creation, renaming or removal of entries in `dir` durable. */
export function fsyncDir(dfs: DurableFs, dir: string): void {
  const fd = dfs.openSync(dir, 'r');
  try {
    dfs.fsyncSync(fd);
  } finally {
    dfs.closeSync(fd);
  }
}

/** Creates `dir` and any missing parents (not synced: sync the parents that matter). */
export function mkdirAll(dfs: DurableFs, dir: string): void {
  const abs = path.resolve(dir);
  const kind = dfs.kindOf(abs);
  if (kind === 'dir') return;
  if (kind === 'file') throw new Error(`${abs} exists and is not a directory`);
  mkdirAll(dfs, path.dirname(abs));
  dfs.mkdirSync(abs);
}

/** Removes `target` and everything under it, if it exists (not synced). */
export function removeTree(dfs: DurableFs, target: string): void {
  const kind = dfs.kindOf(target);
  if (kind === null) return;
  if (kind === 'file') return dfs.unlinkSync(target);
  for (const name of dfs.readdirSync(target)) removeTree(dfs, path.join(target, name));
  dfs.rmdirSync(target);
}

/** Removes `file` if it exists, ignoring every error: used to clean up after a failure that is being reported. */
export function removeQuietly(dfs: DurableFs, file: string): void {
  try {
    dfs.unlinkSync(file);
  } catch {
    // The failure being reported matters more; a leftover temporary is removed at the next start.
  }
}

/**
 * Replaces `file` with `data` so that a crash at any moment leaves the old content or the new, whole. When a step
 * fails (a full disk), the temporary file is removed before the error is rethrown.
 */
export function writeFileAtomic(dfs: DurableFs, file: string, data: Uint8Array): void {
  const tmp = `${file}.tmp`;
  try {
    const fd = dfs.openSync(tmp, 'w');
    try {
      writeAll(dfs, fd, data, 0);
      dfs.fsyncSync(fd);
    } finally {
      dfs.closeSync(fd);
    }
  } catch (err) {
    removeQuietly(dfs, tmp);
    throw err;
  }
  moveIntoPlace(dfs, tmp, file);
}

// Renames a whole, flushed temporary file to `file` and syncs the directory, so the new name survives a crash. A
// failed rename removes the temporary file; once renamed, the file stays, whatever the directory sync says.
function moveIntoPlace(dfs: DurableFs, tmp: string, file: string): void {
  try {
    dfs.renameSync(tmp, file);
  } catch (err) {
    removeQuietly(dfs, tmp);
    throw err;
  }
  fsyncDir(dfs, path.dirname(path.resolve(file)));
}

// The most `writeFileAtomicInSlices` writes before it lets the event loop in again.
const WRITE_SLICE_BYTES = 256 * 1024;

/**
 * `writeFileAtomic` for a large file written by a thread that has other work, given as pieces whose concatenation is
 * the file (so that a caller need not copy megabytes into one buffer first): the data goes out a slice at a time,
 * awaiting `pause()` between slices, and each slice is flushed in libuv's thread pool before the next is written
 * (fdatasync, which makes the file's new length durable with its data). Flushing as it goes matters as much as not
 * blocking: on a journaling file system, the WAL's own fdatasync waits for every dirty block of the file system to
 * reach the disk, so megabytes of snapshot left dirty would stall the writes of every client.
 */
export async function writeFileAtomicInSlices(dfs: DurableFs, file: string, pieces: readonly Uint8Array[], pause: () => Promise<void>): Promise<void> {
  const tmp = `${file}.tmp`;
  try {
    const fd = dfs.openSync(tmp, 'w');
    const flush = (): Promise<void> => new Promise<void>((resolve, reject) => dfs.fdatasync(fd, (err) => (err === null ? resolve() : reject(err))));
    try {
      let position = 0;
      let unflushed = 0;
      for (const piece of pieces) {
        for (let at = 0; at < piece.length; ) {
          const slice = piece.subarray(at, Math.min(piece.length, at + WRITE_SLICE_BYTES - unflushed));
          writeAll(dfs, fd, slice, position);
          at += slice.length;
          position += slice.length;
          unflushed += slice.length;
          if (unflushed < WRITE_SLICE_BYTES) continue;
          await flush();
          unflushed = 0;
          await pause();
        }
      }
      if (unflushed > 0 || position === 0) await flush();
    } finally {
      dfs.closeSync(fd);
    }
  } catch (err) {
    removeQuietly(dfs, tmp);
    throw err;
  }
  moveIntoPlace(dfs, tmp, file);
}

/** The message of an error, also of one made in another realm (a test runner's sandbox) that is not `instanceof Error`. */
export function errorMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') return err.message;
  return String(err);
}

/** True for the errors a full disk gives. */
export function isDiskFull(err: unknown): boolean {
  return isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT');
}

/**
 * Names the disk holding `dir` for an error message: its mount point, file system type and free space, as far as
 * the system tells (Linux's /proc/self/mountinfo), else just the directory.
 */
export function describeDisk(dir: string): string {
  const abs = path.resolve(dir);
  let mount = '';
  let type = '';
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const fields = line.split(' ');
      const sep = fields.indexOf('-');
      if (fields.length < 5 || sep < 0) continue;
      const point = fields[4].replace(/\\040/g, ' ');
      const inside = abs === point || abs.startsWith(point.endsWith('/') ? point : `${point}/`);
      if (inside && point.length >= mount.length) {
        mount = point;
        type = fields[sep + 1] ?? '';
      }
    }
  } catch {
    // Not Linux: the directory alone names the disk.
  }
  let free = '';
  try {
    const st = fs.statfsSync(existingAncestor(abs));
    free = `, ${formatBytes(st.bavail * st.bsize)} of ${formatBytes(st.blocks * st.bsize)} free`;
  } catch {
    // Free space is a courtesy.
  }
  return mount === '' ? `the disk holding ${abs}` : `the ${type} disk mounted at ${mount} (holding ${abs}${free})`;
}

function existingAncestor(p: string): string {
  let at = p;
  while (!fs.existsSync(at) && path.dirname(at) !== at) at = path.dirname(at);
  return at;
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 / 1024 / 1024).toFixed(1)} GiB`;
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
