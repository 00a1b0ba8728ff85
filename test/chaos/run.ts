// # One chaos run, and `make chaos`
//
// A run: start a cluster of real members behind proxies, start the clients, apply the seeded schedule of faults,
// heal everything, measure how long the first write after healing takes, wait for the members to converge, read
// every key, then judge:
// - linearizable: the checker (test/chaos/checker.ts) finds an order for every key's history;
// - acknowledged writes lost: acknowledged writes of a key that real time orders after the write its final value
//   came from (the final value should be theirs or newer);
// - restart failures: members that exited on their own or did not serve again within 60 s of a restart (generous:
//   on a loaded machine a niced Node process can take many seconds just to start);
// - first write after healing: within 10 s;
// - identical: every running member holds the same keys and values once they have applied the same index.
//
// `node dist/test/chaos/run.js --help` lists the options; `make chaos CHAOS_ARGS=...` passes them.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { SeededRand } from '../../raft/rand';
import { Op, checkHistory } from './checker';
import { ChaosCluster } from './cluster';
import { buildMutant, mutations } from './mutants';
import { Family, FaultEvent, Nemesis, families, schedule } from './nemesis';
import { Links } from './proxy';
import { Workload, exchange } from './workload';

const repoRoot = path.resolve(__dirname, '..', '..', ...(path.basename(path.resolve(__dirname, '..', '..')) === 'dist' ? ['..'] : []));

/** What a run is asked to do. */
export interface RunOptions {
  seed: number;
  family: Family | 'all';
  members: number;
  seconds: number;
  clients: number;
  /** A planted bug to run (test/chaos/mutants.ts), or none. */
  mutant?: string;
  /** Keep the run's directory (member logs, history, journal) even when it passes. */
  keep?: boolean;
  /** Print the journal of faults as they happen. */
  verbose?: boolean;
}

/** What a run found. */
export interface RunSummary {
  seed: number;
  family: string;
  members: number;
  ok: number;
  failed: number;
  unknown: number;
  linearizable: boolean | 'inconclusive';
  lostWrites: number;
  restartFailures: string[];
  /** Milliseconds from the final heal to the first acknowledged write; Infinity if none came. */
  firstWriteMs: number;
  identical: boolean;
  passed: boolean;
  /** The checker's failing window and other reasons for failing. */
  problems: string[];
  dir: string;
}

/** Faults the suite can inject here: power loss only when the fault layer exists in the compiled tree. */
export function availableFamilies(distDir: string): Family[] {
  return families.filter((f) => f !== 'power-loss' || fs.existsSync(path.join(distDir, 'wal', 'faultfs.js')));
}

