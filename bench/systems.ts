// # Two systems behind one interface: a three-member etcd cluster and a three-member tsraft cluster
//
// The side-by-side benchmarks (bench/vs-etcd.ts, bench/failover.ts) drive both through `Cluster`: start three
// members on loopback, each with its own data directory under one parent (so on the same disk), find the leader,
// kill -9 a member and start it again with the same command, and read, write and delete single keys through each
// system's own client API:
//
// - etcd 3.4: the v3 HTTP/JSON gateway on the client port (`POST /v3/kv/put`, `/v3/kv/range`,
//   `/v3/kv/deleterange`, keys and values base64). `serializable: true` in a range asks for a local read.
// - tsraft: `PUT`, `GET` and `DELETE /kv/:key` (docs/http-api.md); `?consistency=serializable` for a local read.
//
// Every answer is checked, not just its status: a put must be acknowledged in the system's own terms, a get must
// name the key it was asked for. A 2xx answer that says something else throws `WrongAnswer`, which the load
// generator counts apart from plain failures.
//
// Both run with the same Raft timing (100 ms heartbeat, 1 s election timeout) and with PreVote and CheckQuorum on:
// tsraft always enables both; etcd 3.4 always enables CheckQuorum and takes `--pre-vote` (off by default in 3.4).

import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { cpuMicros, freePort, request, sleep, waitFor } from './harness';
import { memberProcessEnv } from '../kvstore/defaults';

export type SystemName = 'etcd' | 'tsraft';

/** A 2xx answer whose content is not what the request called for. */
export class WrongAnswer extends Error {}

/** A non-2xx answer or no answer: the request failed (its outcome may be unknown for a write). */
export class FailedRequest extends Error {}

/** The loop's counters a tsraft member reports in `GET /status`; for etcd only the WAL fsyncs (from its metrics). */
export interface LoopCounters {
  readies: number;
  fsyncs: number;
  fsyncMicros: number;
  peerRequests: number;
  proposals: number;
  readIndexes: number;
}

const members = 3;

/** A running three-member cluster of one system. Members are numbered 0, 1, 2. */
export abstract class Cluster {
  abstract readonly system: SystemName;
  readonly clientPorts: number[] = [];
  protected readonly peerPorts: number[] = [];
  protected readonly procs: (ChildProcess | undefined)[] = [];
  /** When each member's current process was spawned (ms since the epoch). */
  readonly spawnedAt: number[] = [];

  constructor(protected readonly dir: string) {}

  /** The directory holding the members' data directories and logs. */
  get dataRoot(): string {
    return this.dir;
  }

