// Shared helpers of the WAL and snapshot tests: scratch directories, deterministic entries, a capturing logger.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Entry, EntryType } from '../../raft/types';

/** A fresh scratch directory, on tmpfs when the machine has one (crash and sweep tests reopen logs many times). */
export function scratchDir(prefix: string): string {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  return fs.mkdtempSync(path.join(base, `tsraft-${prefix}-`));
}

/** The data of entry `index` at `term`: deterministic, so a reader can check content without a copy of it. */
export function entryData(index: number, term: number, size = 24): Uint8Array {
  const out = new Uint8Array(size);
  let x = (index * 2654435761 + term * 40503) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x >>> 24) | 1;
  }
  return out;
}

/** Entries `lo..hi` inclusive at `term`. */
export function makeEntries(lo: number, hi: number, term: number, size = 24): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) {
    out.push({ index: i, term, type: EntryType.EntryNormal, data: entryData(i, term, size) });
  }
  return out;
}

/** The index of the first entry where `a` and `b` differ, or -1 if they are equal (jest's deep equality is slow). */
export function firstDifference(a: readonly Entry[], b: readonly Entry[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) return i;
    if (x.index !== y.index || x.term !== y.term || x.type !== y.type) return i;
    if (!Buffer.from(x.data).equals(Buffer.from(y.data))) return i;
  }
  return -1;
}