/** Runs one seeded run. */
export async function runChaos(o: RunOptions): Promise<RunSummary> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsraft-chaos-${o.seed}-`));
  const projectDist = path.join(repoRoot, 'dist');
  const distDir = o.mutant === undefined ? projectDist : buildMutant(o.mutant, repoRoot, projectDist, path.join(dir, 'mutant'));
  const mix = availableFamilies(distDir);
  const powerLoss = mix.includes('power-loss');
  if (o.family === 'power-loss' && !powerLoss) throw new Error('The power-loss nemesis needs the fault layer (dist/wal/faultfs.js)');
  const plan: FaultEvent[] = schedule(o.seed, o.family, o.seconds, mix);
  const runtime = new SeededRand(o.seed ^ 0x5eed);
  const links = new Links(() => runtime.float());
  const opTimeoutMs = 3000;
  const journal: string[] = [];
  const cluster = new ChaosCluster(
    {
      dir,
      distDir,
      tickMs: 50,
      electionTicks: 10,
      requestTimeoutMs: 2000,
      snapshotCount: 500,
      memberEnv: powerLoss ? (m) => ({ TSRAFT_FAULTFS: `root=${m.dataDir},seed=${o.seed * 100 + m.id}` }) : undefined,
      log: (line) => journal.push(line),
    },
    links,
  );
  const problems: string[] = [];
  let workload: Workload | null = null;
  let nemesis: Nemesis | null = null;
  // Times count from the start of the workload, once the cluster is up.
  let t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const sleepUntil = async (at: number): Promise<void> => {
    const ms = at - now();
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  };
  let firstWriteMs = Infinity;
  let identical = false;
  let finalReads: Op[] = [];
  try {
    await cluster.bootstrap(o.members);
    t0 = performance.now();
    nemesis = new Nemesis(cluster, o.members, now, opTimeoutMs, powerLoss);
    const w = new Workload({
      clients: o.clients,
      activeKeys: 6,
      opsPerKey: 60,
      opTimeoutMs,
      targets: () => cluster.current(),
      clientURL: (id) => cluster.clientURL(id),
      random: () => runtime.float(),
      now,
    });
    workload = w;
    w.start();
    for (const ev of plan) {
      await sleepUntil(ev.at);
      const heal = await nemesis.start(ev);
      if (o.verbose === true) process.stdout.write(`  ${nemesis.journal[nemesis.journal.length - 1] ?? ''}\n`);
      await sleepUntil(ev.at + ev.holdMs);
      await heal();
    }
    await sleepUntil(o.seconds * 1000);
    await nemesis.healAll();
    const healedAt = now();
    firstWriteMs = await firstWriteAfter(w, cluster, healedAt, now);
    await w.stop();
    identical = await converge(cluster, problems);
    // The final reads: every key, linearizably, through one member; part of the checked history.
    const reader = cluster.running()[0] ?? 1;
    for (const key of w.keys()) finalReads.push(await w.perform(0, reader, key, 'get'));
    if (finalReads.some((op) => op.outcome !== 'ok')) problems.push('some final reads failed');
  } catch (err) {
    problems.push(`run aborted: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    await workload?.stop();
    await cluster.destroy();
  }

  const history = workload?.history ?? [];
  const check = checkHistory(history);
  if (!check.linearizable && check.failure !== undefined) problems.push(check.failure);
  if (check.inconclusive.length > 0) problems.push(`inconclusive (search budget exceeded) on keys ${check.inconclusive.join(', ')}`);
  const lostWrites = countLostWrites(history, finalReads);
  if (lostWrites > 0) problems.push(`${lostWrites} acknowledged writes lost`);
  if (firstWriteMs > 10_000) problems.push(`no acknowledged write within 10 s of healing`);
  if (!identical) problems.push('members do not hold identical state');
  problems.push(...cluster.failures);
  const summary: RunSummary = {
    seed: o.seed,
    family: o.family,
    members: o.members,
    ok: history.filter((op) => op.outcome === 'ok').length,
    failed: history.filter((op) => op.outcome === 'fail').length,
    unknown: history.filter((op) => op.outcome === 'unknown').length,
    linearizable: check.inconclusive.length > 0 && check.linearizable ? 'inconclusive' : check.linearizable,
    lostWrites,
    restartFailures: [...cluster.failures],
    firstWriteMs,
    identical,
    passed: check.linearizable && lostWrites === 0 && cluster.failures.length === 0 && firstWriteMs <= 10_000 && identical && !problems.some((p) => p.startsWith('run aborted')),
    problems,
    dir,
  };
  // Infinity (an unknown outcome's return) is written as null.
  fs.writeFileSync(path.join(dir, 'history.json'), JSON.stringify(history));
  fs.writeFileSync(path.join(dir, 'journal.txt'), [...(nemesis?.journal ?? []), ...journal].join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ ...summary, firstWriteMs: Number.isFinite(firstWriteMs) ? firstWriteMs : null }, null, 2));
  if (summary.passed && o.keep !== true) fs.rmSync(dir, { recursive: true, force: true });
  return summary;
}

