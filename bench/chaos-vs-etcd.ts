// # tsraft beside etcd under faults: the same seeded schedule, the same clients, the same run
//
// Both systems get a fresh three-member cluster on loopback (bench/systems.ts), then the same workload for a fixed
// time while the same seeded schedule of faults hits them: every 4 s one of
//
// - kill: SIGKILL a running member chosen at random;
// - kill-leader: SIGKILL the member that leads at that moment;
// - restart-all: SIGKILL every member;
// - pause: SIGSTOP a member (the leader half the time), SIGCONT at the end of the hold;
//
// and killed members are started again with the same command after a hold of 1 to 3 s. The schedule (families,
// holds, victims' random picks) is drawn from the seed before either run starts, so both see the same faults at the
// same moments; "the leader" is whoever leads when the fault comes.
//
// The clients are the chaos suite's (test/chaos/workload.ts): closed loops, each operation to a member chosen at
// random, over a few active keys with unique values, no retries, a fresh connection per request (so a lost answer
// is told from a request that never left), and a failed operation followed by a fixed pause. Each system's whole
// history then goes through the chaos suite's linearizability checker (test/chaos/checker.ts), so a figure only
// counts if the answers behind it were right. tsraft's answers are read as the chaos suite reads them; etcd's
// through its v3 JSON gateway, where a write whose answer is not a success is taken as of unknown outcome (its
// errors do not promise that nothing happened).
//
//   node dist/bench/chaos-vs-etcd.js [--seconds 20] [--rounds 1] [--seed N] [--clients 8]
//                                    [--op-timeout-ms 1000] [--fault-every-ms 4000] [--series]
//
// Prints, for each system and round, successful operations per second, successful get and put latency p50 / p90 /
// p99, failed and unknown operations, elections (how far the highest term moved), the linearizability verdict,
// then the medians over rounds with the ratio tsraft / etcd; with --series, each second's successful operations of
// both systems side by side with the faults. Runs go to bench/out/chaos-vs-etcd.json.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SeededRand } from '../raft/rand';
import { Op, checkHistory } from '../test/chaos/checker';
import { Answer, Workload, exchange, tsraftAnswer } from '../test/chaos/workload';
import { argValue, checkArgs, machineLine, median, percentile, request, sleep } from './harness';
import { Cluster, EtcdCluster, SystemName, TsraftCluster, clusterOf } from './systems';

const args = process.argv.slice(2);
checkArgs(
  args,
  'node dist/bench/chaos-vs-etcd.js [--seconds 20] [--rounds 1] [--seed N] [--clients 8] [--op-timeout-ms 1000] [--fault-every-ms 4000] [--series]',
  ['--seconds', '--rounds', '--seed', '--clients', '--op-timeout-ms', '--fault-every-ms'],
  { switches: ['--series'], numeric: ['--seconds', '--rounds', '--clients', '--op-timeout-ms', '--fault-every-ms'] },
);
const seconds = Number(argValue(args, '--seconds') ?? '20');
const rounds = Number(argValue(args, '--rounds') ?? '1');
const series = args.includes('--series');
const seed = Number(argValue(args, '--seed') ?? String(Math.floor(Math.random() * 1_000_000)));
const clients = Number(argValue(args, '--clients') ?? '8');
const opTimeoutMs = Number(argValue(args, '--op-timeout-ms') ?? '1000');
const faultEveryMs = Number(argValue(args, '--fault-every-ms') ?? '4000');
const members = 3;

type Family = 'kill' | 'kill-leader' | 'restart-all' | 'pause';
const familyNames: readonly Family[] = ['kill', 'kill-leader', 'restart-all', 'pause'];

interface Fault {
  at: number;
  family: Family;
  holdMs: number;
  /** Random numbers in [0, 1) that pick victims. */
  picks: number[];
}

/** The faults of one run: one every `faultEveryMs`, the last ending 1 s before the run does. */
function faultSchedule(s: number): Fault[] {
  const rand = new SeededRand(s);
  const out: Fault[] = [];
  for (let at = faultEveryMs; at + 1000 < seconds * 1000; at += faultEveryMs) {
    const family = familyNames[rand.intn(familyNames.length)] ?? 'kill';
    out.push({ at, family, holdMs: 1000 + rand.intn(2000), picks: [rand.float(), rand.float()] });
  }
  return out;
}

