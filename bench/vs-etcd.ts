// # tsraft beside etcd: the same load, the same machine, the same run
//
// For each row, both systems get a fresh three-member cluster on loopback (data directories side by side on one
// disk), a warm-up, then the row's load for a fixed time (bench/load.ts). The systems alternate, and which
// goes first alternates between rounds, so a busy neighbour on a shared machine hurts both alike; the table shows
// the median over rounds of each figure, and the ratio of the medians.
//
// Rows: puts to the leader at 1, 16, 64, 256 clients; linearizable and serializable gets at 64 spread over the
// members; then what a client that does not know the leader sees: puts and linearizable gets at 1, 16, 64 clients,
// each request to a member chosen at random; and a mixed workload (50% linearizable gets, 40% puts, 10% deletes
// over 6 keys, 8 clients, random members).
//
// Beside the table: CPU per operation of each system's members and of the load generator, the leader's WAL fsyncs
// per operation and the mean time one took (etcd: from its own metrics, the time inside fdatasync; tsraft: from
// `GET /status`, the loop's whole wait, which also counts the thread pool and the event loop getting a core), and
// what tsraft's leader loop did (Readys and peer stream writes per operation), as `make bench-e2e` reports them.
//
// The warm-up (5 s by default, the same for both systems) is there for tsraft: a Node process that has just started
// runs its code in V8's interpreter and compiles the hot paths over its first seconds of load, so a row measured
// right after the start measures that warm-up rather than the serving; etcd, compiled ahead of time, has none. With
// 1 s, the mixed row measured 0.75x and 1.57x with 5 s. V8 optimises a function after it has run enough, not after
// a time, so the warm-up runs the row's operations from at least 16 clients: one client's 5 s (some 2,500 puts) left
// its p99 still falling for ten more seconds. A member's first seconds after a start are measured on their own by
// `make bench-warmup` and, under faults, by `make bench-chaos-vs-etcd`.
//
// A row of fewer clients then runs its own load for a moment (`--settle`, 2 s) before it is measured. Going from
// sixteen clients to one changes which code runs: a member that holds one request at a time syncs its WAL on its
// own thread (kvstore/loop.ts), and its Readys carry one entry, so V8 drops optimised code built on the sixteen
// clients' feedback and compiles it again. Measured right after the warm-up, one client's 2 s of puts to random
// members caught that second of recompiling: a p99 of 5.36 ms against 4.39 ms after a settle (medians of 8
// alternating rounds, lower after the settle in 7). The settle is the same for both systems and is not measured;
// with `--warmup 0` there is neither, and a row measures members straight from their start.
//
// Each system runs with its own defaults, snapshots included: etcd 3.4 takes one every 100,000 entries, tsraft every
// 10,000. `--snapshot-count N` gives both the same count, to see what the snapshots cost a row.
//
//   node dist/bench/vs-etcd.js [--seconds 2] [--warmup 5] [--settle 2] [--rounds 3] [--rows put-1,mixed-8,...] [--snapshot-count N]
//
// Rows are written as JSON to bench/out/vs-etcd.json. Without an etcd binary it says so and exits 0.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { argValue, checkArgs, machineLine, median } from './harness';
import { LoadResult, Workload, prepare, runLoad, valueBytes } from './load';
import { EtcdCluster, LoopCounters, SystemName, clusterOf } from './systems';

const rows: (Workload & { id: string })[] = [
  { id: 'put-1', label: 'put, 1 client, leader', op: 'put', clients: 1, target: 'leader' },
  { id: 'put-16', label: 'put, 16, leader', op: 'put', clients: 16, target: 'leader' },
  { id: 'put-64', label: 'put, 64, leader', op: 'put', clients: 64, target: 'leader' },
  { id: 'put-256', label: 'put, 256, leader', op: 'put', clients: 256, target: 'leader' },
  { id: 'get-64', label: 'linearizable get, 64, spread', op: 'get', clients: 64, target: 'random' },
  { id: 'sget-64', label: 'serializable get, 64, spread', op: 'get-serializable', clients: 64, target: 'random' },
  { id: 'any-put-1', label: 'put, 1, random member', op: 'put', clients: 1, target: 'random' },
  { id: 'any-put-16', label: 'put, 16, random member', op: 'put', clients: 16, target: 'random' },
  { id: 'any-put-64', label: 'put, 64, random member', op: 'put', clients: 64, target: 'random' },
  { id: 'any-get-1', label: 'linearizable get, 1, random member', op: 'get', clients: 1, target: 'random' },
  { id: 'any-get-16', label: 'linearizable get, 16, random member', op: 'get', clients: 16, target: 'random' },
  { id: 'any-get-64', label: 'linearizable get, 64, random member', op: 'get', clients: 64, target: 'random' },
  { id: 'mixed-8', label: 'mixed 50/40/10, 8, random member', op: 'mixed', clients: 8, target: 'random' },
];

