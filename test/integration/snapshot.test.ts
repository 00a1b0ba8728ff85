// A member that misses more than a snapshot's worth of entries is brought back by a snapshot, not by replaying
// entries the leader no longer has (§7).

import { TestCluster, waitFor } from './harness';

describe('catch-up by snapshot', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start(3, ['--snapshot-count', '40', '--snapshot-catchup', '10']);
  });
  afterAll(async () => {
    await c.destroy();
  });

  test('a member stopped while the others write past snapshotCount catches up from a snapshot', async () => {
    const leader = await c.leader();
    const down = [1, 2, 3].find((id) => id !== leader) ?? 0;
    await c.stop(down);
    const writer = c.client([leader]);
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 150; i++) writes.push(writer.put(`k${i}`, `v${i}`));
    await Promise.all(writes);
    const leaderStatus = await c.status(leader);
    expect(Number(leaderStatus.snapshotIndex)).toBeGreaterThan(0);

    c.spawn(down);
    await c.waitHealthy([down]);
    await waitFor('the restarted member to apply everything', async () => {
      const s = await c.status(down);
      return Number(s.applied) >= Number(leaderStatus.commit) ? true : undefined;
    });
    expect(c.log(down)).toMatch(/applying snapshot at index \d+/);
    const local = c.client([down]);
    for (let i = 0; i < 150; i++) expect((await local.get(`k${i}`, 'serializable'))?.toString()).toBe(`v${i}`);
  });

  test('every member restarts from its own snapshot and WAL with the same data', async () => {
    for (const id of [1, 2, 3]) await c.stop(id);
    for (const id of [3, 1, 2]) c.spawn(id);
    await c.waitHealthy([1, 2, 3]);
    for (const id of [1, 2, 3]) {
      const kvs = await c.client([id]).list('k');
      expect(kvs.length).toBe(150);
    }
  });

  test('a member that joins after the log was compacted starts from a snapshot that lists it', async () => {
    const leader = await c.leader();
    expect(Number((await c.status(leader)).snapshotIndex)).toBeGreaterThan(1);
    await c.allocate(4);
    c.spawn(4, ['--join', c.url(leader)]);
    await c.waitHealthy([4]);
    const leaderStatus = await c.status(leader);
    await waitFor('the new member to apply everything', async () => {
      const s = await c.status(4);
      return Number(s.applied) >= Number(leaderStatus.commit) ? true : undefined;
    });
    expect(c.log(4)).toMatch(/applying snapshot at index \d+/);
    const kvs = await c.client([4]).list('k', undefined, 'serializable');
    expect(kvs.length).toBe(150);
  });
});
