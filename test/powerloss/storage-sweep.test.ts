// Power-loss sweep of a member's storage (kvstore/disk.ts over wal/ and snap/), driven the way the Ready loop drives
// it: appends with and without an fdatasync (in the thread pool or on the calling thread), segment cuts, local
// snapshots with purges, a snapshot received from a leader, overwritten suffixes after a term change, restarts (lock,
// replay, repair). The life is replayed once per crash point: a crash before every counted file operation, then at
// seeded random points with seeded choices of what the disk kept. After each crash the directory is opened as a
// restarting member opens it, and either it recovers everything acknowledged (a write is acknowledged once an fdatasync
// covering it returned), or it refuses with an error naming a file. A power loss never loses synced data, so here a
// refusal is a failure too.
import * as fs from 'fs';
import * as path from 'path';
import { Entry, EntryType, HardState, Snapshot } from '../../raft/types';
import { createDisk, diskExists, openDisk } from '../../kvstore/disk';
import { Persistence } from '../../kvstore/node';
import { SeededRand } from '../../raft/rand';
import { FaultFs, FaultFsCrashed } from '../../wal/faultfs';
import { errorMessage, installDurableFs } from '../../wal/fileutil';
import { dataEnd } from '../../wal/record';
import { RecordingLogger } from '../support/recording_logger';
import { entryData, scratchDir } from '../wal/helpers';
import { SweepCounts, refusalNamesFile, reportSweep } from './sweep_report';

const LONG = process.env.TSRAFT_LONG === '1';
const STEPS = LONG ? 120 : 32;
const RANDOM_TRIALS = LONG ? 1500 : 40;
const SEGMENT_BYTES = 4096;
// Large enough that a life cuts many segments, so purges remove segments an older snapshot would need.
const ENTRY_BYTES = 300;

