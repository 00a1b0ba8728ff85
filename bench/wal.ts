// # The WAL benchmark
//
// What does durability cost? The floor is the disk: one fdatasync per acknowledged batch, and the sequential write
// bandwidth for large batches. This benchmark measures that floor on the same disk in the same run (a raw file with
// 256-byte appends and one fdatasync each, the same into a preallocated file, 1 MiB writes with one fdatasync each,
// and raw appends of each batch's payload size), then `Wal.save(hardState, entries, true)` with 256-byte entries in
// batches of 1, 16 and 256, and prints each WAL figure beside the raw ones as ratios. Every case runs several times;
// medians are reported, because the machine is shared and single runs wander.
//
// Usage: node dist/bench/wal.js [--dir DIR] [--seconds S] [--runs N]
// DIR should be on the disk a node would use (default bench/out/wal, inside the repository).

import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { Entry, EntryType } from '../raft/types';
import { Wal } from '../wal/wal';

const ENTRY_BYTES = 256;
const BATCHES = [1, 16, 256];

interface Rate {
  /** Synced operations (raw writes or WAL saves) per second. */
  syncsPerSec: number;
  /** Entries (or raw records) per second. */
  entriesPerSec: number;
  /** Payload megabytes (MiB) per second. */
  mbPerSec: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function medianRate(rs: Rate[]): Rate {
  return {
    syncsPerSec: median(rs.map((r) => r.syncsPerSec)),
    entriesPerSec: median(rs.map((r) => r.entriesPerSec)),
    mbPerSec: median(rs.map((r) => r.mbPerSec)),
  };
}

/** Runs `op` (which returns the payload bytes it made durable) for `seconds`; op count and bytes make the rate. */
function timed(seconds: number, perOpEntries: number, op: () => number): Rate {
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const t0 = process.hrtime.bigint();
  let ops = 0;
  let bytes = 0;
  let now = t0;
  while (now < end) {
    bytes += op();
    ops++;
    now = process.hrtime.bigint();
  }
  const secs = Number(now - t0) / 1e9;
  return { syncsPerSec: ops / secs, entriesPerSec: (ops * perOpEntries) / secs, mbPerSec: bytes / secs / 1048576 };
}

function rawAppend(dir: string, seconds: number, recBytes: number, preallocate: boolean): Rate {
  const file = path.join(dir, `raw-${process.pid}.dat`);
  const fd = fs.openSync(file, 'w+');
  const limit = 64 * 1048576;
  if (preallocate) {
    // Written zeros, so the blocks exist before the timing starts, as etcd's fallocate gives.
    const mb = Buffer.alloc(1048576);
    for (let i = 0; i < limit / mb.length; i++) fs.writeSync(fd, mb);
    fs.fsyncSync(fd);
  }
  const buf = Buffer.alloc(recBytes, 0x61);
  let pos = 0;
  const rate = timed(seconds, 1, () => {
    if (pos + recBytes > limit) pos = 0;
    fs.writeSync(fd, buf, 0, recBytes, pos);
    pos += recBytes;
    fs.fdatasyncSync(fd);
    return recBytes;
  });
  fs.closeSync(fd);
  fs.rmSync(file);
  return rate;
}

function walRun(dir: string, seconds: number, batch: number): Rate {
  const walDir = path.join(dir, `wal-${process.pid}`);
  fs.rmSync(walDir, { recursive: true, force: true });
  const quiet = { debug: () => undefined, info: () => undefined, warning: () => undefined, error: () => undefined,
    panic: (m: string): never => {
      throw new Error(m);
    } };
  const wal = Wal.create(walDir, { nodeId: 1, clusterId: 1 }, { logger: quiet });
  const data = new Uint8Array(ENTRY_BYTES).fill(0x62);
  let next = 1;
  const rate = timed(seconds, batch, () => {
    const ents: Entry[] = [];
    for (let i = 0; i < batch; i++) ents.push({ index: next + i, term: 1, type: EntryType.EntryNormal, data });
    next += batch;
    wal.save({ term: 1, vote: 1, commit: next - 1 }, ents, true);
    return batch * ENTRY_BYTES;
  });
  wal.close();
  fs.rmSync(walDir, { recursive: true, force: true });
  return rate;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function main(): void {
  const opts = new Command()
    .option('--dir <dir>', 'directory on the disk to measure', path.join('bench', 'out', 'wal'))
    .option('--seconds <s>', 'seconds per run', '1.5')
    .option('--runs <n>', 'runs per case (median reported)', '5')
    .parse(process.argv)
    .opts<{ dir: string; seconds: string; runs: string }>();
  const seconds = Number(opts.seconds);
  const runs = Number(opts.runs);
  fs.mkdirSync(opts.dir, { recursive: true });
  // The disk is shared and its speed drifts by an order of magnitude over seconds, so the cases are interleaved:
  // every round runs each case once, and each ratio is taken within a round before the median is taken.
  const rounds: { rawAppend: Rate; rawPrealloc: Rate; rawSeq: Rate; rawSame: Rate[]; wal: Rate[] }[] = [];
  for (let r = 0; r < runs; r++) {
    rounds.push({
      rawAppend: rawAppend(opts.dir, seconds, ENTRY_BYTES, false),
      rawPrealloc: rawAppend(opts.dir, seconds, ENTRY_BYTES, true),
      rawSeq: rawAppend(opts.dir, seconds, 1048576, false),
      // The same payload per sync as each WAL batch, written raw: what the batch would cost with no WAL at all.
      rawSame: BATCHES.map((b) => rawAppend(opts.dir, seconds, b * ENTRY_BYTES, false)),
      wal: BATCHES.map((b) => walRun(opts.dir, seconds, b)),
    });
  }
  const rawAppend256 = medianRate(rounds.map((r) => r.rawAppend));
  const rawPrealloc256 = medianRate(rounds.map((r) => r.rawPrealloc));
  const rawSeq = medianRate(rounds.map((r) => r.rawSeq));
  const wal = BATCHES.map((batch, i) => ({
    batch,
    rate: medianRate(rounds.map((r) => r.wal[i])),
    costRatio: median(rounds.map((r) => r.rawAppend.syncsPerSec / r.wal[i].syncsPerSec)),
    preallocCostRatio: median(rounds.map((r) => r.rawPrealloc.syncsPerSec / r.wal[i].syncsPerSec)),
    bwRatio: median(rounds.map((r) => r.wal[i].mbPerSec / r.rawSeq.mbPerSec)),
    sameRatio: median(rounds.map((r) => r.rawSame[i].syncsPerSec / r.wal[i].syncsPerSec)),
  }));

  console.log(`WAL benchmark in ${path.resolve(opts.dir)}: ${ENTRY_BYTES}-byte entries, median of ${runs} runs of ` +
    `${seconds} s each`);
  console.log('');
  const us = (r: Rate): string => `${fmt(r.syncsPerSec).padStart(8)} syncs/s (${fmt(1e6 / r.syncsPerSec)} us each)`;
  console.log('raw baseline (same disk, same run)');
  console.log(`  ${ENTRY_BYTES} B append + fdatasync              ${us(rawAppend256)}`);
  console.log(`  ${ENTRY_BYTES} B preallocated write + fdatasync  ${us(rawPrealloc256)}`);
  console.log(`  1 MiB write + fdatasync                  ${fmt(rawSeq.mbPerSec, 1).padStart(8)} MiB/s`);
  console.log('');
  console.log('Wal.save(hardState, entries, mustSync=true)');
  const head = ['batch', '  entries/s', '   MiB/s', '  saves/s', '  cost/sync vs raw 256 B', '  vs raw same bytes'];
  console.log(`  ${head.join(' ')}   MiB/s vs raw 1 MiB`);
  for (const { batch, rate, costRatio, sameRatio, bwRatio } of wal) {
    const cells = [
      String(batch).padStart(5),
      fmt(rate.entriesPerSec).padStart(11),
      fmt(rate.mbPerSec, 1).padStart(8),
      fmt(rate.syncsPerSec).padStart(9),
      `${fmt(costRatio, 2).padStart(24)}x`,
      `${fmt(sameRatio, 2).padStart(18)}x`,
      fmt(bwRatio, 2).padStart(20),
    ];
    console.log(`  ${cells.join(' ')}`);
  }
  const b1 = wal[0];
  const b256 = wal[wal.length - 1];
  console.log('');
  console.log('ratios are medians of the per-round ratios');
  console.log(`aim: batch 1 costs <= 1.2x raw append+fdatasync: ${fmt(b1.costRatio, 2)}x ` +
    `(${fmt(b1.preallocCostRatio, 2)}x the preallocated raw write)`);
  console.log(`aim: batch 256 reaches >= 0.5 of raw sequential bandwidth: ${fmt(b256.bwRatio, 2)}`);
  fs.rmSync(opts.dir, { recursive: true, force: true });
}

main();
