// # End-to-end benchmark: a local three-member cluster over HTTP
//
// Starts three `tsraft serve` processes on loopback (fresh temporary data directories, default timing), then for
// each concurrency C in 1, 16, 64, 256 runs C clients that each put 256-byte values back to back for a fixed time,
// then the same with linearizable and with serializable gets. Prints ops/s, p50 and p99 per row, and writes the
// rows as JSON to bench/out/e2e.json.
//
// Reference (etcd 3.4 on its documented hardware): ~700 puts/s at 1 client (p50 1.3 ms), 5,700 puts/s at 64
// (p99 23 ms), 7,300 at 256, 7,500 linearizable gets/s at 64. Those machines had dedicated cores; here the three
// members and the load generator share what the machine has.
//
// Beside each row it prints the CPU time the members used per operation (from /proc, so Linux only; a shared
// machine makes wall-clock rates noisy, CPU per operation much less so) and what the leader's loop did meanwhile
// (from its `GET /status` counters): Readys, fsyncs and peer requests per second. Far fewer of them than operations means the loop batches.
//
// The -any rows (put-any, get-any) send each request to a member chosen at random rather than to the leader (puts) or
// to one member per client (gets): what a client that does not know the leader sees.
//
//   node dist/bench/e2e.js [--seconds 3] [--clients 1,16,64,256]
//                          [--ops put,put-any,get-linearizable,get-any,get-serializable]
//                          [--cpu-prof DIR]
//
// `--cpu-prof DIR` runs the members under `node --cpu-prof` and stops them with SIGTERM, so each writes a
// .cpuprofile into DIR (open it in Chrome's DevTools, or summarise it by self time).

import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { argValue as sharedArgValue, checkArgs, cpuMicros, freePort, percentile, request as sharedRequest, waitFor } from './harness';
import { memberProcessEnv } from '../kvstore/defaults';

interface Row {
  op: 'put' | 'put-any' | 'get-linearizable' | 'get-any' | 'get-serializable';
  clients: number;
  ops: number;
  errors: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** The leader's loop during the row, per second. */
  readiesPerSec: number;
  fsyncsPerSec: number;
  /** The leader's mean wait for one fsync, in milliseconds. */
  fsyncMs: number;
  peerRequestsPerSec: number;
  /** CPU time (user + system) the three members spent per operation: steadier than wall-clock on a shared machine. */
  memberCpuUsPerOp: number;
  /** CPU time this load generator spent per operation; it shares the cores, so it must stay well below the members'. */
  clientCpuUsPerOp: number;
}

interface Counters {
  readies: number;
  fsyncs: number;
  fsyncMicros: number;
  peerRequests: number;
}

const args = process.argv.slice(2);
checkArgs(
  args,
  'node dist/bench/e2e.js [--seconds 3] [--clients 1,16,64,256] [--ops put,put-any,get-linearizable,get-any,get-serializable] [--cpu-prof DIR]',
  ['--seconds', '--clients', '--ops', '--cpu-prof'],
  { numeric: ['--seconds'] },
);
const seconds = Number(argValue('--seconds') ?? '3');
const clientCounts = (argValue('--clients') ?? '1,16,64,256').split(',').map(Number);
const valueBytes = 256;
const readKeys = 100;
const ops = (argValue('--ops') ?? 'put,put-any,get-linearizable,get-any,get-serializable').split(',');
const cpuProfDir = argValue('--cpu-prof');
const cli = path.join(__dirname, '..', 'kvstore', 'cli.js');

function argValue(name: string): string | undefined {
  return sharedArgValue(args, name);
}

async function request(agent: http.Agent, port: number, method: string, urlPath: string, body?: Buffer): Promise<{ status: number; body: string }> {
  const reply = await sharedRequest(agent, port, method, urlPath, body);
  return { status: reply.status, body: reply.body.toString('utf8') };
}

let memberPids: (number | undefined)[] = [];
const membersCpu = (): number => memberPids.reduce<number>((sum, pid) => sum + cpuMicros(pid), 0);

async function leaderCounters(port: number): Promise<Counters> {
  const reply = await request(new http.Agent({ keepAlive: false }), port, 'GET', '/status');
  const c: unknown = Reflect.get(JSON.parse(reply.body) as object, 'counters');
  const num = (name: string): number => {
    const v: unknown = typeof c === 'object' && c !== null ? Reflect.get(c, name) : undefined;
    return typeof v === 'number' ? v : 0;
  };
  return { readies: num('readies'), fsyncs: num('fsyncs'), fsyncMicros: num('fsyncMicros'), peerRequests: num('peerRequests') };
}

