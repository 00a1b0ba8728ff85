// The randomized simulation: hundreds of seeds (thousands with TSRAFT_LONG=1), each a run of crashes, partitions,
// lossy links, membership changes and compaction, checked against Figure 3 after every step, every ReadIndex answer
// checked for linearizability, and, once healed, every proposal a client was told had committed checked on every
// member. SEED=n replays one seed.

import { ChaosResult, runChaos } from '../../raft/rafttest/chaos';
import { SimulationError } from '../../raft/rafttest/cluster';

const long = process.env.TSRAFT_LONG === '1';
const only = process.env.SEED;
const seedCount = long ? 5000 : 500;
const ticks = long ? 400 : 300;
const batch = 50;

const seeds = only !== undefined ? [Number(only)] : Array.from({ length: seedCount }, (_, i) => i + 1);
const batches: number[][] = [];
for (let i = 0; i < seeds.length; i += batch) {
  batches.push(seeds.slice(i, i + batch));
}

interface Totals {
  runs: number;
  crashes: number;
  restarts: number;
  leaders: number;
  acked: number;
  reads: number;
  confChanges: number;
  snapshotsInstalled: number;
  dropped: number;
  duplicated: number;
  cut: number;
}

const totals: Totals = {
  runs: 0,
  crashes: 0,
  restarts: 0,
  leaders: 0,
  acked: 0,
  reads: 0,
  confChanges: 0,
  snapshotsInstalled: 0,
  dropped: 0,
  duplicated: 0,
  cut: 0,
};

function add(r: ChaosResult): void {
  totals.runs++;
  totals.crashes += r.stats.crashes;
  totals.restarts += r.stats.restarts;
  totals.leaders += r.leadersElected;
  totals.acked += r.stats.acked;
  totals.reads += r.stats.reads;
  totals.confChanges += r.stats.confChangesApplied;
  totals.snapshotsInstalled += r.stats.snapshotsInstalled;
  totals.dropped += r.network.dropped;
  totals.duplicated += r.network.duplicated;
  totals.cut += r.network.cut;
}

test.each(batches.map((b) => [`${b[0]}..${b[b.length - 1]}`, b] as const))(
  'seeds %s keep every safety property and lose no acknowledged proposal',
  (_name, batchSeeds) => {
    const failures: string[] = [];
    for (const seed of batchSeeds) {
      try {
        add(runChaos({ seed, ticks }));
      } catch (err) {
        // Keep going, so one run reports every failing seed of the batch, each with its trace.
        const replay = `replay: ${long ? 'TSRAFT_LONG=1 ' : ''}SEED=${seed} npx jest test/sim/random`;
        failures.push(`${replay}\n${err instanceof Error ? err.message : String(err)}`);
      }
    }
    expect(failures).toEqual([]);
  },
);

test('the runs really crashed, partitioned, lost messages, changed membership and installed snapshots', () => {
  expect(totals.runs).toBe(seeds.length);
  if (only !== undefined) {
    return;
  }
  expect(totals.crashes).toBeGreaterThan(seeds.length);
  expect(totals.restarts).toBeGreaterThan(seeds.length / 2);
  // Re-elections happen in most runs, not just the first election.
  expect(totals.leaders).toBeGreaterThan(2 * seeds.length);
  expect(totals.acked).toBeGreaterThan(20 * seeds.length);
  expect(totals.reads).toBeGreaterThan(5 * seeds.length);
  expect(totals.confChanges).toBeGreaterThan(seeds.length);
  expect(totals.snapshotsInstalled).toBeGreaterThan(seeds.length / 2);
  expect(totals.dropped).toBeGreaterThan(0);
  expect(totals.duplicated).toBeGreaterThan(0);
  expect(totals.cut).toBeGreaterThan(0);
});

test('one seed replays to the same trace, line for line', () => {
  const a = runChaos({ seed: 4242, ticks: 150, traceLimit: 0 }).cluster.trace.lines();
  const b = runChaos({ seed: 4242, ticks: 150, traceLimit: 0 }).cluster.trace.lines();
  expect(a.length).toBeGreaterThan(200);
  expect(b).toEqual(a);
  const c = runChaos({ seed: 4243, ticks: 150, traceLimit: 0 }).cluster.trace.lines();
  expect(c).not.toEqual(a);
});

test('a failing run names its seed, says how to replay it and carries its trace', () => {
  const r = runChaos({ seed: 7, ticks: 50 });
  const c = r.cluster;
  const index = c.one(r.members.length);
  // Corrupt one member's state machine behind Raft's back: the final check must catch it.
  c.node(r.members[0]).appliedLog[index - 1] = 'forged';
  let caught: unknown = null;
  try {
    c.checkCommittedProposals();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SimulationError);
  const e = caught as SimulationError;
  expect(e.code).toBe('CommittedProposalLost');
  expect(e.seed).toBe(7);
  expect(e.message).toContain('replay with SEED=7');
  expect(e.trace.length).toBeGreaterThan(10);
});
