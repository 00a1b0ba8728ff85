// A three-member cluster of real processes: writes through any member, linearizable reads on every member.

import { TestCluster, waitFor } from './harness';

describe('three-member cluster', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start(3);
  });
  afterAll(async () => {
    await c.destroy();
  });

  test('a put on member 1 is read linearizably on member 3', async () => {
    await c.client([1]).put('greeting', 'hello');
    const value = await c.client([3]).get('greeting');
    expect(value?.toString()).toBe('hello');
  });

  test('writes through every member are visible on every member', async () => {
    for (const id of [1, 2, 3]) await c.client([id]).put(`via-${id}`, `value-${id}`);
    for (const reader of [1, 2, 3]) {
      for (const id of [1, 2, 3]) {
        expect((await c.client([reader]).get(`via-${id}`))?.toString()).toBe(`value-${id}`);
      }
    }
  });

  test('delete and list go through the log too', async () => {
    await c.client([2]).put('list/a', '1');
    await c.client([3]).put('list/b', '2');
    await c.client([1]).put('list/c', '3');
    expect(await c.client([2]).del('list/b')).toBe(true);
    expect(await c.client([1]).del('list/b')).toBe(false);
    const kvs = await c.client([3]).list('list/');
    expect(kvs).toEqual([{ key: 'list/a', value: '1' }, { key: 'list/c', value: '3' }]);
    expect(await c.client([3]).list('list/', 1)).toEqual([{ key: 'list/a', value: '1' }]);
  });

  test('status reports the role, term, leader, indexes and, on the leader, peer progress', async () => {
    const leader = await c.leader();
    const s = await c.status(leader);
    expect(s.role).toBe('leader');
    expect(s.leader).toBe(leader);
    expect(Number(s.term)).toBeGreaterThan(0);
    expect(Number(s.applied)).toBeGreaterThan(0);
    expect(Number(s.commit)).toBeGreaterThanOrEqual(Number(s.applied));
    expect(Object.keys(s.progress as object).sort()).toEqual(['1', '2', '3']);
    const follower = [1, 2, 3].find((id) => id !== leader) ?? 0;
    const fs = await c.status(follower);
    expect(fs.role).toBe('follower');
    expect(fs.leader).toBe(leader);
  });

  test('every member learns every client URL through the log', async () => {
    const expected = JSON.stringify([c.url(1), c.url(2), c.url(3)]);
    for (const id of [1, 2, 3]) {
      await waitFor(`member ${id} to know every client URL`, async () => {
        const list = await c.client([id]).members();
        return JSON.stringify(list.members.map((m) => m.clientURL)) === expected ? true : undefined;
      });
    }
  });

  test('leadership moves on request', async () => {
    const leader = await c.leader();
    const target = [1, 2, 3].find((id) => id !== leader) ?? 0;
    const reply = await c.client([leader]).transferLeader(target);
    expect(reply.leader).toBe(target);
    expect((await c.status(target)).role).toBe('leader');
  });

  test('leadership moves on a request sent to a follower', async () => {
    const leader = await c.leader();
    const [follower, target] = [1, 2, 3].filter((id) => id !== leader);
    // The follower forwards the request to the leader, worded as from the member that is to lead.
    const reply = await c.client([follower ?? 0]).transferLeader(target ?? 0);
    expect(reply.leader).toBe(target);
    expect((await c.status(target ?? 0)).role).toBe('leader');
  });
});