interface Measured {
  system: SystemName;
  round: number;
  okPerSec: number;
  ok: number;
  failed: number;
  unknown: number;
  getMs: [number, number, number];
  putMs: [number, number, number];
  elections: number;
  linearizable: boolean | 'inconclusive';
  /** Why operations failed or were left unknown: the commonest reasons with their counts. */
  reasons: string;
  /** Successful and failed operations in each second of the run, by the second they returned in. */
  okBySecond: number[];
  failedBySecond: number[];
  problem?: string;
  journal: string[];
}

// ## etcd's answers through its JSON gateway

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function etcdSender(cluster: Cluster): (member: number, key: string, kind: Op['kind'], value: string | undefined, timeoutMs: number) => Promise<Answer> {
  return async (member, key, kind, value, timeoutMs) => {
    const url = `http://127.0.0.1:${cluster.clientPorts[member] ?? 0}`;
    const [route, body] =
      kind === 'put'
        ? ['/v3/kv/put', { key: b64(key), value: b64(value ?? ''), prev_kv: true }]
        : kind === 'get'
          ? ['/v3/kv/range', { key: b64(key) }]
          : ['/v3/kv/deleterange', { key: b64(key) }];
    const answer = await exchange(`${url}${route}`, 'POST', JSON.stringify(body), timeoutMs);
    if ('error' in answer) return { outcome: kind === 'get' || !answer.sent ? 'fail' : 'unknown', note: answer.error };
    if (answer.status !== 200) return { outcome: kind === 'get' ? 'fail' : 'unknown', note: `${answer.status} ${answer.body.slice(0, 80)}` };
    let reply: Record<string, unknown>;
    try {
      reply = JSON.parse(answer.body) as Record<string, unknown>;
    } catch {
      return { outcome: kind === 'get' ? 'fail' : 'unknown', note: 'answer is not JSON' };
    }
    if (kind === 'get') {
      const kvs = Array.isArray(reply.kvs) ? (reply.kvs as Record<string, unknown>[]) : [];
      const v = kvs[0]?.value;
      return { outcome: 'ok', read: kvs.length === 0 ? null : Buffer.from(typeof v === 'string' ? v : '', 'base64').toString('utf8') };
    }
    if (kind === 'put') return { outcome: 'ok', existed: reply.prev_kv !== undefined };
    return { outcome: 'ok', existed: String(reply.deleted ?? '0') === '1' };
  };
}

// ## Terms, to count elections

async function termOf(cluster: Cluster, i: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    if (cluster instanceof TsraftCluster) {
      const s = (await cluster.status(agent, i)) as { term?: unknown };
      return Number(s.term ?? 0);
    }
    const reply = await request(agent, cluster.clientPorts[i] ?? 0, 'POST', '/v3/maintenance/status', Buffer.from('{}'), 1_000);
    const s = JSON.parse(reply.body.toString('utf8')) as Record<string, unknown>;
    return Number(s.raft_term ?? s.raftTerm ?? 0);
  } catch {
    return 0;
  } finally {
    agent.destroy();
  }
}

async function highestTerm(cluster: Cluster): Promise<number> {
  const terms = await Promise.all(Array.from({ length: members }, (_, i) => (cluster.pids()[i] === undefined ? 0 : termOf(cluster, i))));
  return Math.max(...terms);
}

// ## One run

