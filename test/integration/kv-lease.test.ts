// Leases on real member processes: a key with a lease lives while keepalives come, through any member, and goes
// within TTL + slack once they stop, never before the TTL; across a leader crash (kill -9) a lease kept alive
// survives and one left alone expires no earlier than a full TTL after the new leader's election; leases come
// back after every member restarts. The command line's lease commands close the file.
//
// Every "never before" is checked on reads: each read that ended before the earliest moment the lease may expire
// must have seen the key; the first read that misses it must end within TTL + slack.

import { execFile } from 'node:child_process';
import { KvClient, LeaseKeepAlive } from '../../kvstore/client';
import { KvError } from '../../kvstore/errors';
import { TestCluster, cliPath, electionTimeoutMs, waitFor } from './harness';

const ttl = 3;
// What may pass between a deadline and the key being gone, as seen by a client: a check interval of the lessor,
// a commit, the poll, and a loaded machine (the suite must pass on two shared cores).
const slackMs = 4000;
// The TTL of a lease a test keeps alive across a failover. Its holder must find the new leader before the time it
// last heard back runs out: a keepalive interval (a third of the TTL), the old leader's election timeout and
// campaign, and the client's attempts at members that do not answer (a paused one holds an attempt for its full
// timeout, after which the client starts elsewhere). Three seconds leaves too little of that to chance on two
// loaded cores, and six once lost a lease while a chaos run shared those cores: nine.
const keptTtl = 3 * ttl;

interface Poll {
  start: number;
  end: number;
  present: boolean;
}

