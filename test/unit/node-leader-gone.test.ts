// A follower told that its leader's process is gone (its peer address refused a dial) forgets that leader and
// moves its election clock, so the survivors elect a new leader within one election timeout of hearing it, where
// waiting for the timeout takes at least one timeout. A report about a peer that does not lead, or a leader that
// is in fact alive, changes nothing that matters: the others still hear that leader and turn the pre-vote down.
//
// Real nodes on the fake disk and network of node_fakes.ts, a fake clock moved one tick at a time.

import { TestCluster, advance, runLoop, waitFor, TICK_MS } from './node_fakes';

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

const ELECTION_TICKS = 30;

// Member 2 times out first and so leads; the others wait 30 ticks (and up to 60, randomised) without a leader.
async function ledByTwo(): Promise<TestCluster> {
  const c = new TestCluster([1, 2, 3], (id) => ({ electionTicks: id === 2 ? 3 : ELECTION_TICKS }));
  c.start();
  await waitFor(() => c.leader()?.id === 2 && c.node(1).leaderId === 2 && c.node(3).leaderId === 2, 'member 2 leads');
  return c;
}

// Kills member 2 as SIGKILL would: it stops, and nothing reaches it or comes from it any more.
function killTwo(c: TestCluster): void {
  c.node(2).stop();
  c.isolate(2, 1);
  c.isolate(2, 3);
}

// Ticks until member 1 or 3 leads; how many it took.
async function ticksToNewLeader(c: TestCluster, maxTicks: number): Promise<number> {
  for (let ticks = 0; ticks <= maxTicks; ticks++) {
    const leader = c.leader();
    if (leader !== undefined && leader.id !== 2) return ticks;
    await advance(TICK_MS);
  }
  return Infinity;
}

describe('a leader whose process is gone', () => {
  test('the followers that hear of it elect a new leader within one election timeout', async () => {
    const c = await ledByTwo();
    killTwo(c);
    c.node(1).reportGone(2);
    c.node(3).reportGone(2);
    const ticks = await ticksToNewLeader(c, 2 * ELECTION_TICKS);
    expect(ticks).toBeLessThan(ELECTION_TICKS);
    for (const id of [1, 3]) {
      expect(c.member(id).logger.lines.some((l) => l.includes("leader 2's peer address refuses connections"))).toBe(true);
    }
    c.stopAll();
  });

  test('without the report, the survivors wait out the election timeout', async () => {
    const c = await ledByTwo();
    killTwo(c);
    const ticks = await ticksToNewLeader(c, 3 * ELECTION_TICKS);
    expect(ticks).toBeGreaterThanOrEqual(ELECTION_TICKS);
    expect(ticks).toBeLessThan(Infinity);
    c.stopAll();
  });

  test('a report about a peer that does not lead changes nothing', async () => {
    const c = await ledByTwo();
    const term = c.node(1).hardState().term;
    c.node(1).reportGone(3);
    await runLoop();
    expect(c.node(1).leaderId).toBe(2);
    await advance(2 * ELECTION_TICKS * TICK_MS);
    expect(c.leader()?.id).toBe(2);
    expect(c.node(1).hardState().term).toBe(term);
    expect(c.member(1).logger.lines.some((l) => l.includes('refuses connections'))).toBe(false);
    c.stopAll();
  });

  test('a wrong report about a live leader costs no term: the other follower still hears it and refuses the pre-vote', async () => {
    const c = await ledByTwo();
    const term = c.node(1).hardState().term;
    c.node(1).reportGone(2);
    await advance(2 * ELECTION_TICKS * TICK_MS);
    expect(c.leader()?.id).toBe(2);
    expect(c.node(1).leaderId).toBe(2);
    for (const id of [1, 2, 3]) expect(c.node(id).hardState().term).toBe(term);
    c.stopAll();
  });
});
