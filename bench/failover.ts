// # Failover beside etcd: kill -9 the leader under load
//
// A fresh three-member cluster of each system (PreVote and CheckQuorum on in both, 100 ms heartbeat, 1 s election
// timeout) takes puts from closed-loop clients that do not know the leader: each request goes to a member chosen
// at random, and a client gives up on a request after its own timeout (1 s by default) and sends the next one
// elsewhere. Then, repeatedly:
//
// 1. the leader is killed with SIGKILL;
// 2. measured: the time from the kill to the first acknowledged put that was sent after it (the new leader
//    committed it), and the longest interval any client went without an acknowledgement around the kill;
// 3. the killed member is started again with the same command; measured: the time from its process start to the
//    first linearizable get it answers correctly (it has replayed its log, found the leader and caught up far
//    enough to serve);
// 4. once it is back and a leader is known, the next kill.
//
// The kills alternate between the systems in batches, each batch on a fresh cluster, so a busy neighbour hurts
// both; the summary gives medians over all kills of each system and the ratios.
//
//   node dist/bench/failover.js [--kills 10] [--batch 5] [--clients 8] [--client-timeout-ms 1000]

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { argValue, checkArgs, machineLine, median, sleep, waitFor } from './harness';
import { valueFor } from './load';
import { Cluster, EtcdCluster, SystemName, WrongAnswer, clusterOf } from './systems';

const args = process.argv.slice(2);
checkArgs(args, 'node dist/bench/failover.js [--kills 10] [--batch 5] [--clients 8] [--client-timeout-ms 1000]', ['--kills', '--batch', '--clients', '--client-timeout-ms'], {
  numeric: ['--kills', '--batch', '--clients', '--client-timeout-ms'],
});
const kills = Number(argValue(args, '--kills') ?? '10');
const batch = Number(argValue(args, '--batch') ?? '5');
const clients = Number(argValue(args, '--clients') ?? '8');
const clientTimeoutMs = Number(argValue(args, '--client-timeout-ms') ?? '1000');

/** What one kill measured, in milliseconds. */
interface Kill {
  system: SystemName;
  /** Kill to the first acknowledged put sent after it. */
  nextWriteMs: number;
  /** The longest any client went without an acknowledged put, in the window around the kill. */
  longestGapMs: number;
  /** Requests that hit the client's timeout around this kill. */
  timeouts: number;
  /** Process start of the restarted member to the first linearizable get it answered. */
  restartServeMs: number;
}

/** Closed-loop put clients that record when each acknowledged request was sent and answered. */
class PutLoad {
  private stopped = false;
  private readonly agents: http.Agent[];
  /** Per client: [sentAt, answeredAt] of each acknowledged put (ms since the epoch). */
  readonly acks: [number, number][][] = [];
  timeouts = 0;
  wrong = 0;
  private readonly done: Promise<void[]>;

  constructor(private readonly cluster: Cluster) {
    this.agents = cluster.clientPorts.map(() => new http.Agent({ keepAlive: true, maxSockets: clients }));
    this.done = Promise.all(Array.from({ length: clients }, (_, c) => this.client(c)));
  }