interface Measured extends LoadResult {
  system: SystemName;
  round: number;
  /** tsraft's leader loop per operation during the row (zero for etcd). */
  readiesPerOp: number;
  fsyncsPerOp: number;
  fsyncMs: number;
  peerRequestsPerOp: number;
}

const args = process.argv.slice(2);
const usage = 'node dist/bench/vs-etcd.js [--seconds 2] [--warmup 5] [--settle 2] [--rounds 3] [--rows put-1,mixed-8,...] [--snapshot-count N]';
checkArgs(args, usage, ['--seconds', '--warmup', '--settle', '--rounds', '--rows', '--snapshot-count'], {
  numeric: ['--seconds', '--rounds', '--snapshot-count'],
  zeroOrMore: ['--warmup', '--settle'],
});
const seconds = Number(argValue(args, '--seconds') ?? '2');
const warmup = Number(argValue(args, '--warmup') ?? '5');
const settle = Number(argValue(args, '--settle') ?? '2');
const rounds = Number(argValue(args, '--rounds') ?? '3');
const only = argValue(args, '--rows')?.split(',');
const snapshotCountArg = argValue(args, '--snapshot-count');
const clusterOptions = snapshotCountArg === undefined ? {} : { snapshotCount: Number(snapshotCountArg) };
// The fewest clients the warm-up runs with (see the top of this file).
const warmupClients = 16;

