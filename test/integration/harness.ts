// Real member processes on loopback for the integration tests: free ports, a temporary directory, `node
// dist/kvstore/cli.js serve ...` per member (built by `make test` before jest runs), and polling instead of sleeping.

import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../bench/harness';
import { KvClient } from '../../kvstore/client';
import { memberProcessEnv } from '../../kvstore/defaults';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const cliPath = path.join(repoRoot, 'dist', 'kvstore', 'cli.js');

/** Test timing: short ticks so elections take a fraction of a second. */
export const tickMs = 50;
export const electionTicks = 10;
export const electionTimeoutMs = tickMs * electionTicks;

// Ports come from the benchmarks' chooser: below the kernel's ephemeral range, and never the same one twice in a
// process. Ports the kernel handed out were once handed out twice in a row, and two members of one cluster got the
// same peer port.
export { freePort };

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export interface MemberProcess {
  id: number;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  logFile: string;
  proc: ChildProcess | null;
  exited: Promise<number | null> | null;
}

/** A cluster of member processes in a temporary directory. */
export class TestCluster {
  readonly dir: string;
  readonly members = new Map<number, MemberProcess>();

  constructor(readonly extraArgs: string[] = []) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-it-'));
  }

  /** Allocates ports for members 1..n and starts them as a new cluster. */
  static async start(n: number, extraArgs: string[] = []): Promise<TestCluster> {
    const c = new TestCluster(extraArgs);
    for (let id = 1; id <= n; id++) await c.allocate(id);
    try {
      for (let id = 1; id <= n; id++) c.spawn(id, ['--initial-cluster', c.initialCluster()]);
      await c.waitHealthy([...c.members.keys()]);
    } catch (err) {
      // The test never gets the cluster to destroy: members left running would keep Jest from exiting.
      await c.destroy();
      throw err;
    }
    return c;
  }

  async allocate(id: number): Promise<MemberProcess> {
    const m: MemberProcess = {
      id,
      clientPort: await freePort(),
      peerPort: await freePort(),
      dataDir: path.join(this.dir, `node${id}`),
      logFile: path.join(this.dir, `node${id}.log`),
      proc: null,
      exited: null,
    };
    this.members.set(id, m);
    return m;
  }

  initialCluster(): string {
    return [...this.members.values()].map((m) => `${m.id}=http://127.0.0.1:${m.peerPort}`).join(',');
  }

  member(id: number): MemberProcess {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`No member ${id}`);
    return m;
  }

  url(id: number): string {
    return `http://127.0.0.1:${this.member(id).clientPort}`;
  }

  peerUrl(id: number): string {
    return `http://127.0.0.1:${this.member(id).peerPort}`;
  }

  /** A client that talks to the given members only (all running ones by default). */
  client(ids: number[] = this.running(), timeoutMs = 10_000): KvClient {
    return new KvClient(ids.map((id) => this.url(id)), { timeoutMs });
  }

  running(): number[] {
    return [...this.members.values()].filter((m) => m.proc !== null).map((m) => m.id);
  }

  /** Starts a member process; `args` adds --initial-cluster or --join for a first start. */
  spawn(id: number, args: string[] = []): MemberProcess {
    const m = this.member(id);
    const log = fs.openSync(m.logFile, 'a');
    const proc = spawn(
      process.execPath,
      [
        cliPath, 'serve', '--id', String(id), '--data-dir', m.dataDir,
        '--listen-client', `http://127.0.0.1:${m.clientPort}`, '--listen-peer', `http://127.0.0.1:${m.peerPort}`,
        '--tick-ms', String(tickMs), '--election-ticks', String(electionTicks), '--request-timeout-ms', '3000',
        ...this.extraArgs, ...args,
      ],
      { stdio: ['ignore', log, log], env: memberProcessEnv(process.env) },
    );
    fs.closeSync(log);
    m.proc = proc;
    m.exited = new Promise((resolve) => proc.once('exit', (code) => {
      m.proc = null;
      resolve(code);
    }));
    return m;
  }

  /** Stops a member: SIGTERM (clean) or SIGKILL (crash); resolves once the process is gone. */
  async stop(id: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const m = this.member(id);
    if (m.proc === null || m.exited === null) return;
    m.proc.kill(signal);
    await m.exited;
  }

  /** Waits until each member answers /health; fails at once, with the end of its log, if one has exited. */
  async waitHealthy(ids: number[], timeoutMs = 20_000): Promise<void> {
    for (const id of ids) {
      const m = this.member(id);
      const state = await waitFor(`member ${id} to become healthy`, async () => {
        if (m.exited !== null && m.proc === null) return 'exited';
        const res = await fetch(`${this.url(id)}/health`, { signal: AbortSignal.timeout(1000) });
        return res.ok ? 'healthy' : undefined;
      }, timeoutMs);
      if (state === 'exited') throw new Error(`Member ${id} exited before it became healthy; its log ends:\n${this.log(id).slice(-2000)}`);
    }
  }

  async status(id: number): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.url(id)}/status`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as Record<string, unknown>;
  }

  /** The leader's ID as a running member reports it, once one is known. */
  async leader(): Promise<number> {
    return waitFor('a leader', async () => {
      for (const id of this.running()) {
        try {
          const s = await this.status(id);
          if (typeof s.leader === 'number' && s.leader !== 0 && this.running().includes(s.leader)) return s.leader;
        } catch {
          // This member is not answering; ask another.
        }
      }
      return undefined;
    });
  }

  log(id: number): string {
    try {
      return fs.readFileSync(this.member(id).logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Kills every member and removes the directory. */
  async destroy(): Promise<void> {
    await Promise.all([...this.members.keys()].map((id) => this.stop(id, 'SIGKILL')));
    if (process.env.TSRAFT_KEEP_TEST_DIRS === undefined) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
