// A member that is alone in its configuration is a quorum by itself: when it starts, fresh or restarted, it
// campaigns at once instead of waiting out an election timeout. The timeout here is 15 to 30 s (300 ticks of
// 50 ms), so a member that waited for it could not answer within the test's 5 s.

import { TestCluster, waitFor } from './harness';

describe('a lone member starting', () => {
  let c: TestCluster;
  afterAll(async () => {
    await c.destroy();
  });

  test('leads at once, fresh and after kill -9 before its first snapshot', async () => {
    c = await TestCluster.start(1, ['--election-ticks', '300']);
    await waitFor('a first write', () => c.client([1], 1_000).put('k', 'v1').catch(() => undefined), 5_000);

    for (const round of [2, 3]) {
      await c.stop(1, 'SIGKILL');
      c.spawn(1);
      await waitFor(`a write after restart ${round}`, () => c.client([1], 1_000).put('k', `v${round}`).catch(() => undefined), 5_000);
      expect((await c.client([1]).get('k'))?.toString()).toBe(`v${round}`);
    }
    expect(Number((await c.status(1)).snapshotIndex ?? 0)).toBe(0);
  });
});
