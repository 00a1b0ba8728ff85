// # Durable file operations
//
// The three moves every durable file in tsraft makes: write all of a buffer (a single write may be short), make a
// directory's entries durable (a rename or a new file is not on disk until its directory is synced), and replace a
// file atomically (write a temporary file, sync it, rename it over the old one, sync the directory), so a crash
// leaves either the old file or the new one, never a mix. The WAL, the snapshotter and the member's own files use
// them.

import * as fs from 'fs';
import * as path from 'path';

/** Writes every byte of `buf` to `fd` at `position`, looping over short writes. */
export function writeAll(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, position + done);
}

/** Makes the creation, renaming or removal of entries in `dir` durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replaces `file` with `data` so that a crash at any moment leaves the old content or the new, whole. */
export function writeFileAtomic(file: string, data: Uint8Array): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    writeAll(fd, data, 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(path.resolve(file)));
}