  /** Picks ports and starts every member; resolves once a write through the leader has succeeded. */
  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    for (let i = 0; i < members; i++) {
      this.clientPorts.push(await freePort());
      this.peerPorts.push(await freePort());
    }
    for (let i = 0; i < members; i++) this.spawnMember(i);
    const agent = new http.Agent({ keepAlive: true });
    try {
      await waitFor(`${this.system} to elect a leader and take a write`, async () => {
        const leader = await this.leader();
        if (leader === undefined) return undefined;
        await this.put(agent, leader, 'bench-ready', Buffer.from('1'), 2_000);
        return true;
      }, 60_000);
    } finally {
      agent.destroy();
    }
  }

  /** The index of the member the cluster's members agree leads now, if any. */
  abstract leader(): Promise<number | undefined>;

  /** Puts `value` at `key` through member `i`. */
  abstract put(agent: http.Agent, i: number, key: string, value: Buffer, timeoutMs?: number): Promise<void>;
  /** Reads `key` through member `i`; undefined when the key does not exist. */
  abstract get(agent: http.Agent, i: number, key: string, serializable: boolean, timeoutMs?: number): Promise<Buffer | undefined>;
  /** Deletes `key` through member `i`; whether it existed. */
  abstract del(agent: http.Agent, i: number, key: string, timeoutMs?: number): Promise<boolean>;
  /** The counters of member `i`'s loop (for etcd, its WAL fsyncs only). */
  abstract counters(i: number): Promise<LoopCounters>;

  protected abstract command(i: number): { file: string; args: string[] };

  /** Process IDs of the members, for CPU and memory figures. */
  pids(): (number | undefined)[] {
    return this.procs.map((p) => (p === undefined || p.exitCode !== null || p.signalCode !== null ? undefined : p.pid));
  }

  /** CPU time (user + system) the running members have used, in microseconds. */
  cpuMicros(): number {
    return this.pids().reduce<number>((sum, pid) => sum + cpuMicros(pid), 0);
  }

  /** Starts member `i` with its usual command (a first start, or a restart from its data directory). */
  spawnMember(i: number): void {
    const { file, args } = this.command(i);
    const log = fs.openSync(path.join(this.dir, `member${i}.log`), 'a');
    this.spawnedAt[i] = Date.now();
    this.procs[i] = spawn(file, args, { stdio: ['ignore', log, log], env: memberProcessEnv(process.env) });
    fs.closeSync(log);
  }

  /** kill -9 member `i` and wait until it has exited. */
  async kill(i: number): Promise<void> {
    const p = this.procs[i];
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await exited;
  }

  /** Sends `signal` to member `i` if it runs (SIGSTOP and SIGCONT pause and resume it). */
  signal(i: number, signal: NodeJS.Signals): void {
    const p = this.procs[i];
    if (p !== undefined && p.exitCode === null && p.signalCode === null) p.kill(signal);
  }

  /** Kills every member and removes the data directories (unless `keep`). */
  async stop(keep = false): Promise<void> {
    for (let i = 0; i < this.procs.length; i++) await this.kill(i);
    await sleep(50);
    if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** etcd 3.4 members, the Debian package's binary. */
export class EtcdCluster extends Cluster {
  readonly system = 'etcd';
  /** etcd's member IDs (decimal strings), by member index, learned from the member list. */
  private ids: string[] = [];

  /** `extraArgs` go to each `etcd` after the benchmark's own flags. */
  constructor(
    dir: string,
    private readonly extraArgs: string[] = [],
  ) {
    super(dir);
  }

  /** The etcd binary, or undefined if it is not installed. */
  static binary(): string | undefined {
    const found = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
    const file = found.stdout.trim();
    return found.status === 0 && file !== '' ? file : undefined;
  }

  /** `etcd --version`'s first line. */
  static version(): string {
    const v = spawnSync(EtcdCluster.binary() ?? 'etcd', ['--version'], { encoding: 'utf8' });
    return (v.stdout.split('\n')[0] ?? '').trim();
  }

  protected command(i: number): { file: string; args: string[] } {
    const cluster = this.peerPorts.map((p, j) => `m${j}=http://127.0.0.1:${p}`).join(',');
    const client = `http://127.0.0.1:${this.clientPorts[i]}`;
    const peer = `http://127.0.0.1:${this.peerPorts[i]}`;
    return {
      file: EtcdCluster.binary() ?? 'etcd',
      args: [
        '--name', `m${i}`, '--data-dir', path.join(this.dir, `m${i}`),
        '--listen-client-urls', client, '--advertise-client-urls', client,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
        '--initial-cluster', cluster, '--initial-cluster-state', 'new',
        '--heartbeat-interval', '100', '--election-timeout', '1000', '--pre-vote',
        '--logger', 'zap', '--log-level', 'warn', ...this.extraArgs,
      ],
    };
  }

  async leader(): Promise<number | undefined> {
    const agent = new http.Agent({ keepAlive: false });
    if (this.ids.length < members) {
      for (let i = 0; i < members && this.ids.length < members; i++) {
        try {
          const list = await this.call(agent, i, '/v3/cluster/member/list', {}, 1_000);
          const found: string[] = [];
          for (const m of arrayField(list, 'members')) {
            const urls = arrayField(m, 'clientURLs');
            const port = Number(new URL(String(urls[0] ?? 'http://x:0')).port);
            const idx = this.clientPorts.indexOf(port);
            if (idx >= 0) found[idx] = String(field(m, 'ID'));
          }
          if (found.filter((x) => x !== undefined).length === members) this.ids = found;
        } catch {
          // Try the next member.
        }
      }
      if (this.ids.length < members) return undefined;
    }
    // The leader as the live members see it, if a majority of those that answer agree.
    const seen: string[] = [];
    for (let i = 0; i < members; i++) {
      if (this.pids()[i] === undefined) continue;
      try {
        const status = await this.call(agent, i, '/v3/maintenance/status', {}, 1_000);
        seen.push(String(field(status, 'leader') ?? '0'));
      } catch {
        // Down or busy.
      }
    }
    const lead = seen.find((l) => l !== '0' && seen.filter((x) => x === l).length >= 2);
    const idx = lead === undefined ? -1 : this.ids.indexOf(lead);
    return idx >= 0 && this.pids()[idx] !== undefined ? idx : undefined;
  }

  async put(agent: http.Agent, i: number, key: string, value: Buffer, timeoutMs = 10_000): Promise<void> {
    const reply = await this.call(agent, i, '/v3/kv/put', { key: b64(key), value: value.toString('base64') }, timeoutMs);
    if (field(field(reply, 'header'), 'revision') === undefined) throw new WrongAnswer(`etcd put answered without a revision: ${JSON.stringify(reply)}`);
  }

  async get(agent: http.Agent, i: number, key: string, serializable: boolean, timeoutMs = 10_000): Promise<Buffer | undefined> {
    const reply = await this.call(agent, i, '/v3/kv/range', serializable ? { key: b64(key), serializable: true } : { key: b64(key) }, timeoutMs);
    if (field(field(reply, 'header'), 'revision') === undefined) throw new WrongAnswer(`etcd range answered without a header: ${JSON.stringify(reply)}`);
    const kvs = arrayField(reply, 'kvs');
    if (kvs.length === 0) return undefined;
    if (kvs.length !== 1 || field(kvs[0], 'key') !== b64(key)) throw new WrongAnswer(`etcd range for ${key} answered ${JSON.stringify(kvs)}`);
    const value = field(kvs[0], 'value');
    return Buffer.from(typeof value === 'string' ? value : '', 'base64');
  }

  async del(agent: http.Agent, i: number, key: string, timeoutMs = 10_000): Promise<boolean> {
    const reply = await this.call(agent, i, '/v3/kv/deleterange', { key: b64(key) }, timeoutMs);
    if (field(field(reply, 'header'), 'revision') === undefined) throw new WrongAnswer(`etcd deleterange answered without a header: ${JSON.stringify(reply)}`);
    const deleted = String(field(reply, 'deleted') ?? '0');
    if (deleted !== '0' && deleted !== '1') throw new WrongAnswer(`etcd deleterange for one key deleted ${deleted}`);
    return deleted === '1';
  }

  /** etcd has no Ready counters; its WAL fsyncs and the time spent in them come from its Prometheus metrics. */
  async counters(i: number): Promise<LoopCounters> {
    const reply = await request(new http.Agent({ keepAlive: false }), this.clientPorts[i] ?? 0, 'GET', '/metrics', undefined, 2_000);
    const text = reply.body.toString('utf8');
    const metric = (name: string): number => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? '0');
    return {
      readies: 0,
      fsyncs: metric('etcd_disk_wal_fsync_duration_seconds_count'),
      fsyncMicros: metric('etcd_disk_wal_fsync_duration_seconds_sum') * 1e6,
      peerRequests: 0,
      proposals: 0,
      readIndexes: 0,
    };
  }

  private async call(agent: http.Agent, i: number, urlPath: string, body: object, timeoutMs: number): Promise<unknown> {
    const reply = await request(agent, this.clientPorts[i] ?? 0, 'POST', urlPath, Buffer.from(JSON.stringify(body)), timeoutMs);
    if (reply.status !== 200) throw new FailedRequest(`etcd ${urlPath} answered ${reply.status}: ${reply.body.toString('utf8').slice(0, 200)}`);
    try {
      return JSON.parse(reply.body.toString('utf8')) as unknown;
    } catch {
      throw new WrongAnswer(`etcd ${urlPath} answered 200 with a body that is not JSON`);
    }
  }
}

