// # Scale: what a large log, a large snapshot and a long absence cost
//
// Four figures for docs/operations.md, each on a fresh three-member tsraft cluster on loopback:
//
// 1. Restart with 1 million entries in the WAL (members run with `--snapshot-count` above that, so nothing is
//    compacted): the time from starting all three processes to the first linearizable get each member answers,
//    then the same for one follower killed with SIGKILL and started again while the others run.
// 2. Memory with 1 million keys: those entries put 1 million distinct keys with 256-byte values; the resident
//    set size of each member once it serves.
// 3. Restart with a 100 MiB snapshot: the same, when the data directory holds a snapshot of that size and
//    almost no log after it.
// 4. A member 1 million entries behind: the time from starting it to having applied everything the leader had
//    committed, while the other two serve.
//
// Writing a million entries through the client API would take minutes on a shared machine, so the data is made
// offline, as the cluster itself would have written it: the cluster is started (it elects a leader and commits its
// configuration), every member is stopped with all of them holding the same log, and then the entries (puts, as
// the client API encodes them) are appended to each member's WAL with the commit index at the last one; for (3),
// the snapshot is the key-value map those entries produce, saved as a member saves its own. Making the data is not
// part of any figure.
//
//   node dist/bench/scale.js [--entries 1000000] [--snapshot-mib 100] [--only wal,snapshot,catchup] [--serve-timeout-s 900]
//                            [--keep]   (keeps the data and logs under the temporary directory)

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ConfState, Entry, EntryType } from '../raft/types';
import { discardLogger } from '../raft/logger';
import { CommandOp, encodeCommand } from '../kvstore/command';
import { openDisk } from '../kvstore/disk';
import { KvStore } from '../kvstore/kv';
import { encodeSnapshotData } from '../kvstore/snapshot';
import { argValue, checkArgs, cpuMicros, machineLine, rssBytes, sleep, waitFor } from './harness';
import { valueFor } from './load';
import { TsraftCluster } from './systems';

const args = process.argv.slice(2);
checkArgs(
  args,
  'node dist/bench/scale.js [--entries 1000000] [--snapshot-mib 100] [--only wal,snapshot,catchup] [--serve-timeout-s 900] [--keep]',
  ['--entries', '--snapshot-mib', '--only', '--serve-timeout-s'],
  { switches: ['--keep'], numeric: ['--entries', '--snapshot-mib', '--serve-timeout-s'] },
);
const entries = Number(argValue(args, '--entries') ?? '1000000');
const snapshotMiB = Number(argValue(args, '--snapshot-mib') ?? '100');
const only = (argValue(args, '--only') ?? 'wal,snapshot,catchup').split(',');
const serveTimeoutMs = Number(argValue(args, '--serve-timeout-s') ?? '900') * 1000;
const noCompaction = ['--snapshot-count', String(entries * 4)];

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const keyOf = (i: number): string => `scale-${i}`;

function dirSize(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? dirSize(p) : fs.statSync(p).size;
  }
  return total;
}

/** Starts the cluster, waits until every member holds the same applied log, and kills all three. */
async function startAndSettle(c: TsraftCluster): Promise<void> {
  await c.start();
  const agent = new http.Agent({ keepAlive: false });
  await waitFor('every member to apply the same log', async () => {
    const applied = await Promise.all([0, 1, 2].map(async (i) => Number(Reflect.get((await c.status(agent, i)) as object, 'applied'))));
    const commits = await Promise.all([0, 1, 2].map(async (i) => Number(Reflect.get((await c.status(agent, i)) as object, 'commit'))));
    return applied.every((a) => a === applied[0] && a === commits[0]) && commits.every((x) => x === commits[0]) ? true : undefined;
  });
  // A publish of a client URL may still be on its way; give it a moment, then check again by stopping.
  await sleep(500);
  for (let i = 0; i < 3; i++) await c.kill(i);
}

/**
 * Appends `count` puts of distinct keys (keys `from`...) to the WAL of the member in `dataDir`, commits them, and
 * if asked, saves a snapshot of the map they produce at the last one. Returns the new last index.
 */
async function appendOffline(dataDir: string, from: number, count: number, snapshot: boolean): Promise<number> {
  const { start } = openDisk(dataDir, discardLogger);
  const { storage, persistence } = start;
  const hs = storage.initialState().hardState;
  let index = storage.lastIndex();
  const term = hs.term;
  const kv = snapshot ? new KvStore() : undefined;
  const batchSize = 10_000;
  for (let done = 0; done < count; ) {
    const batch: Entry[] = [];
    for (let j = 0; j < batchSize && done < count; j++, done++) {
      const cmd = { op: CommandOp.Put, epoch: 1, seq: from + done + 1, key: keyOf(from + done), value: valueFor(keyOf(from + done)) };
      kv?.apply(cmd);
      batch.push({ term, index: ++index, type: EntryType.EntryNormal, data: encodeCommand(cmd) });
    }
    persistence.write({ term, vote: hs.vote, commit: index }, batch);
    if (snapshot) storage.append(batch);
  }
  await persistence.sync();
  if (kv !== undefined) {
    const confState: ConfState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    storage.setHardState({ term, vote: hs.vote, commit: index });
    const snap = storage.createSnapshot(index, confState, encodeSnapshotData(kv, start.members));
    persistence.saveSnapshot(snap);
    persistence.release(snap);
  }
  persistence.close();
  return index;
}