let root: string;
beforeAll(() => {
  root = scratchDir('powerloss-storage');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** What the member has acknowledged: the log, hard state and snapshot base as of the last completed fdatasync. */
interface Acked {
  hardState: HardState;
  /** Term of each index after `base` that was durable, by index. */
  terms: Map<number, number>;
  /** A snapshot received from a leader replaced everything up to here. */
  base: number;
}

/** What may be found for an index after a crash: the acknowledged term, or one written after that acknowledgement. */
interface Expectation {
  acked: Acked;
  /** Terms written for an index since the last acknowledgement (not durable yet, but they may be). */
  later: Map<number, Set<number>>;
  laterStates: HardState[];
  /** The lowest index a write since the last acknowledgement overwrote from (a new term's suffix), if any. */
  laterOverwriteFrom: number;
}

function entry(index: number, term: number): Entry {
  return { index, term, type: EntryType.EntryNormal, data: entryData(index, term, ENTRY_BYTES) };
}

function snapshotAt(index: number, term: number, origin: string): Snapshot {
  return {
    data: Buffer.from(`${origin}:${index}:${term}`),
    metadata: { index, term, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
  };
}

const meta = { id: 1, clusterId: 'a1', members: [{ id: 1, peerURL: 'http://127.0.0.1:1', clientURL: '', learner: false }] };

/**
 * One member's life, deterministic for a given `lifeSeed`. Updates `exp` as writes are made and acknowledged.
 * Throws whatever the file system throws (FaultFsCrashed at the crash point).
 */
async function live(dataDir: string, lifeSeed: number, exp: Expectation): Promise<void> {
  const rand = new SeededRand(lifeSeed);
  const logger = new RecordingLogger();
  let p: Persistence = createDisk(dataDir, meta, logger, { segmentSize: SEGMENT_BYTES }).persistence;
  let term = 1;
  let last = 0;
  let commit = 0;
  let snapIndex = 0;
  const written = new Map<number, number>();
  let hs: HardState = { term: 1, vote: 1, commit: 0 };

  const note = (state: HardState, entries: Entry[]): void => {
    if (entries.length > 0 && written.has(entries[0].index)) {
      exp.laterOverwriteFrom = Math.min(exp.laterOverwriteFrom, entries[0].index);
    }
    for (const e of entries) {
      written.set(e.index, e.term);
      if (!exp.later.has(e.index)) exp.later.set(e.index, new Set());
      exp.later.get(e.index)?.add(e.term);
    }
    exp.laterStates.push({ ...state });
  };
  const ack = (): void => {
    exp.acked = { hardState: { ...hs }, terms: new Map(written), base: exp.acked.base };
    exp.later.clear();
    exp.laterStates = [];
    exp.laterOverwriteFrom = Infinity;
  };
  const append = (entries: Entry[], sync: boolean): Promise<void> | void => {
    hs = { ...hs, term, commit };
    note(hs, entries);
    p.write(hs, entries);
    if (entries.length > 0) last = entries[entries.length - 1].index;
    for (const [i] of written) if (i > last) written.delete(i);
    // Either place the Ready loop runs an fdatasync: the thread pool, or (a quiet member) the loop's own thread.
    if (sync) return p.sync(rand.float() < 0.5).then(ack);
  };

  for (let step = 0; step < STEPS; step++) {
    // Every life receives a leader's snapshot two thirds of the way through, whatever the draws say.
    const r = step === Math.floor((STEPS * 2) / 3) ? 0.83 : rand.float();
    if (r < 0.45) {
      // Appends, acknowledged once synced (Ready with mustSync).
      const n = 1 + rand.intn(6);
      const entries: Entry[] = [];
      for (let i = 1; i <= n; i++) entries.push(entry(last + i, term));
      commit = Math.min(last + n, commit + rand.intn(n + 1));
      await append(entries, true);
    } else if (r < 0.6) {
      // Only the commit index moves: written, not synced (Ready without mustSync).
      commit = Math.min(last, commit + 1 + rand.intn(3));
      await append([], false);
    } else if (r < 0.68 && last > commit + 1) {
      // A new term overwrites the uncommitted suffix (§5.3), as a new leader's appends do.
      term++;
      const from = commit + 1 + rand.intn(last - commit);
      const entries = [entry(from, term), entry(from + 1, term)];
      last = from - 1;
      await append(entries, true);
    } else if (r < 0.8 && commit > snapIndex) {
      // A local snapshot at the commit index, then the purge of what it covers (maybeSnapshot's order).
      const snap = snapshotAt(commit, written.get(commit) ?? term, 'local');
      p.saveSnapshot(snap);
      ack(); // saveSnapshot syncs the WAL, and with it every record before the marker
      p.release(snap);
      snapIndex = commit;
    } else if (r < 0.86) {
      // A snapshot from a leader, past our log, in the current term: file, marker, the hard state that commits it,
      // an fdatasync, and only then the purge. A burst of appends first, so that the purge removes the segments an
      // older snapshot would need if the new one were not recoverable.
      for (let burst = 0; burst < 3; burst++) {
        const entries: Entry[] = [];
        for (let i = 1; i <= 12; i++) entries.push(entry(last + i, term));
        await append(entries, true);
      }
      const index = last + 5 + rand.intn(20);
      const snap = snapshotAt(index, term, 'leader');
      p.saveSnapshot(snap);
      written.clear();
      last = index;
      commit = index;
      snapIndex = index;
      hs = { ...hs, commit };
      note(hs, []);
      p.write(hs, []);
      await p.sync();
      ack();
      exp.acked.base = index;
      p.release(snap);
    } else if (r < 0.93) {
      // A clean restart: close, then open as a restarting member does (lock, snapshot, replay).
      p.close();
      p = openDisk(dataDir, logger, { segmentSize: SEGMENT_BYTES }).start.persistence;
    } else {
      // An election: a new term and vote are synced before anything else.
      term++;
      hs = { term, vote: 1, commit };
      note(hs, []);
      p.write(hs, []);
      await p.sync();
      ack();
    }
  }
  p.close();
}

type Outcome = 'recovered' | 'refused' | 'refused-unwarranted' | 'lost';

/**
 * Opens the directory as a restart does and compares it with what was acknowledged. A refusal is warranted only when
 * the test `damaged` synced data, and must name a file either way.
 */
function check(dataDir: string, exp: Expectation, failures: string[], label: string, damaged = false): Outcome {
  let opened: ReturnType<typeof openDisk>;
  if (!diskExists(dataDir)) {
    // The crash came before the member's WAL was whole: a restart creates it again, which must work, and nothing
    // can have been acknowledged yet.
    if (exp.acked.hardState.term !== 0) {
      failures.push(`${label}: the WAL is gone although writes were acknowledged`);
      return 'lost';
    }
    createDisk(dataDir, meta, new RecordingLogger(), { segmentSize: SEGMENT_BYTES }).persistence.close();
    return 'recovered';
  }
  try {
    opened = openDisk(dataDir, new RecordingLogger(), { segmentSize: SEGMENT_BYTES });
  } catch (err) {
    const message = errorMessage(err);
    const named = refusalNamesFile(message, dataDir);
    if (damaged && named) return 'refused';
    failures.push(`${label}: refused: ${message}${named ? '' : ' (names no file)'}`);
    return damaged ? 'refused' : 'refused-unwarranted';
  }
  const { storage, persistence } = opened.start;
  persistence.close();
  const snap = storage.snapshot();
  const problems: string[] = [];
  if (snap.metadata.index < exp.acked.base) {
    problems.push(`snapshot ${snap.metadata.index} is older than the acknowledged leader snapshot ${exp.acked.base}`);
  }
  for (const [i, t] of exp.acked.terms) {
    if (i <= snap.metadata.index) continue;
    let got: number;
    try {
      got = storage.term(i);
    } catch {
      // A later write that overwrote a suffix from at or below here may have reached the disk.
      if (i < exp.laterOverwriteFrom) problems.push(`entry ${i} (term ${t}) is missing`);
      continue;
    }
    if (got !== t && !(exp.later.get(i)?.has(got) ?? false)) problems.push(`entry ${i} has term ${got}, acknowledged ${t}`);
    if (got === t) {
      const e = storage.entries(i, i + 1, Infinity)[0];
      if (!Buffer.from(e.data).equals(Buffer.from(entryData(i, t, ENTRY_BYTES)))) problems.push(`entry ${i} has other data`);
    }
  }
  const hs = storage.initialState().hardState;
  const allowed = [exp.acked.hardState, ...exp.laterStates];
  if (!allowed.some((a) => a.term === hs.term && a.vote === hs.vote && a.commit === hs.commit)) {
    problems.push(`hard state ${JSON.stringify(hs)}, acknowledged ${JSON.stringify(exp.acked.hardState)}`);
  }
  if (problems.length > 0) {
    failures.push(`${label}: ${problems.slice(0, 3).join('; ')}`);
    return 'lost';
  }
  return 'recovered';
}

async function trial(lifeSeed: number, crashBeforeOp: number, seed: number, keep: 'seeded' | 'none' | 'all'): Promise<{ outcome: Outcome | 'no-crash'; ops: number; exp: Expectation; dataDir: string }> {
  const dataDir = path.join(root, `m-${lifeSeed}-${crashBeforeOp}-${seed}`);
  const faults = new FaultFs({ root: dataDir, seed, crashBeforeOp, keep });
  faults.recordTrace = process.env.TSRAFT_SWEEP_ONLY !== undefined;
  const previous = installDurableFs(faults);
  const exp: Expectation = { acked: { hardState: { term: 0, vote: 0, commit: 0 }, terms: new Map(), base: 0 }, later: new Map(), laterStates: [], laterOverwriteFrom: Infinity };
  try {
    await live(dataDir, lifeSeed, exp);
  } catch (err) {
    if (!(err instanceof FaultFsCrashed) && faults.crashReport === null) throw err;
  } finally {
    installDurableFs(previous);
  }
  if (faults.recordTrace) {
    process.stdout.write(`${faults.trace.map((o) => `${o.n} ${o.kind} ${o.file}`).join('\n')}\n${JSON.stringify(faults.crashReport)}\n` +
      `acked ${JSON.stringify([...exp.acked.terms])} base ${exp.acked.base} hs ${JSON.stringify(exp.acked.hardState)}\n`);
  }
  return { outcome: faults.crashReport === null ? 'no-crash' : 'recovered', ops: faults.opCount, exp, dataDir };
}

test(`storage life of ${STEPS} steps survives a power loss at every file operation and at ${RANDOM_TRIALS} seeded points`, async () => {
  const lifeSeed = 7;
  const dry = await trial(lifeSeed, 0, 1, 'all');
  expect(dry.outcome).toBe('no-crash');
  fs.rmSync(dry.dataDir, { recursive: true, force: true });
  const totalOps = dry.ops;
  expect(totalOps).toBeGreaterThan(100);

  const counts: SweepCounts = { points: 0, recoveries: 0, refusals: 0, unwarrantedRefusals: 0, silentLosses: 0 };
  const failures: string[] = [];
  const rand = new SeededRand(99);
  const plan: { at: number; seed: number; keep: 'seeded' | 'none' | 'all' }[] = [];
  for (let at = 1; at <= totalOps; at++) plan.push({ at, seed: at, keep: at % 2 === 0 ? 'none' : 'seeded' });
  for (let i = 0; i < RANDOM_TRIALS; i++) plan.push({ at: 1 + rand.intn(totalOps), seed: 1000 + i, keep: 'seeded' });
  // TSRAFT_SWEEP_ONLY=<operation>:<seed> replays one trial of a failure report.
  const only = process.env.TSRAFT_SWEEP_ONLY?.split(':').map(Number);
  for (const { at, seed, keep } of plan) {
    if (only !== undefined && (only[0] !== at || only[1] !== seed)) continue;
    const t = await trial(lifeSeed, at, seed, keep);
    counts.points++;
    const outcome = check(t.dataDir, t.exp, failures, `crash before operation ${at} (seed ${seed}, keep ${keep})`);
    if (outcome === 'recovered') counts.recoveries++;
    else if (outcome === 'lost') counts.silentLosses++;
    else counts.unwarrantedRefusals++;
    if (only === undefined) fs.rmSync(t.dataDir, { recursive: true, force: true });
    else process.stdout.write(`kept ${t.dataDir}\n`);
  }
  reportSweep(`storage sweep (${totalOps} operations per life)`, counts, failures);
  expect(failures).toEqual([]);
  expect(counts.silentLosses).toBe(0);
  expect(counts.unwarrantedRefusals).toBe(0);
}, LONG ? 40 * 60_000 : 120_000);

// Every file but the lock, anywhere under `dir`.
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...filesUnder(p));
    else if (ent.name !== 'LOCK') out.push(p);
  }
  return out;
}

