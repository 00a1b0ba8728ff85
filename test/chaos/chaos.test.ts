// The short form of `make chaos`: two seeded runs against real members, one per kind of trouble that loses data
// most often in practice (the leader killed; the leader cut off while it still believes it leads), each checked
// for linearizability, lost acknowledged writes, restarts, recovery after healing and identical final state.
// `make chaos` runs the long form (docs/faults.md).

import { RunOptions, runChaos, summaryLine } from './run';

const runs: RunOptions[] = [
  { seed: 101, family: 'kill-leader', members: 3, seconds: 15, clients: 3 },
  { seed: 202, family: 'all', members: 3, seconds: 20, clients: 3 },
];

describe('chaos, short form', () => {
  test.each(runs.map((r, i) => [i + 1, r] as const))('run %i', async (i, r) => {
    const s = await runChaos(r);
    process.stdout.write(`${summaryLine(s, i, runs.length)}\n`);
    expect({ passed: s.passed, problems: s.problems }).toEqual({ passed: true, problems: [] });
    expect(s.ok).toBeGreaterThan(0);
  }, 180_000);
});
