// # How soon a restarted member is fast again
//
// A member restarted from its data directory runs its hot path in V8's interpreter at first, and only optimised code
// once V8 has seen enough of it run. Under faults that come every few seconds (bench/chaos-vs-etcd.ts) that time is
// most of a member's life, so it is measured here, alone.
//
// A three-member tsraft cluster on loopback takes the chaos suite's workload (8 closed-loop clients, each operation
// to a member chosen at random: 50% linearizable gets, 40% puts, 10% deletes, a fresh connection per request) for a
// few phases to warm up the load generator, then every member is killed and started again at once. From the first
// acknowledged write after the restart, each following phase of `--phase-ms` reports successful operations per
// second and the members' CPU time per successful operation.
//
// The same run is made for three JIT settings per round, in an order that rotates: Node's default tier-up (the
// members started as `node --interrupt-budget=67584 ...`, V8's default, which `tsraft serve` leaves alone when it is
// given on Node's command line), a quarter of that budget throughout, and as `tsraft serve` tunes it (a large budget
// while it starts, the quarter once it serves: kvstore/cli.ts). Each run also reports the time from the spawn to the
// first acknowledged write, which the phases leave out. The table shows medians over rounds.
//
//   node dist/bench/warmup.js [--rounds 3] [--phases 6] [--phase-ms 2000]
//
// Rows are written as JSON to bench/out/warmup.json.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Workload } from '../test/chaos/workload';
import { argValue, checkArgs, machineLine, median, sleep } from './harness';
import { TsraftCluster } from './systems';

const args = process.argv.slice(2);
checkArgs(args, 'node dist/bench/warmup.js [--rounds 3] [--phases 6] [--phase-ms 2000]', ['--rounds', '--phases', '--phase-ms'], {
  numeric: ['--rounds', '--phases', '--phase-ms'],
});
const rounds = Number(argValue(args, '--rounds') ?? '3');
const phases = Number(argValue(args, '--phases') ?? '6');
const phaseMs = Number(argValue(args, '--phase-ms') ?? '2000');

const variants = [
  { name: 'V8 default', nodeArgs: ['--interrupt-budget=67584'] },
  { name: 'quarter', nodeArgs: ['--interrupt-budget=16384'] },
  { name: 'tsraft serve', nodeArgs: [] },
] as const;

interface Phase {
  okPerSec: number;
  cpuMicrosPerOp: number;
}

async function phase(cluster: TsraftCluster): Promise<Phase> {
  const t0 = performance.now();
  const cpu0 = cluster.cpuMicros();
  const w = new Workload({
    clients: 8,
    activeKeys: 6,
    opsPerKey: 60,
    opTimeoutMs: 1000,
    targets: () => [0, 1, 2],
    clientURL: (i) => `http://127.0.0.1:${cluster.clientPorts[i] ?? 0}`,
    random: Math.random,
    now: () => performance.now() - t0,
    mix: { put: 0.4, get: 0.5 },
    failurePauseMs: 100,
  });
  w.start();
  await sleep(phaseMs);
  await w.stop();
  const ok = w.history.filter((op) => op.outcome === 'ok').length;
  return { okPerSec: ok / ((performance.now() - t0) / 1000), cpuMicrosPerOp: ok === 0 ? 0 : (cluster.cpuMicros() - cpu0) / ok };
}

interface Run {
  /** From the spawn of the members to the first acknowledged write. */
  firstWriteMs: number;
  phases: Phase[];
}

async function run(nodeArgs: readonly string[]): Promise<Run> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-warmup-'));
  const cluster = new TsraftCluster(dir, [], [...nodeArgs]);
  try {
    await cluster.start();
    for (let i = 0; i < 3; i++) await phase(cluster);
    await Promise.all([0, 1, 2].map((i) => cluster.kill(i)));
    for (let i = 0; i < 3; i++) cluster.spawnMember(i);
    const started = performance.now();
    const agent = new http.Agent({ keepAlive: false });
    for (;;) {
      const leader = await cluster.leader();
      if (leader !== undefined) {
        try {
          await cluster.put(agent, leader, 'warmup-ready', Buffer.from('1'), 2_000);
          break;
        } catch {
          // Not yet.
        }
      }
      if (performance.now() - started > 30_000) throw new Error('the restarted cluster took no write within 30 s');
      await sleep(20);
    }
    const firstWriteMs = performance.now() - started;
    agent.destroy();
    const out: Phase[] = [];
    for (let i = 0; i < phases; i++) out.push(await phase(cluster));
    return { firstWriteMs, phases: out };
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  console.log(`warm-up after a restart of every member: ${machineLine()}`);
  console.log(`${rounds} rounds, ${phases} phases of ${phaseMs} ms after the first write, 8 clients (chaos workload, random member)`);
  const runs: ({ variant: string; round: number } & Run)[] = [];
  for (let round = 0; round < rounds; round++) {
    const first = round % variants.length;
    const order = [...variants.slice(first), ...variants.slice(0, first)];
    for (const v of order) {
      const r = await run(v.nodeArgs);
      runs.push({ variant: v.name, round, ...r });
      const cells = r.phases.map((p) => `${p.okPerSec.toFixed(0)} ok/s ${p.cpuMicrosPerOp.toFixed(0)} us`);
      console.log(`  round ${round + 1} ${v.name.padEnd(12)} first write ${r.firstWriteMs.toFixed(0)} ms | ${cells.join(' | ')}`);
    }
  }
  const med = (variant: string, i: number, f: (p: Phase) => number): number =>
    median(runs.filter((r) => r.variant === variant).map((r) => f(r.phases[i] ?? { okPerSec: 0, cpuMicrosPerOp: 0 })));
  console.log('');
  const firstWrites = variants.map((v) => `${v.name} ${median(runs.filter((r) => r.variant === v.name).map((r) => r.firstWriteMs)).toFixed(0)} ms`);
  console.log(`spawn to first write, medians: ${firstWrites.join(', ')}`);
  console.log('');
  console.log(`| seconds after the first write | ${variants.map((v) => `${v.name}: ok/s, CPU/op`).join(' | ')} | ok/s, tsraft serve / V8 default |`);
  console.log(`| --- | ${variants.map(() => '---').join(' | ')} | --- |`);
  for (let i = 0; i < phases; i++) {
    const cells = variants.map((v) => `${med(v.name, i, (p) => p.okPerSec).toFixed(0)}, ${med(v.name, i, (p) => p.cpuMicrosPerOp).toFixed(0)} us`);
    const ratio = med('tsraft serve', i, (p) => p.okPerSec) / Math.max(1, med('V8 default', i, (p) => p.okPerSec));
    console.log(`| ${((i * phaseMs) / 1000).toFixed(0)}-${(((i + 1) * phaseMs) / 1000).toFixed(0)} | ${cells.join(' | ')} | ${ratio.toFixed(2)}x |`);
  }
  const outDir = path.join(__dirname, '..', '..', 'bench', 'out');
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, 'warmup.json');
  fs.writeFileSync(out, `${JSON.stringify({ machine: machineLine(), rounds, phases, phaseMs, runs }, null, 2)}\n`);
  console.log(`\nruns written to ${out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
