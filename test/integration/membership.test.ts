// Membership through the API: a fourth member joins with one command, another is removed and stops itself, and
// a restart of everyone in a random order keeps every key and every address.

import { TestCluster, waitFor } from './harness';

describe('membership changes', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start(3);
  });
  afterAll(async () => {
    await c.destroy();
  });

  test('join, write, remove, then restart all in a random order', async () => {
    await c.client().put('before-join', '1');

    await c.allocate(4);
    c.spawn(4, ['--join', c.url(1)]);
    await c.waitHealthy([4]);
    const afterJoin = await c.client([2]).members();
    expect(afterJoin.members.map((m) => m.id)).toEqual([1, 2, 3, 4]);
    expect(afterJoin.members.find((m) => m.id === 4)?.peerURL).toBe(c.peerUrl(4));
    expect((await c.client([4]).get('before-join'))?.toString()).toBe('1');

    await c.client([4]).put('after-join', '2');
    expect((await c.client([3]).get('after-join'))?.toString()).toBe('2');

    await c.client([1]).removeMember(2);
    expect(await c.member(2).exited).toBe(0);
    expect(c.log(2)).toMatch(/removed from the cluster/);
    expect((await c.client([1]).members()).members.map((m) => m.id)).toEqual([1, 3, 4]);
    // If member 2 led, the others elect a new leader first; a write proposed during that election could time out
    // with an unknown outcome, which the client rightly refuses to retry.
    await c.leader();
    await c.client([3]).put('after-remove', '3');

    const order = [1, 3, 4].sort(() => Math.random() - 0.5);
    for (const id of order) await c.stop(id);
    for (const id of order) c.spawn(id);
    await c.waitHealthy(order);
    for (const id of order) {
      const kv = c.client([id]);
      expect((await kv.get('before-join'))?.toString()).toBe('1');
      expect((await kv.get('after-join'))?.toString()).toBe('2');
      expect((await kv.get('after-remove'))?.toString()).toBe('3');
      const list = await kv.members();
      expect(list.members.map((m) => m.id)).toEqual([1, 3, 4]);
      expect(list.members.map((m) => m.peerURL)).toEqual([c.peerUrl(1), c.peerUrl(3), c.peerUrl(4)]);
    }
  });

  test('a learner added through the API starts with --join, catches up, and is promoted', async () => {
    const peerURL = `http://127.0.0.1:${(await c.allocate(5)).peerPort}`;
    const added = (await c.client([1]).addMember(peerURL, { learner: true, id: 5 })) as { id: number };
    expect(added.id).toBe(5);
    // Joining with the peer URL of a member already added returns that member's ID instead of adding another.
    c.spawn(5, ['--join', c.url(3)]);
    await c.waitHealthy([5]);
    await waitFor('the learner to catch up', async () => ((await c.client([5]).get('after-remove', 'serializable'))?.toString() === '3' ? true : undefined));
    expect((await c.client([1]).members()).members.find((m) => m.id === 5)?.learner).toBe(true);

    await c.client([4]).promoteMember(5);
    // Member 4 answered once it applied the promotion; member 1 serves the list from its own applied state, which
    // may be a moment behind.
    await waitFor('member 1 to apply the promotion', async () => ((await c.client([1]).members()).members.find((m) => m.id === 5)?.learner === false ? true : undefined));
  });

  test('a removed member that is started again stops by itself', async () => {
    c.spawn(2);
    const code = await waitFor('member 2 to stop', () => c.member(2).exited ?? undefined, 20_000);
    expect(await code).toBe(0);
  });
});