// Reads `key` (linearizable) until it is gone or `forMs` passed; every read's interval and answer.
async function observe(client: KvClient, key: string, forMs: number): Promise<Poll[]> {
  const polls: Poll[] = [];
  const until = Date.now() + forMs;
  while (Date.now() < until) {
    const start = Date.now();
    let present: boolean;
    try {
      present = (await client.get(key)) !== null;
    } catch {
      continue; // No answer (an election): this read says nothing.
    }
    polls.push({ start, end: Date.now(), present });
    if (!present) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return polls;
}

// The key was seen by every read that ended before `notBefore`, and was gone by a read that ended before `by`.
function expectExpiredBetween(polls: Poll[], notBefore: number, by: number): void {
  const early = polls.filter((p) => p.end < notBefore && !p.present);
  expect(early).toEqual([]);
  const gone = polls.find((p) => !p.present);
  expect(gone).toBeDefined();
  expect(gone?.end ?? Infinity).toBeLessThanOrEqual(by);
}

// When the log of member `id` says it became leader in the highest term, as a Date.now() value.
function electedAt(c: TestCluster, id: number): number {
  const lines = c.log(id).split('\n').filter((l) => / became leader at term /.test(l));
  const last = lines[lines.length - 1] ?? '';
  return Date.parse(last.slice(0, last.indexOf(' ')));
}

function tsraft(endpoints: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, '--endpoints', endpoints, '--timeout', '3000', ...args], { env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

// Keepalive loops the tests start, stopped after each test so that a failed expectation does not leave one
// running: its timers would keep Jest from exiting. A keeper vouches for nothing until its first keepalive is
// answered, and before that it retries only for one call's budget: a fault injected sooner would test that budget,
// not a failover, so each test waits for the first answer.
const keepers: LeaseKeepAlive[] = [];
async function keptAlive(keeper: LeaseKeepAlive): Promise<LeaseKeepAlive> {
  keepers.push(keeper);
  await waitFor('the first keepalive answered', async () => (keeper.remainingMs() > 0 ? true : undefined), 10_000, 20);
  return keeper;
}
afterEach(() => {
  for (const keeper of keepers.splice(0)) keeper.stop();
});

describe('leases on a three-member cluster', () => {
  let c: TestCluster;
  beforeAll(async () => {
    // Frequent snapshots, so restarts load leases from snapshot files as well as from the log.
    c = await TestCluster.start(3, ['--snapshot-count', '16', '--snapshot-catchup', '4']);
  });
  afterAll(async () => {
    await c.destroy();
  });

  // A member a test killed, restarted by the next test's start whether or not that test passed.
  let restart = 0;
  beforeEach(async () => {
    if (restart === 0) return;
    c.spawn(restart);
    await c.waitHealthy([restart]);
    restart = 0;
  });

  async function follower(): Promise<number> {
    const leader = await c.leader();
    return c.running().find((id) => id !== leader) ?? 0;
  }

  test('keepalives sent to a follower keep a key alive; once they stop it goes within TTL + slack, never before', async () => {
    const viaFollower = c.client([await follower()]);
    const { id, ttl: granted } = await viaFollower.grantLease(ttl);
    expect(granted).toBe(ttl);
    await viaFollower.put('held', 'yes', { lease: id });
    expect((await viaFollower.getWithRevisions('held'))?.lease).toBe(id);
    const reader = c.client();
    // Two TTLs of keepalives through the follower, every third of the TTL, with the key read all along.
    let lastSent = 0;
    let lastAnswered = 0;
    let keeping = true;
    const answers: { id: number; ttl: number }[] = [];
    const keepalives = (async () => {
      while (keeping) {
        lastSent = Date.now();
        answers.push(await viaFollower.keepAliveOnce(id));
        lastAnswered = Date.now();
        await new Promise((resolve) => setTimeout(resolve, (ttl * 1000) / 3));
      }
    })();
    const polls = await observe(reader, 'held', 2 * ttl * 1000);
    keeping = false;
    await keepalives;
    expect(answers.length).toBeGreaterThanOrEqual(3);
    expect(answers.every((a) => a.id === id && a.ttl === ttl)).toBe(true);
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((p) => p.present)).toBe(true);
    const t = await viaFollower.leaseTimeToLive(id);
    expect(t).toMatchObject({ id, grantedTtl: ttl, keys: ['held'] });
    expect(t.ttl).toBeLessThanOrEqual(ttl);
    const after = await observe(reader, 'held', ttl * 1000 + slackMs + 5000);
    expectExpiredBetween(after, lastSent + ttl * 1000, lastAnswered + ttl * 1000 + slackMs);
    await expect(viaFollower.keepAliveOnce(id)).rejects.toMatchObject({ code: 'LeaseNotFound' });
    await expect(viaFollower.leaseTimeToLive(id)).rejects.toMatchObject({ code: 'LeaseNotFound' });
  }, 60_000);

  test('revoke deletes every attached key in one revision; a put naming a missing lease changes nothing', async () => {
    const client = c.client();
    const { id } = await client.grantLease(60);
    const r1 = await client.put('group/a', '1', { lease: id });
    await client.txn({ success: [{ op: 'put', key: 'group/b', value: '2', lease: id }] });
    expect((await client.leaseTimeToLive(id)).keys).toEqual(['group/a', 'group/b']);
    expect((await client.leases()).map((l) => l.id)).toContain(id);
    await expect(client.put('group/c', '3', { lease: 999_999 })).rejects.toMatchObject({ code: 'LeaseNotFound' });
    await expect(client.grantLease(60, { id })).rejects.toMatchObject({ code: 'LeaseExists' });
    expect(await client.grantLease(60, { id: 500_000 })).toEqual({ id: 500_000, ttl: 60 });
    await client.revokeLease(500_000);
    expect(await client.get('group/c')).toBeNull();
    const { revision } = await client.revokeLease(id);
    expect(revision).toBe(r1.revision + 2);
    const events: { revision: number; keys: string[] }[] = [];
    for await (const batch of client.watch('group/', { prefix: true, startRevision: revision, signal: AbortSignal.timeout(5000) })) {
      events.push({ revision: batch.revision, keys: batch.events.map((e) => `${e.type} ${e.key}`) });
      break;
    }
    expect(events).toEqual([{ revision, keys: ['delete group/a', 'delete group/b'] }]);
    expect(await client.list('group/')).toEqual([]);
    await expect(client.revokeLease(id)).rejects.toMatchObject({ code: 'LeaseNotFound' });
  }, 30_000);

  test('after kill -9 of the leader, a lease kept alive survives and one left alone expires no earlier than a TTL after the election', async () => {
    const client = c.client();
    const kept = await client.grantLease(keptTtl);
    const left = await client.grantLease(ttl);
    await client.put('kept', 'k', { lease: kept.id });
    await client.put('left', 'l', { lease: left.id });
    const keeper = await keptAlive(c.client(c.running(), 2000).keepAlive(kept.id));
    let lostError: KvError | undefined;
    void keeper.lost.then((err) => {
      lostError = err;
    });
    // Let most of the TTL of `left` run out on the old leader, then crash it.
    await waitFor('the lease left alone to be nearly expired', async () => ((await client.leaseTimeToLive(left.id)).ttl <= 1 ? true : undefined), 10_000, 100);
    const oldLeader = await c.leader();
    await c.stop(oldLeader, 'SIGKILL');
    restart = oldLeader;
    const newLeader = await waitFor('a new leader', async () => {
      const id = await c.leader();
      return id !== oldLeader ? id : undefined;
    }, 20_000);
    const elected = electedAt(c, newLeader);
    expect(Number.isFinite(elected)).toBe(true);
    const reader = c.client();
    const polls = await observe(reader, 'left', ttl * 1000 + slackMs + electionTimeoutMs + 5000);
    expectExpiredBetween(polls, elected + ttl * 1000, Date.now() + 1);
    expect(polls[polls.length - 1]?.end ?? Infinity).toBeLessThanOrEqual(elected + ttl * 1000 + slackMs);
    // The kept lease lived through all of it, and lives on for another TTL.
    const stillKept = await observe(reader, 'kept', keptTtl * 1000 + 500);
    expect(lostError).toBeUndefined();
    expect(stillKept.length).toBeGreaterThan(0);
    expect(stillKept.every((p) => p.present)).toBe(true);
    keeper.stop();
    await client.revokeLease(kept.id);
  }, 90_000);

  // The long form (`make test-long`): the same, leader after leader.
  const killRounds = process.env.TSRAFT_LONG === '1' ? 5 : 0;
  (killRounds > 0 ? test : test.skip)('a lease kept alive survives five leader kills in a row', async () => {
    const client = c.client();
    const kept = await client.grantLease(ttl);
    await client.put('survivor', 's', { lease: kept.id });
    const keeper = await keptAlive(c.client(c.running(), 2000).keepAlive(kept.id));
    let lostError: KvError | undefined;
    void keeper.lost.then((err) => {
      lostError = err;
    });
    const reader = c.client();
    const polls: Poll[] = [];
    for (let round = 0; round < killRounds; round++) {
      const leader = await c.leader();
      await c.stop(leader, 'SIGKILL');
      polls.push(...(await observe(reader, 'survivor', ttl * 1000)));
      c.spawn(leader);
      await c.waitHealthy([leader]);
    }
    polls.push(...(await observe(reader, 'survivor', ttl * 1000)));
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((p) => p.present)).toBe(true);
    expect(lostError).toBeUndefined();
    keeper.stop();
    await client.revokeLease(kept.id);
  }, 180_000);

  test('a leader paused past the deadlines (SIGSTOP) revokes nothing when it resumes; its successor expires only what was left alone', async () => {
    const client = c.client();
    const kept = await client.grantLease(keptTtl);
    const left = await client.grantLease(ttl);
    await client.put('paused/kept', 'k', { lease: kept.id });
    await client.put('paused/left', 'l', { lease: left.id });
    const keeper = await keptAlive(c.client(c.running(), 2000).keepAlive(kept.id));
    let lostError: KvError | undefined;
    void keeper.lost.then((err) => {
      lostError = err;
    });
    const paused = await c.leader();
    const proc = c.member(paused).proc;
    const others = c.running().filter((id) => id !== paused);
    proc?.kill('SIGSTOP');
    const pausedAt = Date.now();
    try {
      const successor = await waitFor('a leader among the others', async () => {
        const s = await c.status(others[0] ?? 0);
        return typeof s.leader === 'number' && others.includes(s.leader) ? s.leader : undefined;
      }, 20_000, 100);
      const elected = electedAt(c, successor);
      // The lease left alone goes under the successor, a full TTL after its election; by then every deadline the
      // paused leader holds has passed on its clock.
      const polls = await observe(c.client(others), 'paused/left', ttl * 1000 + slackMs + 5000);
      expectExpiredBetween(polls, elected + ttl * 1000, elected + ttl * 1000 + slackMs);
      // The kept lease's deadline on the paused leader's clock must be past too when it resumes.
      const untilKeptDeadline = pausedAt + keptTtl * 1000 + 500 - Date.now();
      if (untilKeptDeadline > 0) await new Promise((resolve) => setTimeout(resolve, untilKeptDeadline));
    } finally {
      proc?.kill('SIGCONT');
    }
    // Resumed, the old leader learns it was deposed; whatever it proposes for the kept lease changes nothing.
    const after = await observe(c.client(others), 'paused/kept', 2 * keptTtl * 1000);
    expect(lostError).toBeUndefined();
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((p) => p.present)).toBe(true);
    keeper.stop();
    await client.revokeLease(kept.id);
  }, 90_000);

  test('after every member restarts, leases come back and expire a full TTL after the new election', async () => {
    const client = c.client();
    const { id } = await client.grantLease(ttl);
    await client.put('restarted', 'r', { lease: id });
    const ids = c.running();
    await waitFor('a snapshot on every member', async () => {
      const statuses = await Promise.all(ids.map((m) => c.status(m)));
      return statuses.every((s) => Number(s.snapshotIndex) > 0) ? true : undefined;
    });
    await Promise.all(ids.map((m) => c.stop(m, 'SIGKILL')));
    for (const m of ids) c.spawn(m);
    await c.waitHealthy(ids);
    const leader = await c.leader();
    const elected = electedAt(c, leader);
    const reader = c.client();
    expect((await reader.leaseTimeToLive(id)).keys).toEqual(['restarted']);
    const polls = await observe(reader, 'restarted', ttl * 1000 + slackMs + 5000);
    expectExpiredBetween(polls, elected + ttl * 1000, elected + ttl * 1000 + slackMs);
  }, 90_000);

  test('the command line grants, attaches, shows, lists and revokes; bad input exits non-zero', async () => {
    const endpoints = c.running().map((id) => c.url(id)).join(',');
    const granted = await tsraft(endpoints, 'lease', 'grant', '60');
    expect(granted).toMatchObject({ code: 0 });
    const id = /lease (\d+) granted with TTL 60s/.exec(granted.stdout)?.[1] ?? '';
    expect(id).not.toBe('');
    expect(await tsraft(endpoints, 'put', '--lease', id, 'cli-key', 'v')).toMatchObject({ code: 0 });
    const shown = await tsraft(endpoints, 'lease', 'ttl', id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^lease ${id} granted TTL 60s, remaining \\d+s, 1 key\\n  cli-key\\n$`));
    expect((await tsraft(endpoints, 'lease', 'list')).stdout).toMatch(new RegExp(`^${id}\\tremaining \\d+s\\tgranted 60s$`, 'm'));
    expect(await tsraft(endpoints, 'lease', 'revoke', id)).toMatchObject({ code: 0, stdout: expect.stringMatching(/revoked at revision \d+/) });
    expect(await tsraft(endpoints, 'get', 'cli-key')).toMatchObject({ code: 1 });
    const again = await tsraft(endpoints, 'lease', 'keepalive', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/LeaseNotFound/);
    expect(await tsraft(endpoints, 'put', '--lease', '424242', 'cli-key', 'v')).toMatchObject({ code: 1, stderr: expect.stringMatching(/LeaseNotFound/) });
    expect(await tsraft(endpoints, 'lease', 'grant', 'soon')).toMatchObject({ code: 1, stderr: expect.stringMatching(/BadRequest/) });
    const zero = await fetch(`${c.url(1)}/lease/grant`, { method: 'POST', body: '{"ttl":0}' });
    expect(zero.status).toBe(400);
    const notNumber = await fetch(`${c.url(1)}/lease/abc/keepalive`, { method: 'POST' });
    expect(notNumber.status).toBe(400);
    expect((await fetch(`${c.url(1)}/lease/grant`)).status).toBe(405);
    // A request another member forwarded is never forwarded again: a member that does not lead answers 503.
    const forwarded = await fetch(`${c.url(await follower())}/lease/1/keepalive`, { method: 'POST', headers: { 'x-tsraft-forwarded-by': '9' } });
    expect(forwarded.status).toBe(503);
    expect(((await forwarded.json()) as { error: { code: string } }).error.code).toBe('NoLeader');
  }, 60_000);
});
