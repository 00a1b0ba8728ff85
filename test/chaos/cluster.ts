// # A cluster of real member processes behind proxies
//
// Each member is `node <dist>/kvstore/cli.js serve ...`, listening for peers on a private port and advertising the
// port of its proxy (test/chaos/proxy.ts), so every peer link runs through a proxy whose faults the nemesis
// controls. `dist` is the compiled tree to run: the project's own, or a mutated copy (test/chaos/mutants.ts).

import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitFor } from '../integration/harness';
import { memberProcessEnv } from '../../kvstore/defaults';
import { Links, PeerProxy } from './proxy';

// Every member process still alive, killed when the harness exits (even on a signal: see run.ts), so a stopped
// run leaves no members behind.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
});

/** One member: its ports, directory and process. */
export interface ChaosMember {
  id: number;
  clientPort: number;
  /** The port the member listens on for peers (behind the proxy). */
  listenPeerPort: number;
  /** The port of the proxy in front of it: its advertised peer URL. */
  proxyPort: number;
  proxy: PeerProxy;
  dataDir: string;
  logFile: string;
  proc: ChildProcess | null;
  exited: Promise<number | null> | null;
  paused: boolean;
  /** Set when the harness stops or kills it, so an exit is not counted as a failure. */
  expectExit: boolean;
  /** Removed from the cluster through the API: it stops itself and is never started again. */
  removed: boolean;
}

/** Timing and placement of a cluster. */
export interface ClusterOptions {
  dir: string;
  /** The compiled tree holding kvstore/cli.js. */
  distDir: string;
  tickMs: number;
  electionTicks: number;
  requestTimeoutMs: number;
  snapshotCount: number;
  /** Extra environment for a member's process (e.g. the fault layer's switch, which names its data directory). */
  memberEnv?: ((m: ChaosMember) => Record<string, string>) | undefined;
  log(line: string): void;
}

/** Real members, their proxies and the link table. */
export class ChaosCluster {
  readonly members = new Map<number, ChaosMember>();
  /** Members that exited on their own with a non-zero status, or did not come back after a restart. */
  readonly failures: string[] = [];

  constructor(
    readonly opts: ClusterOptions,
    readonly links: Links,
  ) {}

  /** Allocates ports and a proxy for member `id`. */
  async allocate(id: number): Promise<ChaosMember> {
    const listenPeerPort = await freePort();
    const proxy = new PeerProxy(id, listenPeerPort, this.links);
    const proxyPort = await proxy.listen(await freePort());
    const m: ChaosMember = {
      id,
      clientPort: await freePort(),
      listenPeerPort,
      proxyPort,
      proxy,
      dataDir: path.join(this.opts.dir, `member${id}`),
      logFile: path.join(this.opts.dir, `member${id}.log`),
      proc: null,
      exited: null,
      paused: false,
      expectExit: false,
      removed: false,
    };
    this.members.set(id, m);
    return m;
  }

  /** Starts members 1..n as a new cluster and waits for a leader. */
  async bootstrap(n: number): Promise<void> {
    for (let id = 1; id <= n; id++) await this.allocate(id);
    const initial = [...this.members.values()].map((m) => `${m.id}=${this.peerURL(m.id)}`).join(',');
    for (const m of this.members.values()) this.spawn(m.id, ['--initial-cluster', initial]);
    await this.waitHealthy([...this.members.keys()], 60_000);
  }

