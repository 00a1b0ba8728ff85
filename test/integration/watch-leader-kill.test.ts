// A watch that outlives the leader it was reading from. Member 3 is made the leader and a watch is opened on it;
// writes go through member 1 without pause while member 3 is killed with SIGKILL. The watch's stream breaks, it
// reconnects to member 2 from the revision after the last one it delivered, and the writes carry on once members 1
// and 2 elect a new leader. What the watch delivered must be the store's history, exactly:
//
// - revisions strictly increase (no repeat, no reordering);
// - every acknowledged write appears once, at the revision its acknowledgement named, with its key and value;
// - a write whose outcome is unknown (the leader died with it in flight) appears at most once;
// - a write refused as certainly not applied (no leader, member unavailable) never appears;
// - nothing else appears.
//
// At the end member 3 is restarted and must catch up to the last write.

import { KvClient, WatchBatch } from '../../kvstore/client';
import { KvError } from '../../kvstore/errors';
import { TestCluster, waitFor } from './harness';

type Outcome = { state: 'acked'; revision: number } | { state: 'unknown'; code: string } | { state: 'refused'; code: string };

// Codes a write can fail with when it certainly changed nothing: the client retries these until its budget runs out.
const refusedCodes = new Set(['NoLeader', 'Unavailable', 'Stopped']);
// Codes that leave the outcome open.
const unknownCodes = new Set(['OutcomeUnknown', 'Internal']);

describe('a watch across a kill -9 of the leader', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start(3);
  });
  afterAll(async () => {
    await c.destroy();
  });

  test('a watch on the leader, member 3, sees every write made through member 1 exactly once, across the kill', async () => {
    // Member 3 leads, so killing the leader also breaks the watch's stream.
    const admin = c.client([1, 2, 3]);
    await waitFor('member 3 to become the leader', async () => {
      if ((await c.leader()) === 3) return true;
      await admin.transferLeader(3);
      return (await c.leader()) === 3 ? true : undefined;
    }, 30_000, 200);

    const writer = c.client([1]);
    const start = await writer.put('w/start', 'start');
    const watcher = new KvClient([c.url(3), c.url(2)], { timeoutMs: 10_000 });
    const abort = new AbortController();
    const seen: WatchBatch[] = [];
    const watching = (async () => {
      for await (const batch of watcher.watch('w/', { prefix: true, startRevision: start.revision, signal: abort.signal })) seen.push(batch);
    })();

    const outcomes = new Map<string, Outcome>([['w/start', { state: 'acked', revision: start.revision }]]);
    const valueOf = (key: string): string => (key === 'w/start' ? 'start' : key === 'w/last' ? 'last' : `value of ${key}`);
    let ackedAfterKill = 0;
    let killed = false;
    let stop = false;
    // One write at a time, as fast as the cluster answers, until told to stop.
    const writing = (async () => {
      for (let i = 0; !stop; i++) {
        const key = `w/${i}`;
        try {
          const { revision } = await writer.put(key, valueOf(key));
          outcomes.set(key, { state: 'acked', revision });
          if (killed) ackedAfterKill++;
        } catch (err) {
          if (!(err instanceof KvError)) throw err;
          if (refusedCodes.has(err.code)) outcomes.set(key, { state: 'refused', code: err.code });
          else if (unknownCodes.has(err.code)) outcomes.set(key, { state: 'unknown', code: err.code });
          else throw err;
        }
      }
    })();

    await waitFor('the watch to deliver 20 writes from member 3', () => (seen.length >= 20 ? true : undefined), 30_000);
    const lastRevisionBeforeKill = seen[seen.length - 1]?.revision ?? 0;
    killed = true;
    await c.stop(3, 'SIGKILL');
    await waitFor('30 writes acknowledged after the kill', () => (ackedAfterKill >= 30 ? true : undefined), 60_000);
    stop = true;
    await writing;

    const last = await writer.put('w/last', 'last');
    outcomes.set('w/last', { state: 'acked', revision: last.revision });
    await waitFor('the resumed watch to reach the last write', () => (seen.some((b) => b.revision === last.revision) ? true : undefined), 30_000);
    abort.abort();
    await watching;

    const revisions = seen.map((b) => b.revision);
    for (let i = 1; i < revisions.length; i++) expect(revisions[i]).toBeGreaterThan(revisions[i - 1] ?? 0);
    const events = seen.flatMap((b) => b.events.map((e) => ({ revision: b.revision, ...e })));
    // Every write here is a put of a fresh key, so each key's put appears at most once.
    const byKey = new Map<string, typeof events>();
    for (const e of events) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
    for (const [key, list] of byKey) {
      const outcome = outcomes.get(key);
      expect({ key, written: outcome !== undefined }).toEqual({ key, written: true });
      expect({ key, appearances: list.length, state: outcome?.state }).toEqual({ key, appearances: 1, state: expect.not.stringMatching(/^refused$/) as unknown });
      expect({ key, type: list[0]?.type, value: list[0]?.value }).toEqual({ key, type: 'put', value: valueOf(key) });
    }
    for (const [key, outcome] of outcomes) {
      if (outcome.state !== 'acked') continue;
      const list = byKey.get(key) ?? [];
      expect({ key, revisions: list.map((e) => e.revision) }).toEqual({ key, revisions: [outcome.revision] });
    }
    const counts = { acked: 0, unknown: 0, refused: 0 };
    for (const o of outcomes.values()) counts[o.state]++;
    // The resumed watch delivered the writes made after the kill: of the 30 acknowledged then, at most one (the
    // write in flight at the kill; there is one writer) can be older than what the watch had seen, and w/last is
    // newer still.
    expect(events.filter((e) => e.revision > lastRevisionBeforeKill).length).toBeGreaterThanOrEqual(30);
    expect(events.length).toBeGreaterThanOrEqual(counts.acked);
    expect(events.length).toBeLessThanOrEqual(counts.acked + counts.unknown);

    // The killed member comes back and catches up with everything written while it was down.
    c.spawn(3);
    await c.waitHealthy([3]);
    await waitFor('member 3 to apply the last write', async () => ((await c.client([3]).get('w/last', 'serializable'))?.toString() === 'last' ? true : undefined), 30_000);
  }, 180_000);
});