/**
 * Time from member `i`'s process start until it answers a linearizable get of `key` correctly, and the CPU time
 * the member had used by then (steadier than the wall clock on a shared machine).
 */
async function timeToServe(c: TsraftCluster, i: number, key: string): Promise<string> {
  const agent = new http.Agent({ keepAlive: true });
  try {
    await waitFor(`member ${i} to serve a linearizable get`, async () => {
      const got = await c.get(agent, i, key, false, 1_000);
      return got?.equals(valueFor(key)) === true ? true : undefined;
    }, serveTimeoutMs, 20);
    return `${secs(Date.now() - (c.spawnedAt[i] ?? 0))} (CPU ${secs(cpuMicros(c.pids()[i]) / 1000)})`;
  } catch {
    return `NOT within ${secs(serveTimeoutMs)} (CPU ${secs(cpuMicros(c.pids()[i]) / 1000)} by then; log: ${path.join(c.dataRoot, `member${i}.log`)})`;
  } finally {
    agent.destroy();
  }
}

async function restartFigures(label: string, c: TsraftCluster, probeKey: string): Promise<void> {
  for (let i = 0; i < 3; i++) c.spawnMember(i);
  const all = await Promise.all([0, 1, 2].map((i) => timeToServe(c, i, probeKey)));
  console.log(`${label}: all three restarted, first linearizable get served after ${all.join(', ')}`);
  const rss = c.pids().map(rssBytes);
  console.log(`${label}: resident memory of the members once serving: ${rss.map(mib).join(', ')}`);
  const leader = (await c.leader()) ?? 0;
  const follower = (leader + 1) % 3;
  await c.kill(follower);
  c.spawnMember(follower);
  console.log(`${label}: one follower killed and restarted, first linearizable get served after ${await timeToServe(c, follower, probeKey)}`);
}

async function walScenario(base: string): Promise<void> {
  const c = new TsraftCluster(path.join(base, 'wal'), noCompaction);
  try {
    await startAndSettle(c);
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) await appendOffline(path.join(base, 'wal', `m${i}`), 0, entries, false);
    console.log(`wal: ${entries.toLocaleString('en-US')} entries of distinct keys appended to each WAL offline in ${secs(Date.now() - t0)}; one member's data directory: ${mib(dirSize(path.join(base, 'wal', 'm0')))}`);
    await restartFigures(`wal (${entries.toLocaleString('en-US')} entries, as many keys)`, c, keyOf(entries - 1));
  } finally {
    await c.stop(args.includes('--keep'));
  }
}

async function snapshotScenario(base: string): Promise<void> {
  const c = new TsraftCluster(path.join(base, 'snap'));
  // A key and its entry in the map cost about 20 bytes besides the 256-byte value.
  const keys = Math.round((snapshotMiB * 1024 * 1024) / (valueFor('x').length + 20));
  try {
    await startAndSettle(c);
    for (let i = 0; i < 3; i++) await appendOffline(path.join(base, 'snap', `m${i}`), 0, keys, true);
    const snapDir = path.join(base, 'snap', 'm0', 'snap');
    const files = fs.readdirSync(snapDir).filter((f) => f.endsWith('.snap')).map((f) => fs.statSync(path.join(snapDir, f)).size);
    console.log(`snapshot: ${keys.toLocaleString('en-US')} keys; snapshot file ${mib(Math.max(...files))}`);
    await restartFigures(`snapshot (${mib(Math.max(...files))})`, c, keyOf(keys - 1));
  } finally {
    await c.stop(args.includes('--keep'));
  }
}

async function catchupScenario(base: string): Promise<void> {
  const c = new TsraftCluster(path.join(base, 'catchup'), noCompaction);
  try {
    await startAndSettle(c);
    for (let i = 0; i < 2; i++) await appendOffline(path.join(base, 'catchup', `m${i}`), 0, entries, false);
    c.spawnMember(0);
    c.spawnMember(1);
    const probeKey = keyOf(entries - 1);
    await Promise.all([0, 1].map((i) => timeToServe(c, i, probeKey)));
    const agent = new http.Agent({ keepAlive: false });
    const leader = (await c.leader()) ?? 0;
    const commit = Number(Reflect.get((await c.status(agent, leader)) as object, 'commit'));
    c.spawnMember(2);
    await waitFor('the member behind to catch up', async () => {
      const applied = Number(Reflect.get((await c.status(agent, 2)) as object, 'applied'));
      return applied >= commit ? true : undefined;
    }, 1_800_000, 50);
    const caughtUp = Date.now() - (c.spawnedAt[2] ?? 0);
    const cpu = cpuMicros(c.pids()[2]) / 1000;
    console.log(`catch-up: a member ${entries.toLocaleString('en-US')} entries behind applied all ${commit.toLocaleString('en-US')} after ${secs(caughtUp)}, CPU ${secs(cpu)} (from its process start; entries, not a snapshot, since nothing was compacted)`);
    console.log(`catch-up: resident memory of the members then: ${c.pids().map(rssBytes).map(mib).join(', ')}`);
  } finally {
    await c.stop(args.includes('--keep'));
  }
}

async function main(): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-scale-'));
  console.log(`scale: ${machineLine()}; data under ${base}`);
  try {
    if (only.includes('wal')) await walScenario(base);
    if (only.includes('snapshot')) await snapshotScenario(base);
    if (only.includes('catchup')) await catchupScenario(base);
  } finally {
    if (!args.includes('--keep')) fs.rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
