// TSRAFT_FAULTFS on a real `tsraft serve` process: SIGUSR2 is a power loss of that member. A one-member cluster has
// no peer to catch up from, so every write it acknowledged must come back from its own disk.
import * as fs from 'fs';
import { TestCluster, waitFor } from '../integration/harness';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.destroy();
  cluster = null;
});

test('a member that loses power (TSRAFT_FAULTFS, SIGUSR2) restarts with every write it acknowledged', async () => {
  const c = new TestCluster();
  cluster = c;
  const m = await c.allocate(1);
  const saved = process.env.TSRAFT_FAULTFS;
  process.env.TSRAFT_FAULTFS = `root=${m.dataDir},seed=11`;
  try {
    c.spawn(1, ['--initial-cluster', c.initialCluster()]);
  } finally {
    if (saved === undefined) delete process.env.TSRAFT_FAULTFS;
    else process.env.TSRAFT_FAULTFS = saved;
  }
  await c.waitHealthy([1]);
  const client = c.client([1]);
  for (let i = 0; i < 20; i++) await client.put(`k${i}`, `v${i}`);

  m.proc?.kill('SIGUSR2');
  expect(await m.exited).toBeNull(); // killed by its own SIGKILL
  expect(c.log(1)).toMatch(/TSRAFT_FAULTFS: power lost after \d+ operations/);
  expect(fs.existsSync(m.dataDir)).toBe(true);

  c.spawn(1);
  await c.waitHealthy([1]);
  const again = c.client([1]);
  await waitFor('every acknowledged write after the power loss', async () => {
    for (let i = 0; i < 20; i++) if ((await again.get(`k${i}`))?.toString() !== `v${i}`) return undefined;
    return true;
  }, 10_000);
});