/** tsraft members: `node dist/kvstore/cli.js serve`, default timing. */
export class TsraftCluster extends Cluster {
  readonly system = 'tsraft';

  /** `extraArgs` go to `tsraft serve`, `nodeArgs` to Node itself (V8 flags, for instance). */
  constructor(
    dir: string,
    private readonly extraArgs: string[] = [],
    private readonly nodeArgs: string[] = [],
  ) {
    super(dir);
  }

  protected command(i: number): { file: string; args: string[] } {
    const cluster = this.peerPorts.map((p, j) => `${j + 1}=http://127.0.0.1:${p}`).join(',');
    return {
      file: process.execPath,
      args: [
        ...this.nodeArgs,
        path.join(__dirname, '..', 'kvstore', 'cli.js'), 'serve', '--id', String(i + 1), '--data-dir', path.join(this.dir, `m${i}`),
        '--listen-client', `http://127.0.0.1:${this.clientPorts[i]}`, '--listen-peer', `http://127.0.0.1:${this.peerPorts[i]}`,
        '--initial-cluster', cluster, '--log-level', 'warning', ...this.extraArgs,
      ],
    };
  }

  async leader(): Promise<number | undefined> {
    const agent = new http.Agent({ keepAlive: false });
    const seen: number[] = [];
    for (let i = 0; i < members; i++) {
      if (this.pids()[i] === undefined) continue;
      try {
        seen.push(Number(field(await this.status(agent, i), 'leader') ?? 0));
      } catch {
        // Down or busy.
      }
    }
    const lead = seen.find((l) => l !== 0 && seen.filter((x) => x === l).length >= 2);
    return lead !== undefined && this.pids()[lead - 1] !== undefined ? lead - 1 : undefined;
  }

