// The last voter cannot be removed: a cluster without a voter can never form a quorum again. The request is refused
// with a 400 before anything is proposed, and the member goes on serving.

import { TestCluster, waitFor } from './harness';

describe('removing the last voter', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start(1);
  });
  afterAll(async () => {
    await c.destroy();
  });

  test('is refused with 400 and changes nothing', async () => {
    // A member announces its client URL through the log once it has a leader; wait for that entry to apply, so the
    // commit index can only move if the refused removal were proposed.
    await waitFor('the client URL to be published', async () => {
      const list = await c.client([1]).members();
      return list.members.find((m) => m.id === 1)?.clientURL ? true : undefined;
    });
    await c.client([1]).put('before', 'removal');
    const commitBefore = Number((await c.status(1)).commit);
    const res = await fetch(`${c.url(1)}/members/1`, { method: 'DELETE' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('BadRequest');
    expect(body.error.message).toMatch(/only voter/);
    expect(Number((await c.status(1)).commit)).toBe(commitBefore);
    expect((await c.client([1]).members()).members.map((m) => m.id)).toEqual([1]);
    await c.client([1]).put('still', 'serving');
    expect((await c.client([1]).get('still'))?.toString()).toBe('serving');
  });
});