  private async client(c: number): Promise<void> {
    const acks: [number, number][] = [];
    this.acks[c] = acks;
    for (let i = 0; !this.stopped; i++) {
      const m = Math.floor(Math.random() * this.cluster.clientPorts.length);
      const sentAt = Date.now();
      try {
        await this.cluster.put(this.agents[m] ?? new http.Agent(), m, `failover-${c}-${i % 16}`, valueFor(`${c}:${i}`), clientTimeoutMs);
        acks.push([sentAt, Date.now()]);
      } catch (err) {
        if (err instanceof WrongAnswer) this.wrong++;
        if (err instanceof Error && err.message.startsWith('no answer within')) this.timeouts++;
        // A refused connection (the killed member) fails at once; do not spin on it.
        await sleep(5);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    for (const a of this.agents) a.destroy();
  }
}

async function killOnce(cluster: Cluster, load: PutLoad): Promise<Kill> {
  await sleep(1500);
  const leader = await waitFor('a leader', () => cluster.leader(), 30_000, 50);
  const timeoutsBefore = load.timeouts;
  const killedAt = Date.now();
  await cluster.kill(leader);
  // Every client must have been acknowledged again before the gaps are final.
  await waitFor('every client to write again', () => Promise.resolve(load.acks.every((a) => a.some(([sent]) => sent > killedAt)) ? true : undefined), 30_000, 20);
  await sleep(200);
  let nextWrite = Infinity;
  let longestGap = 0;
  for (const acks of load.acks) {
    for (const [sent, answered] of acks) if (sent > killedAt) nextWrite = Math.min(nextWrite, answered);
    const around = acks.map(([, answered]) => answered).filter((t) => t >= killedAt - 2000);
    let prev = around[0] ?? killedAt;
    for (const t of around) {
      longestGap = Math.max(longestGap, t - prev);
      prev = t;
    }
  }
  const timeouts = load.timeouts - timeoutsBefore;

  cluster.spawnMember(leader);
  const startedAt = cluster.spawnedAt[leader] ?? Date.now();
  const probe = new http.Agent({ keepAlive: true });
  await waitFor('the restarted member to answer a linearizable get', async () => {
    const got = await cluster.get(probe, leader, 'failover-probe', false, 500);
    return got?.equals(valueFor('probe')) === true ? true : undefined;
  }, 60_000, 5);
  const restartServeMs = Date.now() - startedAt;
  probe.destroy();
  return { system: cluster.system, nextWriteMs: nextWrite - killedAt, longestGapMs: longestGap, timeouts, restartServeMs };
}

async function runBatch(system: SystemName, n: number): Promise<Kill[]> {
  const cluster = clusterOf(system, fs.mkdtempSync(path.join(os.tmpdir(), `failover-${system}-`)));
  const out: Kill[] = [];
  try {
    await cluster.start();
    const agent = new http.Agent({ keepAlive: true });
    await cluster.put(agent, (await cluster.leader()) ?? 0, 'failover-probe', valueFor('probe'));
    agent.destroy();
    const load = new PutLoad(cluster);
    try {
      for (let k = 0; k < n; k++) {
        const r = await killOnce(cluster, load);
        out.push(r);
        console.log(
          `  ${system.padEnd(6)} kill ${String(k + 1).padStart(2)}: next write ${String(r.nextWriteMs).padStart(5)} ms, longest client gap ${String(r.longestGapMs).padStart(5)} ms, ` +
            `${r.timeouts} client timeouts; restarted member served a linearizable get ${r.restartServeMs} ms after its process started`,
        );
      }
    } finally {
      await load.stop();
      if (load.wrong > 0) console.log(`  ${system}: ${load.wrong} WRONG ANSWERS`);
    }
  } finally {
    await cluster.stop();
  }
  return out;
}

async function main(): Promise<void> {
  if (EtcdCluster.binary() === undefined) {
    console.log('bench-failover: no etcd binary on PATH (install Debian\'s etcd-server package); skipped.');
    return;
  }
  console.log(`failover, tsraft vs ${EtcdCluster.version()}: ${machineLine()}`);
  console.log(`${kills} leader kills per system in batches of ${batch}, ${clients} put clients to random members, client timeout ${clientTimeoutMs} ms`);
  const all: Kill[] = [];
  const done: Record<SystemName, number> = { etcd: 0, tsraft: 0 };
  for (let b = 0; done.etcd < kills || done.tsraft < kills; b++) {
    const order: SystemName[] = b % 2 === 0 ? ['etcd', 'tsraft'] : ['tsraft', 'etcd'];
    for (const system of order) {
      const n = Math.min(batch, kills - done[system]);
      if (n <= 0) continue;
      all.push(...(await runBatch(system, n)));
      done[system] += n;
    }
  }
  const med = (system: SystemName, f: (k: Kill) => number): number => median(all.filter((k) => k.system === system).map(f));
  const max = (system: SystemName, f: (k: Kill) => number): number => Math.max(...all.filter((k) => k.system === system).map(f));
  const line = (label: string, e: number, t: number): string => `| ${label} | ${Math.round(e)} ms | ${Math.round(t)} ms | ${e === 0 ? '-' : (t / e).toFixed(2)}x |`;
  console.log('');
  console.log(`| median of ${kills} leader kills | etcd | tsraft | ratio |`);
  console.log('| --- | --- | --- | --- |');
  console.log(line('kill to the next acknowledged write', med('etcd', (k) => k.nextWriteMs), med('tsraft', (k) => k.nextWriteMs)));
  console.log(line('longest gap a client saw', med('etcd', (k) => k.longestGapMs), med('tsraft', (k) => k.longestGapMs)));
  console.log(line('longest gap a client saw, worst kill', max('etcd', (k) => k.longestGapMs), max('tsraft', (k) => k.longestGapMs)));
  console.log(line('restarted member: process start to first linearizable get served', med('etcd', (k) => k.restartServeMs), med('tsraft', (k) => k.restartServeMs)));
  const timeouts = (system: SystemName): number => all.filter((k) => k.system === system).reduce((s, k) => s + k.timeouts, 0);
  console.log(`| requests that hit the ${clientTimeoutMs} ms client timeout, all kills | ${timeouts('etcd')} | ${timeouts('tsraft')} | |`);
  const outDir = path.join(__dirname, '..', '..', 'bench', 'out');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'failover.json'), `${JSON.stringify({ machine: machineLine(), etcd: EtcdCluster.version(), clients, clientTimeoutMs, kills: all }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