// The clients keep running; a probe (client 0) writes fresh keys until one is acknowledged, so the figure does
// not depend on which keys the clients happen to pick.
async function firstWriteAfter(w: Workload, cluster: ChaosCluster, healedAt: number, now: () => number): Promise<number> {
  let probe = 0;
  while (now() - healedAt < 30_000) {
    const targets = cluster.running();
    const member = targets[probe % Math.max(1, targets.length)] ?? 1;
    const op = await w.perform(0, member, `probe-${++probe}`, 'put', `probe-${probe}`);
    if (op.outcome === 'ok') return op.ret - healedAt;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Infinity;
}

// Waits until every running member has applied the same index as the others, then compares their whole maps.
async function converge(cluster: ChaosCluster, problems: string[]): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  let last = '';
  while (Date.now() < deadline) {
    const ids = cluster.running();
    const statuses = await Promise.all(ids.map((id) => cluster.status(id)));
    const applied = statuses.map((s) => (s === undefined ? -1 : Number(s.applied)));
    const commits = statuses.map((s) => (s === undefined ? -1 : Number(s.commit)));
    if (applied.every((a) => a >= 0 && a === applied[0]) && commits.every((c) => c === commits[0])) {
      const maps = await Promise.all(ids.map(async (id) => {
        const r = await exchange(`${cluster.clientURL(id)}/kv?consistency=serializable&limit=10000`, 'GET', undefined, 5000);
        return 'status' in r && r.status === 200 ? r.body : `error ${'status' in r ? r.status : r.error}`;
      }));
      if (maps.every((m) => m === maps[0] && !m.startsWith('error'))) return true;
      last = ids.map((id, i) => `member ${id}: ${(maps[i] ?? '').length} bytes`).join(', ');
    } else {
      last = ids.map((id, i) => `member ${id} applied ${applied[i] ?? -1} commit ${commits[i] ?? -1}`).join(', ');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  problems.push(`members did not converge within 30 s: ${last}`);
  return false;
}

/**
 * Acknowledged writes (puts and deletes) of a key that were invoked after the write that produced the key's final
 * value had returned: they must have taken effect after it, so the final value should be theirs or newer.
 */
export function countLostWrites(history: readonly Op[], finalReads: readonly Op[]): number {
  let lost = 0;
  for (const final of finalReads) {
    if (final.outcome !== 'ok') continue;
    const writes = history.filter((op) => op.key === final.key && op.kind !== 'get' && op.id !== final.id);
    let sourceRet: number;
    if (final.read === null || final.read === undefined) {
      // Absent: produced by some delete (known or unknown), or never written; the latest possible delete counts.
      const deletes = writes.filter((op) => op.kind === 'delete' && op.outcome !== 'fail');
      sourceRet = deletes.length === 0 ? -Infinity : Math.max(...deletes.map((op) => op.ret));
    } else {
      const source = writes.find((op) => op.kind === 'put' && op.value === final.read);
      sourceRet = source === undefined ? Infinity : source.ret;
      if (source === undefined) lost++;
    }
    lost += writes.filter((op) => op.outcome === 'ok' && op.call > sourceRet).length;
  }
  return lost;
}

/** One line per run, as `make chaos` prints it. */
export function summaryLine(s: RunSummary, index: number, total: number): string {
  const lin = s.linearizable === 'inconclusive' ? 'inconclusive' : s.linearizable ? 'yes' : 'NO';
  const first = Number.isFinite(s.firstWriteMs) ? `${(s.firstWriteMs / 1000).toFixed(2)}s` : 'never';
  return (
    `run ${index}/${total} seed ${s.seed} ${s.family} members ${s.members}: ops ok ${s.ok} failed ${s.failed} unknown ${s.unknown}, ` +
    `linearizable ${lin}, acknowledged writes lost ${s.lostWrites}, restart failures ${s.restartFailures.length}, ` +
    `first write after healing ${first}, identical ${s.identical ? 'yes' : 'NO'}: ${s.passed ? 'PASS' : 'FAIL'}`
  );
}

async function main(): Promise<void> {
  const program = new Command()
    .name('chaos')
    .description('Seeded chaos runs against real tsraft members behind fault-injecting proxies')
    .option('--runs <n>', 'number of runs', (v) => Number(v), 0)
    .option('--seconds <n>', 'seconds of faults per run', (v) => Number(v), 20)
    .option('--members <n>', 'members per cluster', (v) => Number(v), 3)
    .option('--clients <n>', 'concurrent clients', (v) => Number(v), 4)
    .option('--family <name>', `a nemesis family, "all" (mixed in every run) or "each" (one family per run, in turn): ${families.join(', ')}`, 'each')
    .option('--seed <n>', 'seed of the first run (run i uses seed + i); printed, so any run can be replayed', (v) => Number(v))
    .option('--mutant <name>', `run a planted bug: ${Object.keys(mutations).join(', ')}`)
    .option('--keep', "keep every run's directory (member logs, history.json, journal.txt)")
    .option('--verbose', 'print each fault as it starts')
    .option('--check <history.json>', "only check a run's saved history and print the verdict")
    .parse(process.argv);
  const check = program.opts<{ check?: string }>().check;
  if (check !== undefined) {
    const history = (JSON.parse(fs.readFileSync(check, 'utf8')) as (Op & { ret: number | null })[]).map((op) => ({ ...op, ret: op.ret ?? Infinity }));
    const result = checkHistory(history);
    console.log(result.linearizable ? `linearizable: ${result.keys.length} keys, ${history.length} operations` : (result.failure ?? 'not linearizable'));
    if (result.inconclusive.length > 0) console.log(`inconclusive on keys ${result.inconclusive.join(', ')}`);
    process.exitCode = result.linearizable ? 0 : 1;
    return;
  }
  const o = program.opts<{ runs: number; seconds: number; members: number; clients: number; family: string; seed?: number; mutant?: string; keep?: boolean; verbose?: boolean }>();
  const available = availableFamilies(path.join(repoRoot, 'dist'));
  if (o.family !== 'each' && o.family !== 'all' && !(families as readonly string[]).includes(o.family)) {
    throw new Error(`Unknown nemesis family "${o.family}"; known: ${families.join(', ')}, all, each`);
  }
  const runs = o.runs > 0 ? o.runs : o.family === 'each' ? available.length : 1;
  const seed = o.seed ?? Math.floor(Math.random() * 1_000_000);
  console.log(`chaos: seed ${seed}, ${runs} runs of ${o.seconds} s, ${o.members} members, family ${o.family}${o.mutant === undefined ? '' : `, mutant ${o.mutant}`}`);
  let passed = 0;
  let failed = 0;
  for (let i = 0; i < runs; i++) {
    const family = (o.family === 'each' ? available[i % available.length] : o.family) as Family | 'all';
    const s = await runChaos({ seed: seed + i, family, members: o.members, seconds: o.seconds, clients: o.clients, ...(o.mutant === undefined ? {} : { mutant: o.mutant }), keep: o.keep === true, verbose: o.verbose === true });
    console.log(summaryLine(s, i + 1, runs));
    if (s.passed) passed++;
    else {
      failed++;
      for (const p of s.problems) console.log(p.split('\n').map((l) => `    ${l}`).join('\n'));
      console.log(`    replay: make chaos CHAOS_ARGS="--seed ${s.seed} --runs 1 --family ${s.family} --members ${s.members} --seconds ${o.seconds}${o.mutant === undefined ? '' : ` --mutant ${o.mutant}`}"; logs in ${s.dir}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

if (require.main === module) {
  // Exit through process.exit so the members are killed (cluster.ts) when the run is interrupted.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  main().catch((err: unknown) => {
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
