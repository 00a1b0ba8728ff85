// # The load generator: closed-loop clients against a `Cluster`
//
// C clients each send one request, wait for its answer, and send the next, for a fixed time. Every client keeps
// its connections alive (one keep-alive agent per member). A request goes either to the leader (found before the
// row starts) or to a member chosen at random for each request, as a client that does not know the leader would.
//
// Answers are checked as well as counted:
// - puts: each client cycles over its own keys with values that name the client and the iteration; after the row
//   a linearizable read of the key each client wrote last must return the last value it wrote;
// - gets: the keys read were written beforehand with values derived from the key, and every answer must be that
//   value;
// - the mixed workload (linearizable gets, puts and deletes over 6 shared keys): every get must return "not found"
//   or a value some client has put to that key. Values are unique, so a value that was never written, or written
//   to another key, is caught.
// A wrong answer is counted apart from failures (timeouts, 5xx); both should be zero in a run without faults.

import http from 'node:http';
import { Cluster, WrongAnswer } from './systems';
import { percentile, sleep } from './harness';

export type Operation = 'put' | 'get' | 'get-serializable' | 'mixed';

/** One row of a benchmark: what each client does and where it sends it. */
export interface Workload {
  label: string;
  op: Operation;
  clients: number;
  /** `leader`: every request to the leader; `random`: each request to a member chosen at random. */
  target: 'leader' | 'random';
}

/** What one run of a workload measured. */
export interface LoadResult {
  ops: number;
  failures: number;
  wrong: number;
  /** The first wrong answer, for the report. */
  firstWrong?: string;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time (user + system) the members spent per operation, in microseconds. */
  memberCpuUsPerOp: number;
  /** CPU time this load generator spent per operation. */
  clientCpuUsPerOp: number;
}

export const valueBytes = 256;
const readKeys = 100;
const putKeysPerClient = 64;
const mixedKeys = 6;

/** A value of exactly `valueBytes` bytes that starts with `tag` (tags are short). */
export function valueFor(tag: string): Buffer {
  const v = Buffer.alloc(valueBytes, '.');
  v.write(`${tag}|`, 0, 'utf8');
  return v;
}

/** Writes what the get workloads read. Call once per fresh cluster, before `runLoad`. */
export async function prepare(cluster: Cluster, leader: number, op: Operation): Promise<void> {
  if (op !== 'get' && op !== 'get-serializable') return;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const keys = Array.from({ length: readKeys }, (_, i) => i);
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(keys.slice(i, i + 16).map((k) => cluster.put(agent, leader, `read-${k}`, valueFor(`read-${k}`))));
    }
  } finally {
    agent.destroy();
  }
}

/** Runs `w` against `cluster` for `seconds` and checks every answer. */
export async function runLoad(cluster: Cluster, leader: number, w: Workload, seconds: number): Promise<LoadResult> {
  const agents = cluster.clientPorts.map(() => new http.Agent({ keepAlive: true, maxSockets: w.clients }));
  const latencies: number[] = [];
  let failures = 0;
  let wrong = 0;
  let firstWrong: string | undefined;
  const lastPut = new Map<number, { key: string; value: Buffer }>();
  const mixedWritten = new Map<string, Set<string>>();
  const members = cluster.clientPorts.length;
  // Keys of the mixed workload are new in every run, so values left by an earlier run (the warm-up) cannot be
  // mistaken for values this run never wrote.
  const run = Math.random().toString(36).slice(2, 8);
  const pick = (): number => (w.target === 'leader' ? leader : Math.floor(Math.random() * members));

  const one = async (client: number, i: number): Promise<void> => {
    const m = pick();
    const agent = agents[m] ?? new http.Agent();
    switch (w.op) {
      case 'put': {
        const key = `put-${client}-${i % putKeysPerClient}`;
        const value = valueFor(`${client}:${i}`);
        await cluster.put(agent, m, key, value);
        lastPut.set(client, { key, value });
        return;
      }
      case 'get':
      case 'get-serializable': {
        const key = `read-${(client * 7 + i) % readKeys}`;
        const got = await cluster.get(agent, m, key, w.op === 'get-serializable');
        if (got === undefined || !got.equals(valueFor(key))) throw new WrongAnswer(`get ${key} answered ${got === undefined ? 'not found' : got.toString('utf8', 0, 24)}`);
        return;
      }
      case 'mixed': {
        const key = `mixed-${run}-${Math.floor(Math.random() * mixedKeys)}`;
        const dice = Math.random();
        if (dice < 0.5) {
          const got = await cluster.get(agent, m, key, false);
          const tag = got?.toString('utf8', 0, got.indexOf('|'));
          if (got !== undefined && (tag === undefined || !(mixedWritten.get(key)?.has(tag) ?? false))) {
            throw new WrongAnswer(`get ${key} answered a value never put there: ${got.toString('utf8', 0, 24)}`);
          }
        } else if (dice < 0.9) {
          const tag = `${client}:${i}`;
          let written = mixedWritten.get(key);
          if (written === undefined) mixedWritten.set(key, (written = new Set()));
          // Recorded before sending: a get may see a put before its answer arrives.
          written.add(tag);
          await cluster.put(agent, m, key, valueFor(tag));
        } else {
          await cluster.del(agent, m, key);
        }
        return;
      }
    }
  };

  const cpuBefore = cluster.cpuMicros();
  const clientCpuBefore = process.cpuUsage();
  const started = Date.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: w.clients }, async (_, client) => {
      for (let i = 0; Date.now() < end; i++) {
        const t0 = process.hrtime.bigint();
        try {
          await one(client, i);
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        } catch (err) {
          if (err instanceof WrongAnswer) {
            wrong++;
            firstWrong ??= err.message;
          } else {
            failures++;
            await sleep(10);
          }
        }
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  const memberCpu = cluster.cpuMicros() - cpuBefore;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  for (const a of agents) a.destroy();

  // The last value each client put must be what a linearizable read returns now.
  if (w.op === 'put') {
    const agent = new http.Agent({ keepAlive: true });
    for (const { key, value } of lastPut.values()) {
      try {
        const got = await cluster.get(agent, leader, key, false);
        if (got === undefined || !got.equals(value)) {
          wrong++;
          firstWrong ??= `after the row, ${key} read ${got === undefined ? 'not found' : got.toString('utf8', 0, 24)}, not the last value put`;
        }
      } catch {
        failures++;
      }
    }
    agent.destroy();
  }

  latencies.sort((a, b) => a - b);
  const ops = latencies.length;
  return {
    ops,
    failures,
    wrong,
    ...(firstWrong === undefined ? {} : { firstWrong }),
    opsPerSec: Math.round(ops / elapsed),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    memberCpuUsPerOp: ops === 0 ? 0 : Math.round(memberCpu / ops),
    clientCpuUsPerOp: ops === 0 ? 0 : Math.round((clientCpu.user + clientCpu.system) / ops),
  };
}