  member(id: number): ChaosMember {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`No member ${id}`);
    return m;
  }

  clientURL(id: number): string {
    return `http://127.0.0.1:${this.member(id).clientPort}`;
  }

  peerURL(id: number): string {
    return `http://127.0.0.1:${this.member(id).proxyPort}`;
  }

  /** Members that are part of the cluster (not removed), running or not. */
  current(): number[] {
    return [...this.members.values()].filter((m) => !m.removed).map((m) => m.id);
  }

  running(): number[] {
    return [...this.members.values()].filter((m) => m.proc !== null && !m.removed).map((m) => m.id);
  }

  /** Starts a member process; `args` adds --initial-cluster or --join for a first start. */
  spawn(id: number, args: string[] = []): void {
    const m = this.member(id);
    if (m.proc !== null) return;
    // Peers that dial before the proxy listens again are refused, as they would be by a process still starting.
    m.proxy.reopen().catch((err: unknown) => this.failures.push(`the proxy of member ${id} could not listen again: ${err instanceof Error ? err.message : String(err)}`));
    const log = fs.openSync(m.logFile, 'a');
    const proc = spawn(
      process.execPath,
      [
        path.join(this.opts.distDir, 'kvstore', 'cli.js'), 'serve', '--id', String(id), '--data-dir', m.dataDir,
        '--listen-client', this.clientURL(id),
        '--listen-peer', `http://127.0.0.1:${m.listenPeerPort}`, '--advertise-peer', this.peerURL(id),
        '--tick-ms', String(this.opts.tickMs), '--election-ticks', String(this.opts.electionTicks),
        '--request-timeout-ms', String(this.opts.requestTimeoutMs), '--snapshot-count', String(this.opts.snapshotCount),
        '--snapshot-catchup', String(Math.max(1, Math.floor(this.opts.snapshotCount / 2))),
        ...args,
      ],
      { stdio: ['ignore', log, log], env: memberProcessEnv(process.env, this.opts.memberEnv?.(m)) },
    );
    fs.closeSync(log);
    m.proc = proc;
    live.add(proc);
    m.paused = false;
    m.expectExit = false;
    m.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        live.delete(proc);
        m.proc = null;
        m.paused = false;
        void m.proxy.refuse();
        // A removed member stops itself with status 0; anything else not caused by the harness is a failure.
        if (!m.expectExit && !(code === 0 && m.removed) && !(code === 0 && this.removedInLog(m))) {
          this.failures.push(`member ${id} exited on its own (${signal ?? `status ${String(code)}`}); see ${m.logFile}`);
        }
        resolve(code);
      }),
    );
  }

  /** Kills (SIGKILL) or stops (SIGTERM) a member; resolves once it is gone. */
  async stop(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.member(id);
    if (m.proc === null || m.exited === null) return;
    m.expectExit = true;
    if (m.paused) m.proc.kill('SIGCONT');
    m.proc.kill(signal);
    await m.exited;
    m.proxy.resetAll();
  }

  pause(id: number): void {
    const m = this.member(id);
    if (m.proc === null || m.paused) return;
    m.proc.kill('SIGSTOP');
    m.paused = true;
  }

  resume(id: number): void {
    const m = this.member(id);
    if (m.proc === null || !m.paused) return;
    m.proc.kill('SIGCONT');
    m.paused = false;
  }

  /** Restarts a stopped member and counts a failure if it does not serve within `timeoutMs`. */
  async restart(id: number, timeoutMs = 60_000): Promise<boolean> {
    const m = this.member(id);
    if (m.removed) return true;
    this.spawn(id);
    try {
      await this.waitServing(id, timeoutMs);
      return true;
    } catch (err) {
      if (!this.removedInLog(m)) this.failures.push(`member ${id} did not serve within ${timeoutMs} ms of a restart: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  /** Waits until each member answers /health (it knows a leader). */
  async waitHealthy(ids: number[], timeoutMs = 20_000): Promise<void> {
    for (const id of ids) {
      await waitFor(`member ${id} to become healthy`, async () => {
        const res = await fetch(`${this.clientURL(id)}/health`, { signal: AbortSignal.timeout(1000) });
        return res.ok ? true : undefined;
      }, timeoutMs);
    }
  }

  /** Waits until a member's client port answers at all (a member cut off from a quorum knows no leader). */
  async waitServing(id: number, timeoutMs: number): Promise<void> {
    await waitFor(`member ${id} to serve`, async () => {
      if (this.member(id).proc === null) throw new Error('the process exited');
      const res = await fetch(`${this.clientURL(id)}/status`, { signal: AbortSignal.timeout(1000) });
      return res.ok ? true : undefined;
    }, timeoutMs);
  }

  async status(id: number): Promise<Record<string, unknown> | undefined> {
    try {
      const res = await fetch(`${this.clientURL(id)}/status`, { signal: AbortSignal.timeout(1000) });
      return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The leader as the running members report it, if they agree on one that is running. */
  async leader(): Promise<number | undefined> {
    const seen = new Map<number, number>();
    for (const id of this.running()) {
      if (this.member(id).paused) continue;
      const s = await this.status(id);
      if (s !== undefined && typeof s.leader === 'number' && s.leader !== 0 && typeof s.term === 'number') {
        const best = seen.get(s.leader);
        seen.set(s.leader, Math.max(best ?? 0, s.term));
      }
    }
    let leader: number | undefined;
    let term = -1;
    for (const [id, t] of seen) if (t > term && this.running().includes(id)) [leader, term] = [id, t];
    return leader;
  }

  log(id: number): string {
    try {
      return fs.readFileSync(this.member(id).logFile, 'utf8');
    } catch {
      return '';
    }
  }

  private removedInLog(m: ChaosMember): boolean {
    return /removed from the cluster/.test(this.log(m.id));
  }

  /** Kills every member and closes the proxies. */
  async destroy(): Promise<void> {
    await Promise.all([...this.members.keys()].map((id) => this.stop(id, 'SIGKILL')));
    await Promise.all([...this.members.values()].map((m) => m.proxy.close()));
  }
}
