// A member that does not yet know a leader holds a write or a read for a while instead of refusing it: a restarted
// follower hears from the leader within a heartbeat, and a client that reaches it in the meantime should be served,
// not told to go elsewhere. Heartbeats here come every 8 ticks of 50 ms, so a restarted follower knows no leader for
// up to 400 ms after its port opens; the wait for a leader is 1 s (half the 2 s election timeout).

import { TestCluster, waitFor } from './harness';

describe('a request that reaches a member before it knows the leader', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start(3, ['--election-ticks', '40', '--heartbeat-ticks', '8']);
  });
  afterAll(async () => {
    await c.destroy();
  });

  test('is held until the leader is known, then served: a write and a linearizable read through a restarted follower', async () => {
    await c.client().put('k', 'before');
    const leader = await c.leader();
    const follower = [1, 2, 3].find((id) => id !== leader) ?? 1;
    let caughtWithoutLeader = 0;
    for (let round = 1; round <= 3; round++) {
      await c.stop(follower, 'SIGKILL');
      c.spawn(follower);
      // The first moment the restarted member answers at all.
      const status = await waitFor('the restarted member to listen', () => c.status(follower).catch(() => undefined), 10_000, 5);
      const [put, get] = await Promise.all([
        fetch(`${c.url(follower)}/kv/k`, { method: 'PUT', body: `v${round}` }),
        fetch(`${c.url(follower)}/kv/k`),
      ]);
      if (status.leader === 0) caughtWithoutLeader++;
      expect(put.status).toBe(200);
      expect(get.status).toBe(200);
      expect(await c.client([leader]).get('k').then((v) => v?.toString())).toBe(`v${round}`);
    }
    // The rounds exercised the wait: the member answered its first status before it knew a leader.
    expect(caughtWithoutLeader).toBeGreaterThan(0);
  });
});