  async put(agent: http.Agent, i: number, key: string, value: Buffer, timeoutMs = 10_000): Promise<void> {
    const reply = await request(agent, this.clientPorts[i] ?? 0, 'PUT', `/kv/${encodeURIComponent(key)}`, value, timeoutMs);
    if (reply.status !== 200 && reply.status !== 201) throw new FailedRequest(`tsraft put answered ${reply.status}: ${reply.body.toString('utf8').slice(0, 200)}`);
    const body = parse(reply.body);
    if (field(body, 'key') !== key || typeof field(body, 'created') !== 'boolean') throw new WrongAnswer(`tsraft put of ${key} answered ${reply.body.toString('utf8')}`);
  }

  async get(agent: http.Agent, i: number, key: string, serializable: boolean, timeoutMs = 10_000): Promise<Buffer | undefined> {
    const reply = await request(agent, this.clientPorts[i] ?? 0, 'GET', `/kv/${encodeURIComponent(key)}${serializable ? '?consistency=serializable' : ''}`, undefined, timeoutMs);
    if (reply.status === 200) return reply.body;
    if (reply.status === 404 && field(field(parse(reply.body), 'error'), 'code') === 'KeyNotFound') return undefined;
    throw new FailedRequest(`tsraft get answered ${reply.status}: ${reply.body.toString('utf8').slice(0, 200)}`);
  }

  async del(agent: http.Agent, i: number, key: string, timeoutMs = 10_000): Promise<boolean> {
    const reply = await request(agent, this.clientPorts[i] ?? 0, 'DELETE', `/kv/${encodeURIComponent(key)}`, undefined, timeoutMs);
    if (reply.status === 200) {
      if (field(parse(reply.body), 'deleted') !== true) throw new WrongAnswer(`tsraft delete of ${key} answered ${reply.body.toString('utf8')}`);
      return true;
    }
    if (reply.status === 404 && field(field(parse(reply.body), 'error'), 'code') === 'KeyNotFound') return false;
    throw new FailedRequest(`tsraft delete answered ${reply.status}: ${reply.body.toString('utf8').slice(0, 200)}`);
  }

  async counters(i: number): Promise<LoopCounters> {
    const c = field(await this.status(new http.Agent({ keepAlive: false }), i), 'counters');
    const num = (name: string): number => {
      const v = field(c, name);
      return typeof v === 'number' ? v : 0;
    };
    return {
      readies: num('readies'),
      fsyncs: num('fsyncs'),
      fsyncMicros: num('fsyncMicros'),
      peerRequests: num('peerRequests'),
      proposals: num('proposals'),
      readIndexes: num('readIndexes'),
    };
  }

  /** Member `i`'s `GET /status`. */
  async status(agent: http.Agent, i: number): Promise<unknown> {
    const reply = await request(agent, this.clientPorts[i] ?? 0, 'GET', '/status', undefined, 1_000);
    if (reply.status !== 200) throw new FailedRequest(`tsraft status answered ${reply.status}`);
    return parse(reply.body);
  }
}

/** Settings a benchmark may give both systems alike. */
export interface ClusterOptions {
  /** Applied entries between snapshots (both systems call the flag `--snapshot-count`); each system's default if absent. */
  snapshotCount?: number;
}

/** A cluster of `system` in `dir` (not started). */
export function clusterOf(system: SystemName, dir: string, options: ClusterOptions = {}): Cluster {
  const args = options.snapshotCount === undefined ? [] : ['--snapshot-count', String(options.snapshotCount)];
  return system === 'etcd' ? new EtcdCluster(dir, args) : new TsraftCluster(dir, args);
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function parse(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function field(obj: unknown, name: string): unknown {
  return typeof obj === 'object' && obj !== null ? Reflect.get(obj, name) : undefined;
}

function arrayField(obj: unknown, name: string): unknown[] {
  const v = field(obj, name);
  return Array.isArray(v) ? (v as unknown[]) : [];
}