// C workers issue requests back to back for `seconds`; each latency is recorded.
async function run(op: Row['op'], clients: number, ports: number[], keys: number): Promise<Row> {
  const before = await leaderCounters(ports[0] ?? 0);
  const cpuBefore = membersCpu();
  const clientCpuBefore = process.cpuUsage();
  const agents = ports.map(() => new http.Agent({ keepAlive: true, maxSockets: clients }));
  const value = Buffer.alloc(valueBytes, 'x');
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const worker = async (w: number): Promise<void> => {
    // Puts go to the leader (ports[0]); gets are spread over every member, one member per client; the -any rows
    // send each request to a member chosen at random, as a client that does not know the leader would.
    const fixed = op === 'put' ? 0 : w % ports.length;
    for (let i = 0; Date.now() < end; i++) {
      const target = op === 'put-any' || op === 'get-any' ? Math.floor(Math.random() * ports.length) : fixed;
      const port = ports[target] ?? 0;
      const agent = agents[target] ?? new http.Agent();
      const key = `bench-${w}-${i % keys}`;
      const started = process.hrtime.bigint();
      const reply =
        op === 'put' || op === 'put-any'
          ? await request(agent, port, 'PUT', `/kv/${key}`, value)
          : await request(agent, port, 'GET', `/kv/bench-read-${i % readKeys}${op === 'get-serializable' ? '?consistency=serializable' : ''}`);
      if (reply.status >= 300) errors++;
      else latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
  const elapsed = (Date.now() - started) / 1000;
  for (const a of agents) a.destroy();
  const cpuUsed = membersCpu() - cpuBefore;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const after = await leaderCounters(ports[0] ?? 0);
  const rate = (n: number): number => Math.round(n / elapsed);
  latencies.sort((a, b) => a - b);
  return {
    op,
    clients,
    ops: latencies.length,
    errors,
    opsPerSec: Math.round(latencies.length / elapsed),
    p50Ms: Number(percentile(latencies, 50).toFixed(2)),
    p99Ms: Number(percentile(latencies, 99).toFixed(2)),
    readiesPerSec: rate(after.readies - before.readies),
    fsyncsPerSec: rate(after.fsyncs - before.fsyncs),
    fsyncMs: after.fsyncs === before.fsyncs ? 0 : Number(((after.fsyncMicros - before.fsyncMicros) / (after.fsyncs - before.fsyncs) / 1000).toFixed(2)),
    peerRequestsPerSec: rate(after.peerRequests - before.peerRequests),
    memberCpuUsPerOp: latencies.length === 0 ? 0 : Math.round(cpuUsed / latencies.length),
    clientCpuUsPerOp: latencies.length === 0 ? 0 : Math.round((clientCpu.user + clientCpu.system) / latencies.length),
  };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-bench-'));
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    clientPorts.push(await freePort());
    peerPorts.push(await freePort());
  }
  const initial = peerPorts.map((p, i) => `${i + 1}=http://127.0.0.1:${p}`).join(',');
  const procs: ChildProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const log = fs.openSync(path.join(dir, `node${i + 1}.log`), 'w');
    procs.push(
      spawn(process.execPath, [
        ...(cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir, '--cpu-prof-name', `node${i + 1}.cpuprofile`]),
        cli, 'serve', '--id', String(i + 1), '--data-dir', path.join(dir, `node${i + 1}`),
        '--listen-client', `http://127.0.0.1:${clientPorts[i]}`, '--listen-peer', `http://127.0.0.1:${peerPorts[i]}`,
        '--initial-cluster', initial, '--log-level', 'warning',
      ], { stdio: ['ignore', log, log], env: memberProcessEnv(process.env) }),
    );
    fs.closeSync(log);
  }
  memberPids = procs.map((p) => p.pid);
  try {
    const probe = new http.Agent({ keepAlive: false });
    const leader = await waitFor('a leader', async () => {
      const reply = await request(probe, clientPorts[0] ?? 0, 'GET', '/status');
      const lead = (JSON.parse(reply.body) as { leader: number }).leader;
      return lead > 0 ? lead : undefined;
    });
    // Leader first, so puts target it.
    const ports = [clientPorts[leader - 1] ?? 0, ...clientPorts.filter((_, i) => i !== leader - 1)];
    console.log(`cluster up in ${dir}, leader is member ${leader}; ${seconds} s per row, ${valueBytes}-byte values`);
    const rows: Row[] = [];
    const print = (r: Row): void => {
      rows.push(r);
      console.log(`${r.op.padEnd(17)} clients ${String(r.clients).padStart(3)}  ${String(r.opsPerSec).padStart(6)} ops/s  p50 ${r.p50Ms.toFixed(2).padStart(7)} ms  p99 ${r.p99Ms.toFixed(2).padStart(7)} ms  errors ${r.errors}  cpu/op ${r.memberCpuUsPerOp} us (bench ${r.clientCpuUsPerOp} us)  leader: ${r.readiesPerSec} readies/s ${r.fsyncsPerSec} fsyncs/s (${r.fsyncMs} ms) ${r.peerRequestsPerSec} peer requests/s`);
    };
    if (ops.includes('put')) for (const c of clientCounts) print(await run('put', c, ports, 1000));
    if (ops.includes('put-any')) for (const c of clientCounts) print(await run('put-any', c, ports, 1000));
    // Gets read keys that certainly exist.
    const agent = new http.Agent({ keepAlive: true });
    for (let i = 0; i < readKeys; i++) await request(agent, ports[0] ?? 0, 'PUT', `/kv/bench-read-${i}`, Buffer.alloc(valueBytes, 'r'));
    agent.destroy();
    if (ops.includes('get-linearizable')) for (const c of clientCounts) print(await run('get-linearizable', c, ports, 1000));
    if (ops.includes('get-any')) for (const c of clientCounts) print(await run('get-any', c, ports, 1000));
    if (ops.includes('get-serializable')) for (const c of clientCounts) print(await run('get-serializable', c, ports, 1000));
    const outDir = path.join(__dirname, '..', '..', 'bench', 'out');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'e2e.json'), `${JSON.stringify({ seconds, valueBytes, rows }, null, 2)}\n`);
    console.log(`rows written to ${path.join(outDir, 'e2e.json')}`);
  } finally {
    if (cpuProfDir !== undefined) {
      // A profile is written when the process exits normally; SIGTERM makes a member stop cleanly and exit.
      await Promise.all(procs.map((p) => new Promise((resolve) => {
        p.once('exit', resolve);
        p.kill('SIGTERM');
      })));
    }
    for (const p of procs) p.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
