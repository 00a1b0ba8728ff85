// Coordination on a real three-member cluster: compare-and-swap races, watches that survive losing their member,
// session writes applied once whichever member receives the retry, and compaction seen by watchers. The tests run
// in order: member 3 is killed in the watch test and the later ones use members 1 and 2.

import { KvClient, WatchBatch } from '../../kvstore/client';
import { TestCluster, waitFor } from './harness';

describe('coordination on a three-member cluster', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start(3);
  });
  afterAll(async () => {
    await c.destroy();
  });

  test('a CAS race between 16 clients on one key has exactly one winner per round', async () => {
    const clients = Array.from({ length: 16 }, (_, i) => c.client([(i % 3) + 1]));
    await clients[0]?.put('race', 'start');
    for (let round = 0; round < 5; round++) {
      const before = await clients[0]?.getWithRevisions('race');
      const expected = before?.modRevision ?? 0;
      const outcomes = await Promise.all(clients.map((cl, i) => cl.cas('race', `round-${round}-client-${i}`, expected)));
      const winners = outcomes.map((o, i) => (o.swapped ? i : -1)).filter((i) => i >= 0);
      expect(winners.length).toBe(1);
      const after = await clients[1]?.getWithRevisions('race');
      expect(after?.value).toBe(`round-${round}-client-${winners[0]}`);
      expect(after?.modRevision).toBe(outcomes[winners[0] ?? 0]?.revision);
      // Every loser saw the winner's write (or the key already moved on), never the state it expected.
      for (const o of outcomes) if (!o.swapped) expect(o.current?.modRevision).not.toBe(expected);
    }
  }, 60_000);

  test('a watch on member 3 sees every write made through member 1 in order, and resumes on member 2 when member 3 dies', async () => {
    const writer = c.client([1]);
    const first = await writer.put('watched/0', 'v0');
    const watcher = new KvClient([c.url(3), c.url(2)], { timeoutMs: 10_000 });
    const abort = new AbortController();
    const seen: WatchBatch[] = [];
    const done = (async () => {
      for await (const batch of watcher.watch('watched/', { prefix: true, startRevision: first.revision, signal: abort.signal })) seen.push(batch);
    })();
    const revisions = [first.revision];
    for (let i = 1; i < 20; i++) revisions.push((await writer.put(`watched/${i}`, `v${i}`)).revision);
    await waitFor('the watch to see the first 20 writes', () => (seen.length >= 20 ? true : undefined), 20_000);
    await c.stop(3, 'SIGKILL');
    for (let i = 20; i < 40; i++) revisions.push((await writer.put(`watched/${i}`, `v${i}`)).revision);
    await waitFor('the resumed watch to see all 40 writes', () => (seen.length >= 40 ? true : undefined), 30_000);
    abort.abort();
    await done;
    expect(seen.map((b) => b.revision)).toEqual(revisions);
    expect(seen.map((b) => b.events.map((e) => [e.type, e.key, e.value]))).toEqual(revisions.map((_, i) => [['put', `watched/${i}`, `v${i}`]]));
  }, 120_000);

  test('a retried session write is applied once, whichever member receives the retry', async () => {
    const send = (id: number, value: string) =>
      fetch(`${c.url(id)}/kv/once?client=retrier&seq=1`, { method: 'PUT', body: value }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const firstAnswer = await send(1, 'first');
    const before = await c.client([2]).getWithRevisions('once');
    const retry = await send(2, 'first');
    expect(firstAnswer.status).toBe(201);
    expect(retry).toEqual({ status: 201, body: { ...firstAnswer.body, duplicate: true } });
    const after = await c.client([2]).getWithRevisions('once');
    expect(after).toEqual(before);
    expect(after?.version).toBe(1);
  }, 30_000);

  test('a watch from a compacted revision is refused with the compaction revision; reads there answer Compacted', async () => {
    const kv = c.client([1]);
    await kv.put('old', 'a');
    const { revision } = await kv.put('old', 'b');
    await kv.compact(revision);
    // The client sends writes to the leader, and a watch starts from what the member it asks has applied, as in
    // etcd: a linearizable read on member 1 first makes sure member 1 has applied the compaction too.
    const barrier = await fetch(`${c.url(1)}/kv/old`);
    expect([barrier.status, await barrier.text()]).toEqual([200, 'b']);
    const res = await fetch(`${c.url(1)}/watch/old?startRevision=1`);
    expect(res.status).toBe(410);
    expect(await res.json()).toEqual({ error: { code: 'Compacted', message: expect.stringMatching(/oldest revision available is/) as unknown, compactRevision: revision } });
    const read = await fetch(`${c.url(2)}/kv/old?revision=${revision - 1}`);
    expect(read.status).toBe(410);
    expect((await c.client([2]).getWithRevisions('old', { revision }))?.value).toBe('b');
  }, 30_000);
});