async function measure(system: SystemName, w: Workload, round: number): Promise<Measured> {
  const cluster = clusterOf(system, fs.mkdtempSync(path.join(os.tmpdir(), `vs-etcd-${system}-`)), clusterOptions);
  try {
    await cluster.start();
    const leader = (await cluster.leader()) ?? 0;
    await prepare(cluster, leader, w.op);
    if (warmup > 0) await runLoad(cluster, leader, { ...w, clients: Math.max(w.clients, warmupClients) }, warmup);
    if (warmup > 0 && settle > 0 && w.clients < warmupClients) await runLoad(cluster, leader, w, settle);
    const before = await cluster.counters(leader);
    const r = await runLoad(cluster, leader, w, seconds);
    const after = await cluster.counters(leader);
    const per = (f: (c: LoopCounters) => number): number => (r.ops === 0 ? 0 : (f(after) - f(before)) / r.ops);
    const fsyncs = after.fsyncs - before.fsyncs;
    return {
      ...r,
      system,
      round,
      readiesPerOp: per((c) => c.readies),
      fsyncsPerOp: per((c) => c.fsyncs),
      fsyncMs: fsyncs === 0 ? 0 : (after.fsyncMicros - before.fsyncMicros) / fsyncs / 1000,
      peerRequestsPerOp: per((c) => c.peerRequests),
    };
  } finally {
    await cluster.stop();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

async function main(): Promise<void> {
  if (EtcdCluster.binary() === undefined) {
    console.log('bench-vs-etcd: no etcd binary on PATH (install Debian\'s etcd-server package); skipped.');
    return;
  }
  const unknown = only?.filter((id) => !rows.some((r) => r.id === id)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`Unknown row ${unknown.join(', ')}: the rows are ${rows.map((r) => r.id).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const selected = rows.filter((r) => only === undefined || only.includes(r.id));
  console.log(`tsraft vs ${EtcdCluster.version()}: ${machineLine()}`);
  console.log(
    `${selected.length} rows, ${rounds} rounds, ${warmup} s warm-up (then ${settle} s of the row's own load if it has fewer than ${warmupClients} clients) + ${seconds} s per row, ${valueBytes}-byte values, fresh 3-member clusters on loopback` +
      (snapshotCountArg === undefined ? '' : `, a snapshot every ${snapshotCountArg} entries on both`),
  );
  const results: { row: string; label: string; runs: Measured[] }[] = [];
  for (const w of selected) {
    const runs: Measured[] = [];
    for (let round = 0; round < rounds; round++) {
      const order: SystemName[] = round % 2 === 0 ? ['etcd', 'tsraft'] : ['tsraft', 'etcd'];
      for (const system of order) {
        const m = await measure(system, w, round);
        runs.push(m);
        const extra =
          system === 'tsraft'
            ? `  leader/op: ${m.readiesPerOp.toFixed(2)} readies ${m.fsyncsPerOp.toFixed(3)} fsyncs (${m.fsyncMs.toFixed(2)} ms) ${m.peerRequestsPerOp.toFixed(2)} peer writes`
            : `  leader/op: ${m.fsyncsPerOp.toFixed(3)} fsyncs (${m.fsyncMs.toFixed(2)} ms)`;
        console.log(
          `  ${w.id.padEnd(11)} round ${round + 1} ${system.padEnd(6)} ${fmt(m.opsPerSec).padStart(7)} ops/s  p50 ${ms(m.p50Ms).padStart(5)}  p99 ${ms(m.p99Ms).padStart(5)} ms  ` +
            `failed ${m.failures} wrong ${m.wrong}  cpu/op ${m.memberCpuUsPerOp} us (generator ${m.clientCpuUsPerOp})${extra}`,
        );
        if (m.firstWrong !== undefined) console.log(`    WRONG ANSWER: ${m.firstWrong}`);
      }
    }
    results.push({ row: w.id, label: w.label, runs });
  }

  const med = (runs: Measured[], system: SystemName, f: (m: Measured) => number): number => median(runs.filter((m) => m.system === system).map(f));
  console.log('');
  console.log('| row | etcd ops/s | tsraft ops/s | ratio | etcd p50 / p99 | tsraft p50 / p99 |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const { label, runs } of results) {
    const e = med(runs, 'etcd', (m) => m.opsPerSec);
    const t = med(runs, 'tsraft', (m) => m.opsPerSec);
    console.log(
      `| ${label} | ${fmt(e)} | ${fmt(t)} | ${e === 0 ? '-' : (t / e).toFixed(2)}x | ` +
        `${ms(med(runs, 'etcd', (m) => m.p50Ms))} / ${ms(med(runs, 'etcd', (m) => m.p99Ms))} ms | ` +
        `${ms(med(runs, 'tsraft', (m) => m.p50Ms))} / ${ms(med(runs, 'tsraft', (m) => m.p99Ms))} ms |`,
    );
  }
  console.log('');
  console.log('| row | etcd CPU/op | tsraft CPU/op | generator CPU/op (etcd / tsraft) | leader fsyncs per op (mean wait), etcd / tsraft | tsraft leader per op: Readys, peer writes | failed / wrong (etcd, tsraft) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const { label, runs } of results) {
    const sum = (system: SystemName, f: (m: Measured) => number): number => runs.filter((m) => m.system === system).reduce((s, m) => s + f(m), 0);
    console.log(
      `| ${label} | ${fmt(med(runs, 'etcd', (m) => m.memberCpuUsPerOp))} us | ${fmt(med(runs, 'tsraft', (m) => m.memberCpuUsPerOp))} us | ` +
        `${fmt(med(runs, 'etcd', (m) => m.clientCpuUsPerOp))} / ${fmt(med(runs, 'tsraft', (m) => m.clientCpuUsPerOp))} us | ` +
        `${med(runs, 'etcd', (m) => m.fsyncsPerOp).toFixed(3)} (${med(runs, 'etcd', (m) => m.fsyncMs).toFixed(2)} ms) / ` +
        `${med(runs, 'tsraft', (m) => m.fsyncsPerOp).toFixed(3)} (${med(runs, 'tsraft', (m) => m.fsyncMs).toFixed(2)} ms) | ` +
        `${med(runs, 'tsraft', (m) => m.readiesPerOp).toFixed(2)}, ${med(runs, 'tsraft', (m) => m.peerRequestsPerOp).toFixed(2)} | ` +
        `${sum('etcd', (m) => m.failures)} / ${sum('etcd', (m) => m.wrong)}, ${sum('tsraft', (m) => m.failures)} / ${sum('tsraft', (m) => m.wrong)} |`,
    );
  }
  const outDir = path.join(__dirname, '..', '..', 'bench', 'out');
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, 'vs-etcd.json');
  fs.writeFileSync(out, `${JSON.stringify({ machine: machineLine(), etcd: EtcdCluster.version(), seconds, warmup, settle, rounds, valueBytes, ...clusterOptions, results }, null, 2)}\n`);
  console.log(`\nruns written to ${out}`);
  const wrong = results.reduce((s, r) => s + r.runs.reduce((t, m) => t + m.wrong, 0), 0);
  if (wrong > 0) {
    console.error(`${wrong} wrong answers: see WRONG ANSWER lines above`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
