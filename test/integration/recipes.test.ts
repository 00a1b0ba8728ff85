// The coordination recipes (kvstore/recipes/) on a real three-member cluster. Lock holders, contenders and
// candidates run in their own processes (test/integration/recipes-holder.ts, from dist/), so that they can be
// killed with SIGKILL and paused with SIGSTOP as a real application would be.

import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { KvClient } from '../../kvstore/client';
import { ConfigValue, Election, LeaderInfo, WatchedConfig, acquireLock, fenceText, watchConfig } from '../../kvstore/recipes';
import { TestCluster, electionTimeoutMs, repoRoot, waitFor } from './harness';

const holderScript = path.join(repoRoot, 'dist', 'test', 'integration', 'recipes-holder.js');
/** Lease TTL of the lock and election tests, in seconds. */
const ttlSeconds = 2;
/**
 * Lease TTL of the election's candidates. The test resigns its second leader on purpose; with two seconds, keepalives
 * starved on a loaded machine could lose that leader its lease first, leaving it nothing to resign.
 */
const electionTtlSeconds = 4;
/** What a handover may take beyond TTL + one election timeout: a keepalive round trip, an apply, a watch event. */
const slackMs = 1000;

interface Report {
  event: string;
  pid: number;
  [field: string]: unknown;
}

/** A recipes-holder process and the JSON lines it has printed. */
class Holder {
  readonly reports: Report[] = [];
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [holderScript, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
    if (this.proc.stdout !== null) readline.createInterface({ input: this.proc.stdout }).on('line', (line) => this.reports.push(JSON.parse(line) as Report));
  }

  /** The `n`th report of `event` (from 0), once printed; throws at once if the process exited without it. */
  async next(event: string, n = 0, timeoutMs = 30_000): Promise<Report> {
    return waitFor(`report "${event}" #${n} from process ${this.proc.pid ?? '?'}`, () => {
      this.throwIfFailed();
      const found = this.reports.filter((r) => r.event === event)[n];
      if (found === undefined && (this.proc.exitCode !== null || this.proc.signalCode !== null)) {
        throw new Error(`process ${this.proc.pid ?? '?'} exited (${this.proc.exitCode ?? this.proc.signalCode}) without report "${event}" #${n}; it reported: ${this.reports.map((r) => r.event).join(', ')}`);
      }
      return found;
    }, timeoutMs, 20);
  }

  /** Throws, naming the error, if the process reported one (so a wait on it says why it timed out). */
  throwIfFailed(): void {
    const failed = this.reports.find((r) => r.event === 'error');
    if (failed !== undefined) throw new Error(`process ${failed.pid} failed: ${String(failed.message)}`);
  }

  has(event: string): boolean {
    return this.reports.some((r) => r.event === event);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    await this.exited;
  }
}