async function measure(system: SystemName, round: number, faults: Fault[]): Promise<Measured> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `chaos-vs-etcd-${system}-`));
  const cluster = clusterOf(system, dir);
  const journal: string[] = [];
  const paused = new Set<number>();
  let t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const note = (what: string): void => {
    journal.push(`${(now() / 1000).toFixed(2)}s ${what}`);
  };
  const up = (): number[] => Array.from({ length: members }, (_, i) => i).filter((i) => cluster.pids()[i] !== undefined && !paused.has(i));
  const pick = (list: number[], r: number): number => list[Math.floor(r * list.length)] ?? list[0] ?? 0;
  try {
    await cluster.start();
    const termBefore = await highestTerm(cluster);
    const runtime = new SeededRand(seed ^ 0x5eed ^ round);
    const w = new Workload({
      clients,
      activeKeys: 6,
      opsPerKey: 60,
      opTimeoutMs,
      targets: () => Array.from({ length: members }, (_, i) => i),
      clientURL: (i) => `http://127.0.0.1:${cluster.clientPorts[i] ?? 0}`,
      random: () => runtime.float(),
      now,
      send: system === 'etcd' ? etcdSender(cluster) : (m, k, kind, v, t) => tsraftAnswer(`http://127.0.0.1:${cluster.clientPorts[m] ?? 0}`, k, kind, v, t),
      mix: { put: 0.4, get: 0.5 },
      failurePauseMs: 100,
    });
    t0 = performance.now();
    w.start();
    for (const f of faults) {
      const wait = f.at - now();
      if (wait > 0) await sleep(wait);
      const live = up();
      const leader = f.family === 'kill-leader' || f.family === 'pause' ? await cluster.leader() : undefined;
      let victims: number[];
      if (f.family === 'restart-all') victims = Array.from({ length: members }, (_, i) => i).filter((i) => cluster.pids()[i] !== undefined);
      else if (f.family === 'kill-leader') victims = [leader ?? pick(live, f.picks[0] ?? 0)];
      else if (f.family === 'pause') victims = [(f.picks[1] ?? 0) < 0.5 && leader !== undefined ? leader : pick(live, f.picks[0] ?? 0)];
      else victims = [pick(live, f.picks[0] ?? 0)];
      if (f.family === 'pause') {
        for (const v of victims) {
          cluster.signal(v, 'SIGSTOP');
          paused.add(v);
        }
      } else {
        await Promise.all(victims.map((v) => cluster.kill(v)));
      }
      note(`${f.family}: member ${victims.join(',')}${leader !== undefined && victims.includes(leader) ? ' (the leader)' : ''}`);
      await sleep(Math.max(0, f.at + f.holdMs - now()));
      for (const v of victims) {
        if (f.family === 'pause') {
          cluster.signal(v, 'SIGCONT');
          paused.delete(v);
        } else {
          cluster.spawnMember(v);
        }
      }
      note(`${f.family}: member ${victims.join(',')} back`);
    }
    await sleep(Math.max(0, seconds * 1000 - now()));
    await w.stop();
    const elapsed = now() / 1000;
    const termAfter = await highestTerm(cluster);
    const history = w.history;
    const check = checkHistory(history);
    const ok = history.filter((op) => op.outcome === 'ok');
    const latencies = (kind: Op['kind']): [number, number, number] => {
      const sorted = ok.filter((op) => op.kind === kind).map((op) => op.ret - op.call).sort((a, b) => a - b);
      return [percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99)];
    };
    return {
      system,
      round,
      okPerSec: ok.length / elapsed,
      ok: ok.length,
      failed: history.filter((op) => op.outcome === 'fail').length,
      unknown: history.filter((op) => op.outcome === 'unknown').length,
      getMs: latencies('get'),
      putMs: latencies('put'),
      elections: Math.max(0, termAfter - termBefore),
      linearizable: check.inconclusive.length > 0 && check.linearizable ? 'inconclusive' : check.linearizable,
      reasons: reasonsOf(history),
      okBySecond: bySecond(ok, elapsed),
      failedBySecond: bySecond(history.filter((op) => op.outcome === 'fail'), elapsed),
      ...(check.failure === undefined ? {} : { problem: check.failure }),
      journal,
    };
  } finally {
    for (const v of paused) cluster.signal(v, 'SIGCONT');
    await cluster.stop();
  }
}

// The commonest notes of operations that did not succeed (a refused connection, a timeout, a status and code).
function reasonsOf(history: readonly Op[]): string {
  const counts = new Map<string, number>();
  for (const op of history) {
    if (op.outcome === 'ok') continue;
    const reason = (op.note ?? 'unknown').replace(/[0-9]+ ms/, 'N ms').slice(0, 40);
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([r, n]) => `${n} ${r}`).join(', ');
}

function bySecond(ops: readonly Op[], elapsed: number): number[] {
  const counts = new Array<number>(Math.ceil(elapsed)).fill(0);
  for (const op of ops) {
    const s = Math.floor(op.ret / 1000);
    if (s >= 0 && s < counts.length) counts[s] = (counts[s] ?? 0) + 1;
  }
  return counts;
}

const ms = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const trio = (t: [number, number, number]): string => t.map(ms).join(' / ');

// With --series: each second's successful (and failed) operations side by side, with the fault that began in it.
function printSeries(pair: readonly Measured[], faults: readonly Fault[]): void {
  const etcd = pair.find((m) => m.system === 'etcd');
  const ts = pair.find((m) => m.system === 'tsraft');
  if (etcd === undefined || ts === undefined) return;
  console.log('    second   etcd ok (failed)   tsraft ok (failed)   fault');
  for (let s = 0; s < Math.max(etcd.okBySecond.length, ts.okBySecond.length); s++) {
    const fault = faults.find((f) => Math.floor(f.at / 1000) === s);
    const cell = (m: Measured): string => `${String(m.okBySecond[s] ?? 0).padStart(5)} (${String(m.failedBySecond[s] ?? 0).padStart(3)})`;
    console.log(`    ${String(s).padStart(6)}   ${cell(etcd)}        ${cell(ts)}          ${fault === undefined ? '' : `${fault.family} ${fault.holdMs} ms`}`);
  }
}