test(`damage to synced data after a power loss is refused naming a file, or recovered; never a silent loss`, async () => {
  const lifeSeed = 7;
  const dry = await trial(lifeSeed, 0, 1, 'all');
  fs.rmSync(dry.dataDir, { recursive: true, force: true });
  const counts: SweepCounts = { points: 0, recoveries: 0, refusals: 0, unwarrantedRefusals: 0, silentLosses: 0 };
  const failures: string[] = [];
  const rand = new SeededRand(31);
  for (let i = 0; i < (LONG ? 600 : 40); i++) {
    const at = 1 + rand.intn(dry.ops);
    const t = await trial(lifeSeed, at, 7000 + i, 'seeded');
    // A media fault on top of the power loss: one bit flipped somewhere in what a file holds.
    const files = filesUnder(t.dataDir);
    if (files.length === 0) {
      fs.rmSync(t.dataDir, { recursive: true, force: true });
      continue; // the power loss came before the first file
    }
    const file = files[rand.intn(files.length)];
    const bytes = fs.readFileSync(file);
    const written = dataEnd(bytes);
    if (written > 0) {
      const at2 = rand.intn(written);
      bytes[at2] ^= 1 << rand.intn(8);
      fs.writeFileSync(file, bytes);
    }
    counts.points++;
    const label = `crash before operation ${at} (seed ${7000 + i}), bit flipped in ${path.relative(t.dataDir, file)}`;
    const outcome = check(t.dataDir, t.exp, failures, label, true);
    if (outcome === 'recovered') counts.recoveries++;
    else if (outcome === 'lost') counts.silentLosses++;
    else counts.refusals++;
    fs.rmSync(t.dataDir, { recursive: true, force: true });
  }
  reportSweep('storage sweep with media faults', counts, failures);
  expect(failures).toEqual([]);
  expect(counts.refusals).toBeGreaterThan(0);
}, LONG ? 40 * 60_000 : 120_000);
