// Without a quorum: a write already proposed times out with 504 "outcome unknown"; once the leader has stepped
// down, writes and linearizable reads get 503 with Retry-After, while serializable reads still answer.

import { TestCluster, waitFor } from './harness';

describe('lost quorum', () => {
  let c: TestCluster;
  beforeAll(async () => {
    // A long election timeout (40 ticks of 50 ms) keeps the lone leader in office past the 1 s request timeout.
    c = await TestCluster.start(3, ['--election-ticks', '40', '--request-timeout-ms', '1000']);
  });
  afterAll(async () => {
    await c.destroy();
  });

  test('504 for a write stuck without a quorum, then 503 with Retry-After, and serializable reads still served', async () => {
    await c.client().put('k', 'before');
    const leader = await c.leader();
    const followers = [1, 2, 3].filter((id) => id !== leader);
    await Promise.all(followers.map((id) => c.stop(id)));

    const stuck = await fetch(`${c.url(leader)}/kv/k`, { method: 'PUT', body: 'lost?' });
    expect(stuck.status).toBe(504);
    expect(((await stuck.json()) as { error: { code: string; message: string } }).error).toEqual({
      code: 'OutcomeUnknown',
      message: expect.stringMatching(/may or may not take effect/) as unknown as string,
    });

    // CheckQuorum: the leader steps down once it has not heard from a quorum for an election timeout.
    const refused = await waitFor('the write to be refused outright', async () => {
      const res = await fetch(`${c.url(leader)}/kv/k`, { method: 'PUT', body: 'again' });
      return res.status === 503 ? res : undefined;
    });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('NoLeader');

    const read = await fetch(`${c.url(leader)}/kv/k`);
    expect(read.status).toBe(503);
    expect(read.headers.get('retry-after')).toBe('1');
    const local = await fetch(`${c.url(leader)}/kv/k?consistency=serializable`);
    expect(local.status).toBe(200);
    expect(await local.text()).toBe('before');
    expect((await fetch(`${c.url(leader)}/health`)).status).toBe(503);
  });
});
