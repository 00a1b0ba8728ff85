// # The durable file system interface
//
// Every file operation whose effect must survive a crash (creating, writing, syncing, renaming, removing files and
// directories) and the reads that recovery does go through a `DurableFs`. There are two implementations: `nodeFs`,
// the real one, a thin table of Node's `fs` calls, and `FaultFs` (wal/faultfs.ts), which performs the same calls
// but remembers what was written since each file's and each directory's last fsync, so a test can simulate a power
// loss: keep what was synced, and only a chosen part of the rest.
//
// The WAL, the snapshotter and the member's files take the implementation installed in wal/fileutil.ts when they
// are constructed. The normal path pays one property lookup per call.

import * as fs from 'fs';
import { flockSync } from 'fs-ext';

/** Flags of `openSync`, as Node spells them. */
export type OpenFlags = 'r' | 'r+' | 'w' | 'w+' | 'wx' | number;

/** What a path names, if anything. */
export type PathKind = 'file' | 'dir' | null;

/** The file operations tsraft's durable state uses. Synchronous, except the one fdatasync that must not block. */
export interface DurableFs {
  openSync(file: string, flags: OpenFlags, mode?: number): number;
  closeSync(fd: number): void;
  /** One write(2) at `position`; may write less than asked (see `writeAll` in wal/fileutil.ts). */
  writeSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number;
  fsyncSync(fd: number): void;
  fdatasyncSync(fd: number): void;
  /** fdatasync(2) in libuv's thread pool. */
  fdatasync(fd: number, callback: (err: NodeJS.ErrnoException | null) => void): void;
  ftruncateSync(fd: number, length: number): void;
  /**
   * Makes the file at least `length` bytes long with blocks really allocated (zeros), so later writes below
   * `length` cannot fail for lack of space. Never shrinks the file. Throws ENOSPC when the disk cannot hold it.
   */
  allocateSync(fd: number, length: number): void;
  fileSize(fd: number): number;
  renameSync(from: string, to: string): void;
  unlinkSync(file: string): void;
  mkdirSync(dir: string): void;
  rmdirSync(dir: string): void;
  readdirSync(dir: string): string[];
  readFileSync(file: string): Buffer;
  /** Reads up to `length` bytes at `position`; returns how many were read. */
  readSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number;
  kindOf(file: string): PathKind;
  /** flock(2) on an open descriptor (fs-ext); the kernel drops it when the descriptor is closed. */
  flockSync(fd: number, flags: 'exnb' | 'un'): void;
}

const ZEROS = Buffer.alloc(1024 * 1024);

/** The real file system. */
export const nodeFs: DurableFs = {
  openSync: (file, flags, mode) => fs.openSync(file, flags, mode),
  closeSync: (fd) => fs.closeSync(fd),
  writeSync: (fd, buf, offset, length, position) => fs.writeSync(fd, buf, offset, length, position),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
  fdatasync: (fd, callback) => fs.fdatasync(fd, callback),
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  // Node has no fallocate(2) and fs-ext offers none, so the blocks are allocated the portable way: by writing
  // zeros over them. ftruncate alone would make a sparse file whose blocks are claimed only when written, and a
  // full disk would then strike in the middle of an append or at its fdatasync.
  allocateSync: (fd, length) => {
    for (let at = fs.fstatSync(fd).size; at < length; ) {
      at += fs.writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, length - at), at);
    }
  },
  fileSize: (fd) => fs.fstatSync(fd).size,
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (file) => fs.unlinkSync(file),
  mkdirSync: (dir) => fs.mkdirSync(dir),
  rmdirSync: (dir) => fs.rmdirSync(dir),
  readdirSync: (dir) => fs.readdirSync(dir),
  readFileSync: (file) => fs.readFileSync(file),
  readSync: (fd, buf, offset, length, position) => fs.readSync(fd, buf, offset, length, position),
  kindOf: (file) => {
    try {
      return fs.lstatSync(file).isDirectory() ? 'dir' : 'file';
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
  },
  flockSync: (fd, flags) => flockSync(fd, flags),
};

/** True if `err` is a Node system error with errno code `code`. */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === code;
}