async function main(): Promise<void> {
  if (EtcdCluster.binary() === undefined) {
    console.log("bench-chaos-vs-etcd: no etcd binary on PATH (install Debian's etcd-server package); skipped.");
    return;
  }
  const faults = faultSchedule(seed);
  console.log(`tsraft vs ${EtcdCluster.version()} under faults: ${machineLine()}`);
  console.log(
    `seed ${seed}, ${seconds} s per run, ${rounds} rounds, ${clients} clients (50% linearizable gets, 40% puts, 10% deletes, random member, ` +
      `${opTimeoutMs} ms timeout, 100 ms pause after a failure), faults: ${faults.map((f) => `${(f.at / 1000).toFixed(0)}s ${f.family} ${f.holdMs} ms`).join(', ')}`,
  );
  const runs: Measured[] = [];
  for (let round = 0; round < rounds; round++) {
    const order: SystemName[] = round % 2 === 0 ? ['etcd', 'tsraft'] : ['tsraft', 'etcd'];
    for (const system of order) {
      const m = await measure(system, round, faults);
      runs.push(m);
      const lin = m.linearizable === 'inconclusive' ? 'inconclusive' : m.linearizable ? 'yes' : 'NO';
      console.log(
        `  round ${round + 1} ${system.padEnd(6)} ${m.okPerSec.toFixed(0).padStart(5)} ok/s (${m.ok} ok, ${m.failed} failed, ${m.unknown} unknown)  ` +
          `get p50/p90/p99 ${trio(m.getMs)} ms  put ${trio(m.putMs)} ms  elections ${m.elections}  linearizable ${lin}`,
      );
      if (m.reasons !== '') console.log(`    not ok: ${m.reasons}`);
      if (m.problem !== undefined) console.log(m.problem.split('\n').map((l) => `    ${l}`).join('\n'));
    }
    if (series) printSeries(runs.filter((m) => m.round === round), faults);
  }
  const med = (system: SystemName, f: (m: Measured) => number): number => median(runs.filter((m) => m.system === system).map(f));
  // Only a ratio of times is marked "(time)"; for it, as for the counts of elections and failures, less is better.
  const row = (label: string, f: (m: Measured) => number, digits: 'ops' | 'ms' | 'count'): string => {
    const e = med('etcd', f);
    const t = med('tsraft', f);
    const show = (n: number): string => (digits === 'ms' ? `${ms(n)} ms` : n.toFixed(0));
    const ratio = e === 0 ? '-' : `${(t / e).toFixed(2)}x${digits === 'ms' ? ' (time)' : ''}`;
    return `| ${label} | ${show(e)} | ${show(t)} | ${ratio} |`;
  };
  console.log('');
  console.log(`| median of ${rounds} run${rounds === 1 ? '' : 's'} | etcd | tsraft | tsraft / etcd |`);
  console.log('| --- | --- | --- | --- |');
  console.log(row('successful operations per second', (m) => m.okPerSec, 'ops'));
  for (const [label, pick] of [['get', (m: Measured) => m.getMs], ['put', (m: Measured) => m.putMs]] as const) {
    for (const [i, p] of ['p50', 'p90', 'p99'].entries()) console.log(row(`successful ${label} ${p}`, (m) => pick(m)[i] ?? 0, 'ms'));
  }
  console.log(row('elections (terms the highest term moved)', (m) => m.elections, 'count'));
  console.log(row('failed operations', (m) => m.failed, 'count'));
  console.log(row('operations of unknown outcome', (m) => m.unknown, 'count'));
  const outDir = path.join(__dirname, '..', '..', 'bench', 'out');
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, 'chaos-vs-etcd.json');
  fs.writeFileSync(out, `${JSON.stringify({ machine: machineLine(), etcd: EtcdCluster.version(), seed, seconds, rounds, clients, opTimeoutMs, faults, runs }, null, 2)}\n`);
  console.log(`\nruns written to ${out}`);
  if (runs.some((m) => m.linearizable === false)) {
    console.error('a history was not linearizable: see above');
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