describe('recipes on a three-member cluster', () => {
  let c: TestCluster;
  const holders: Holder[] = [];
  const endpoints = (): string => [1, 2, 3].map((id) => c.url(id)).join(',');
  const holder = (...args: string[]): Holder => {
    const h = new Holder(args);
    holders.push(h);
    return h;
  };
  beforeAll(async () => {
    c = await TestCluster.start(3);
  });
  afterEach(async () => {
    await Promise.all(holders.splice(0).map((h) => h.kill()));
    // Every test starts with all three members up.
    for (const id of [1, 2, 3]) if (!c.running().includes(id)) c.spawn(id);
    await c.waitHealthy([1, 2, 3]);
  });
  afterAll(async () => {
    await c.destroy();
  });

  test('a watched config value sees every change, in order and once, across a restart of the member it reads from', async () => {
    const writer = c.client([1]);
    const initial = await writer.put('config/limit', '10');
    // The reader talks to member 2 first; member 1 is where it goes while member 2 is down.
    const reader = c.client([2, 1]);
    const abort = new AbortController();
    const seen: ConfigValue[] = [];
    const reading = (async () => {
      for await (const update of watchConfig(reader, 'config/limit', { signal: abort.signal })) seen.push(update);
    })();
    const expected: ConfigValue[] = [{ value: '10', revision: initial.revision }];
    // The reader stops whatever happens: a watch left open would keep Jest from exiting after a failure.
    try {
      await waitFor('the first read', () => (seen.length >= 1 ? true : undefined));
      const change = async (value: string | null): Promise<void> => {
        const revision = value === null ? (await writer.txn({ success: [{ op: 'delete', key: 'config/limit' }] })).revision : (await writer.put('config/limit', value)).revision;
        expected.push({ value, revision });
        // Writes to other keys must not show up.
        await writer.put('config/other', String(revision));
      };
      for (let i = 11; i < 16; i++) await change(String(i));
      await waitFor('the changes before the restart', () => (seen.length >= expected.length ? true : undefined));
      // Member 2 must not lead when it is killed. This test is about the watch, not failover: a write made through
      // member 1 just after a leader's kill can be forwarded to the dead leader and end with an unknown outcome.
      await waitFor('a leader other than member 2', async () => {
        if ((await c.leader()) !== 2) return true;
        await c.client([1, 2, 3]).transferLeader(1);
        return (await c.leader()) !== 2 ? true : undefined;
      }, 30_000, 200);
      await c.stop(2, 'SIGKILL');
      for (let i = 16; i < 20; i++) await change(String(i));
      await change(null);
      c.spawn(2);
      await c.waitHealthy([2]);
      await change('20');
      await waitFor('every change', () => (seen.length >= expected.length ? true : undefined), 30_000);
    } finally {
      abort.abort();
      await reading;
    }
    expect(seen).toEqual(expected);
  }, 60_000);

  test('WatchedConfig keeps the latest value and tells each change', async () => {
    const writer = c.client([1]);
    const heard: (string | null)[] = [];
    const config = await WatchedConfig.open(c.client([3]), 'config/absent', { onChange: (v) => heard.push(v.value) });
    expect(config.current.value).toBeNull();
    await writer.put('config/absent', 'on');
    const { revision } = await writer.put('config/absent', 'off');
    await waitFor('the second change', () => (config.current.revision === revision ? true : undefined));
    config.close();
    expect(heard).toEqual([null, 'on', 'off']);
    expect(config.current).toEqual({ value: 'off', revision });
  }, 30_000);

  // The waiter is in the test process; the holder is killed. Returns how long after the kill the waiter acquired.
  async function handoverAfterKill(prefix: string, killLeaderToo: boolean): Promise<number> {
    const first = holder('lock', endpoints(), prefix, String(ttlSeconds));
    const held = await first.next('acquired');
    let acquiredAt = 0;
    const waiting = acquireLock(new KvClient(endpoints().split(','), { timeoutMs: 10_000 }), prefix, { ttlSeconds }).then((lock) => {
      acquiredAt = Date.now();
      return lock;
    });
    await waitFor('the waiter to join the line', async () => ((await c.client().listWithRevisions(`${prefix}/`)).kvs.length === 2 ? true : undefined));
    const leader = killLeaderToo ? await c.leader() : 0;
    expect(acquiredAt).toBe(0);
    const killedAt = Date.now();
    await Promise.all([first.kill('SIGKILL'), killLeaderToo ? c.stop(leader, 'SIGKILL') : Promise.resolve()]);
    const lock = await waiting;
    expect(lock.fencingToken).toBeGreaterThan(Number(held.token));
    await lock.release();
    return acquiredAt - killedAt;
  }

  test('a lease-held lock moves to a waiter within TTL + one election timeout after its holder is killed', async () => {
    const elapsed = await handoverAfterKill('locks/killed-holder', false);
    // Not before the lease could have expired: the last keepalive was at most a fraction of the TTL before the kill.
    expect(elapsed).toBeGreaterThanOrEqual((ttlSeconds * 1000) / 2);
    expect(elapsed).toBeLessThanOrEqual(ttlSeconds * 1000 + electionTimeoutMs + slackMs);
  }, 60_000);

  test('the lock moves within TTL + one election timeout when the leader member is killed with the holder', async () => {
    // The new leader gives every lease a fresh TTL, so the holder's lease expires a TTL after the election. One
    // election takes a randomized timeout in [electionTimeoutMs, 2 * electionTimeoutMs) and a round of votes.
    const elapsed = await handoverAfterKill('locks/killed-holder-and-leader', true);
    expect(elapsed).toBeLessThanOrEqual(ttlSeconds * 1000 + 2 * electionTimeoutMs + slackMs);
  }, 60_000);

  test('never two holders with valid fencing tokens: five contenders, one paused past its TTL and resumed', async () => {
    const kv = c.client();
    const fence = 'guard/fence';
    const data = 'guard/data';
    const start = await kv.put('guard/start', 'start');
    const history: { id: string; token: number; round: number; write: number; revision: number }[] = [];
    const abort = new AbortController();
    const watching = (async () => {
      for await (const batch of kv.watch(data, { startRevision: start.revision + 1, signal: abort.signal })) {
        for (const e of batch.events) history.push({ ...(JSON.parse(e.value ?? '{}') as { id: string; token: number; round: number; write: number }), revision: batch.revision });
      }
    })();
    const rounds = 4;
    // A longer TTL than the other tests: five contenders and three members share two cores, and a keepalive that
    // misses its TTL under load would take a lock away from a holder that was not paused.
    const contendTtlSeconds = 4;
    const contenders = Array.from({ length: 5 }, (_, i) =>
      holder('contend', endpoints(), 'locks/guard', String(contendTtlSeconds), fence, data, `c${i}`, String(rounds), ...(i === 0 ? ['1'] : [])),
    );
    const paused = contenders[0] as Holder;
    const pausing = await paused.next('pausing');
    // Stopped: its keepalive stopped with it. Wait until the resource has accepted a later holder's token.
    await waitFor('another holder to write after the lease of the paused one expired', async () => {
      const got = await kv.getWithRevisions(fence);
      return got !== null && got.value > fenceText(Number(pausing.token)) ? true : undefined;
    }, 30_000);
    paused.proc.kill('SIGCONT');
    await Promise.all(contenders.map((h) => h.next('done', 0, 90_000)));
    const lastWrite = (await kv.getWithRevisions(data))?.modRevision;
    await waitFor('the watch to deliver the last write', () => (history.at(-1)?.revision === lastWrite ? true : undefined));
    abort.abort();
    await watching;

    // The resumed holder's writes were refused: a higher token had been accepted.
    const resumedWrites = paused.reports.filter((r) => r.round === 1 && (r.event === 'accepted' || r.event === 'refused'));
    expect(resumedWrites.map((r) => r.event)).toEqual(['refused', 'refused']);
    expect(Number(resumedWrites[0]?.highestToken)).toBeGreaterThan(Number(pausing.token));

    // The resource's history is exactly the writes it acknowledged as accepted...
    const describeWrite = (w: Record<string, unknown>): string => `${String(w.id)} token ${String(w.token)} round ${String(w.round)} write ${String(w.write)}`;
    const accepted = contenders.flatMap((h) => h.reports.filter((r) => r.event === 'accepted'));
    expect(history.map(describeWrite).sort()).toEqual(accepted.map(describeWrite).sort());
    // ... holder after holder with rising tokens, never two holders interleaved.
    const runs: { token: number; id: string }[] = [];
    for (const h of history) {
      const run = runs.at(-1);
      if (run !== undefined && run.token === h.token) {
        expect(h.id).toBe(run.id);
      } else {
        if (run !== undefined) expect(h.token).toBeGreaterThan(run.token);
        runs.push({ token: h.token, id: h.id });
      }
    }
    // Every acquisition had its own token, and every refusal named a higher token already accepted.
    const tokens = contenders.flatMap((h) => h.reports.filter((r) => r.event === 'acquired').map((r) => Number(r.token)));
    expect(tokens).toHaveLength(5 * rounds);
    expect(new Set(tokens).size).toBe(5 * rounds);
    for (const r of contenders.flatMap((h) => h.reports.filter((x) => x.event === 'refused'))) expect(Number(r.highestToken)).toBeGreaterThan(Number(r.token));
    // Without load, only the paused holder is refused: every other acquisition wrote twice.
    expect(history.length).toBeGreaterThanOrEqual(rounds * 2);
  }, 120_000);

  test('election: one leader at a time, a new one when the leader is killed, the next at once when it resigns; observers see each', async () => {
    const election = new Election(c.client(), 'elections/primary');
    const candidates = ['a', 'b', 'c'].map((value) => holder('campaign', endpoints(), 'elections/primary', String(electionTtlSeconds), value));
    const electedOf = (): string[] => {
      for (const h of candidates) h.throwIfFailed();
      return candidates.filter((h) => h.has('elected')).map((h) => String(h.reports.find((r) => r.event === 'elected')?.value));
    };
    const firstElected = await waitFor('a first leader', () => (electedOf().length > 0 ? electedOf() : undefined));
    expect(firstElected).toHaveLength(1);
    const seen: (LeaderInfo | null)[] = [];
    const abort = new AbortController();
    const observing = (async () => {
      for await (const leader of election.observe({ signal: abort.signal })) seen.push(leader);
    })();
    // The observer stops whatever happens: a watch left open would keep Jest from exiting after a failure.
    try {
      const first = candidates.find((h) => h.has('elected')) as Holder;
      await waitFor('the observer to see the first leader', () => (seen.length >= 1 ? true : undefined));
      expect(seen[0]?.value).toBe(firstElected[0]);
      expect((await election.leader())?.value).toBe(firstElected[0]);

      const killedAt = Date.now();
      await first.kill('SIGKILL');
      const second = await waitFor('a second leader', () => (electedOf().length > 1 ? candidates.find((h) => h !== first && h.has('elected')) : undefined), 30_000);
      expect(Date.now() - killedAt).toBeLessThanOrEqual(electionTtlSeconds * 1000 + electionTimeoutMs + slackMs);
      expect(electedOf()).toHaveLength(2);

      const resignedAt = Date.now();
      second.proc.kill('SIGTERM');
      await second.next('resigned');
      const third = await waitFor('a third leader', () => (electedOf().length > 2 ? candidates.find((h) => h !== first && h !== second && h.has('elected')) : undefined), 30_000);
      // A resignation deletes the key at once: no waiting for a lease to expire.
      expect(Date.now() - resignedAt).toBeLessThan(electionTtlSeconds * 1000);
      await waitFor('the observer to see the third leader', () => (seen.length >= 3 ? true : undefined));
      const value = (h: Holder): string => String(h.reports.find((r) => r.event === 'elected')?.value);
      expect(seen.map((l) => l?.value)).toEqual([value(first), value(second), value(third)]);
      for (let i = 1; i < seen.length; i++) expect(seen[i]?.revision).toBeGreaterThan(seen[i - 1]?.revision ?? 0);
    } finally {
      abort.abort();
      await observing;
    }
  }, 90_000);

  test('a held lock reports its loss when its lease goes; a waiter that gives up leaves the line', async () => {
    const kv = c.client();
    // A short TTL: the keepalive that finds the lease gone runs every third of it.
    const lock = await acquireLock(kv, 'locks/lost', { ttlSeconds });
    const abort = new AbortController();
    const waiter = acquireLock(kv, 'locks/lost', { ttlSeconds: 10, signal: abort.signal });
    await waitFor('the waiter to join the line', async () => ((await kv.listWithRevisions('locks/lost/')).kvs.length === 2 ? true : undefined));
    abort.abort();
    await expect(waiter).rejects.toMatchObject({ name: 'RecipeError', code: 'Aborted' });
    expect((await kv.listWithRevisions('locks/lost/')).kvs.map((k) => k.key)).toEqual([lock.key]);

    // Somebody revokes the holder's lease (an operator, or the leader on expiry): the key goes and the handle says so.
    await kv.revokeLease(lock.leaseId);
    await expect(lock.lost).resolves.toMatchObject({ name: 'RecipeError', code: 'LeaseLost' });
    expect(await kv.getWithRevisions(lock.key)).toBeNull();
    await lock.release();
  }, 30_000);

  test('after a compaction took the revisions a watch needed, the config reader and the election observer read again and carry on', async () => {
    const kv = c.client();
    await kv.put('config/compacted', 'v0');
    const updates = watchConfig(kv, 'config/compacted');
    expect((await updates.next()).value).toMatchObject({ value: 'v0' });
    const election = new Election(kv, 'elections/compacted');
    const leadership = await election.campaign('first', { ttlSeconds: 10 });
    const observed = election.observe();
    expect((await observed.next()).value).toMatchObject({ value: 'first', revision: leadership.revision });

    // Both generators are suspended after their first read: their watches start only on the next call, from
    // revisions that are gone by then.
    await kv.put('config/compacted', 'v1');
    const { revision } = await kv.put('config/compacted', 'v2');
    await leadership.proclaim('second');
    const { compactRevision } = await kv.compact((await kv.put('config/after', 'x')).revision);
    expect(compactRevision).toBeGreaterThan(revision);

    // The intermediate value v1 is gone from every member; the reader jumps to the value now, once.
    expect((await updates.next()).value).toEqual({ value: 'v2', revision });
    const third = kv.put('config/compacted', 'v3');
    expect((await updates.next()).value).toEqual({ value: 'v3', revision: (await third).revision });
    await updates.return(undefined);

    expect((await observed.next()).value).toMatchObject({ value: 'second', revision: leadership.revision });
    await leadership.resign();
    expect((await observed.next()).value).toBeNull();
    await observed.return(undefined);
  }, 30_000);
});
