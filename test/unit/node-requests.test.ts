// What a member answers a request that cannot be served: the code tells the client whether retrying is safe.
// 503 (NoLeader, Unavailable, Stopped) promises nothing changed; 504 (OutcomeUnknown) says the request may still
// take effect, because the core already has it. Real RawNodes, a fake disk and network, a fake clock.

import { CommandOp } from '../../kvstore/command';
import { encodeMemberContext } from '../../kvstore/members';
import { Requests } from '../../kvstore/requests';
import { ConfChangeType } from '../../raft/types';
import { TestCluster, advance, outcome, runLoop, waitFor } from './node_fakes';

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

// Three members, member 2 the first to campaign; resolves once 2 leads and the others have caught up.
async function ledByTwo(timeoutMs = 1000, leaderWaitMs = 0): Promise<TestCluster> {
  const c = new TestCluster([1, 2, 3], (id) => ({ electionTicks: id === 2 ? 3 : 30, requestTimeoutMs: timeoutMs, leaderWaitMs }));
  c.start();
  await waitFor(() => c.leader()?.id === 2, 'member 2 leads');
  await waitFor(() => [1, 3].every((id) => c.node(id).applied === c.node(2).applied), 'followers catch up');
  return c;
}

const put = (key: string) => [CommandOp.Put, key, Buffer.from('v')] as const;

describe('a request that finds no leader waits for one, for a while', () => {
  test('a write and a read sent before the first election are answered once a leader is elected', async () => {
    const c = new TestCluster([1, 2, 3], (id) => ({ electionTicks: id === 2 ? 3 : 30, requestTimeoutMs: 5000, leaderWaitMs: 2000 }));
    c.start();
    const w = outcome(c.node(1).propose(...put('k')));
    const r = outcome(c.node(3).readBarrier());
    await runLoop();
    expect(c.leader()).toBeUndefined();
    expect(w.settled || r.settled).toBe(false);
    await waitFor(() => w.settled && r.settled, 'the write and the read are answered');
    expect(w.error).toBeUndefined();
    expect(r.error).toBeUndefined();
    expect(c.leader()?.id).toBe(2);
    expect(c.node(1).kv.get('k')?.toString()).toBe('v');
    c.stopAll();
  });

  test('a write to a follower whose leader comes back within the wait is proposed once, and applied', async () => {
    const c = await ledByTwo(5000, 1000);
    c.isolate(1, 2);
    const w = outcome(c.node(1).propose(...put('k')));
    await advance(300);
    expect(w.settled).toBe(false);
    c.heal();
    await waitFor(() => w.settled, 'the write is answered');
    expect(w.error).toBeUndefined();
    expect(c.node(1).counters().proposals).toBe(1);
    expect(c.node(2).kv.get('k')?.toString()).toBe('v');
    c.stopAll();
  });
});

describe('failures before the core has the request: nothing changed', () => {
  test('a write while no leader is known fails at once with NoLeader (503)', async () => {
    const c = new TestCluster([1, 2, 3], () => ({ electionTicks: 30 }));
    c.start();
    const w = outcome(c.node(1).propose(...put('k')));
    await runLoop();
    expect(w.error).toMatchObject({ code: 'NoLeader', status: 503 });
    expect(c.node(1).counters().proposals).toBe(0);
    c.stopAll();
  });

  test('a write to a follower cut off from the leader fails with NoLeader (503) and is never proposed', async () => {
    const c = await ledByTwo();
    c.isolate(1, 2);
    const w = outcome(c.node(1).propose(...put('k')));
    await runLoop();
    expect(w.error).toMatchObject({ code: 'NoLeader', status: 503 });
    expect(w.error?.message).toMatch(/Leader 2 is unreachable from member 1/);
    expect(c.node(1).counters().proposals).toBe(0);
    c.stopAll();
  });

  test('a write and a read that find no reachable leader wait leaderWaitMs for one, then fail with NoLeader (503), never proposed', async () => {
    const c = await ledByTwo(5000, 200);
    c.isolate(1, 2);
    const w = outcome(c.node(1).propose(...put('k')));
    const r = outcome(c.node(1).readBarrier());
    await advance(150);
    expect(w.settled || r.settled).toBe(false);
    await advance(100);
    expect(w.error).toMatchObject({ code: 'NoLeader', status: 503 });
    expect(r.error).toMatchObject({ code: 'NoLeader', status: 503 });
    c.heal();
    await advance(500);
    expect(c.node(1).counters().proposals).toBe(0);
    expect(c.node(2).kv.get('k')).toBeUndefined();
    c.stopAll();
  });

  test('a write, a read and a membership change queued when stop() runs fail with Stopped (503)', async () => {
    const c = await ledByTwo();
    const n = c.node(2);
    const w = outcome(n.propose(...put('k')));
    const r = outcome(n.readBarrier());
    const tag = n.nextRequestTag();
    const cc = outcome(n.proposeConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: 4, context: encodeMemberContext({ peerURL: 'http://n4', clientURL: '', request: tag }), id: 0 }, tag));
    n.stop();
    await runLoop();
    for (const o of [w, r, cc]) expect(o.error).toMatchObject({ code: 'Stopped', status: 503 });
    expect(n.counters().proposals).toBe(0);
    expect(() => n.propose(...put('later'))).toThrow(/has stopped/);
    c.stopAll();
  });

  test('a write still queued behind a slow fsync when its time runs out fails with Unavailable (503) and is never proposed', async () => {
    const c = await ledByTwo(200);
    const leader = c.member(2);
    leader.disk.holdSyncs = true;
    const first = outcome(leader.node.propose(...put('first')));
    await waitFor(() => leader.disk.syncsWaiting > 0, 'the leader waits for its fsync');
    // The loop is inside a turn, waiting on the disk: this write is queued, not handed to the core.
    const queued = outcome(leader.node.propose(...put('queued')));
    await advance(250);
    expect(queued.error).toMatchObject({ code: 'Unavailable', status: 503 });
    expect(first.error).toMatchObject({ code: 'OutcomeUnknown', status: 504 });
    const proposedBefore = leader.node.counters().proposals;
    leader.disk.holdSyncs = false;
    leader.disk.finishSyncs();
    await advance(100);
    expect(leader.node.counters().proposals).toBe(proposedBefore);
    expect(leader.node.kv.get('queued')).toBeUndefined();
    await waitFor(() => leader.node.kv.get('first') !== undefined, 'the first write is applied after all');
    c.stopAll();
  });
});

describe('failures after the core has the request: the outcome is unknown', () => {
  test('a write that is proposed but not applied in time fails with OutcomeUnknown (504)', async () => {
    const c = await ledByTwo(300);
    c.isolate(2, 1);
    c.isolate(2, 3);
    const w = outcome(c.node(2).propose(...put('k')));
    await runLoop();
    expect(c.node(2).counters().proposals).toBe(1);
    await advance(350);
    expect(w.error).toMatchObject({ code: 'OutcomeUnknown', status: 504 });
    c.stopAll();
  });

  test('a leadership transfer that does not happen in time fails with OutcomeUnknown (504): the target may still win', async () => {
    const c = await ledByTwo(300);
    c.isolate(2, 3);
    const moved = outcome(c.node(2).transferLeader(3));
    await advance(350);
    expect(moved.error).toMatchObject({ code: 'OutcomeUnknown', status: 504 });
    expect(c.node(2).leaderId).toBe(2);
    c.stopAll();
  });

  test('a read not confirmed by a quorum in time fails with Unavailable (503)', async () => {
    const c = await ledByTwo(300);
    c.isolate(2, 1);
    c.isolate(2, 3);
    const r = outcome(c.node(2).readBarrier());
    await advance(350);
    expect(r.error).toMatchObject({ code: 'Unavailable', status: 503 });
    c.stopAll();
  });

  // A leader that has a write in its log may already have sent it to followers: whether it commits is up to the
  // cluster, not to this member. Answering "nothing changed" would invite a retry that applies it twice.
  test('stop() fails writes and membership changes the core already has with OutcomeUnknown (504), reads with Stopped', async () => {
    const c = await ledByTwo();
    c.isolate(2, 1);
    c.isolate(2, 3);
    const n = c.node(2);
    const w = outcome(n.propose(...put('k')));
    const tag = n.nextRequestTag();
    const cc = outcome(n.proposeConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: 4, context: encodeMemberContext({ peerURL: 'http://n4', clientURL: '', request: tag }), id: 0 }, tag));
    const r = outcome(n.readBarrier());
    await runLoop();
    expect(n.counters().proposals).toBe(1);
    expect(c.eventsOf(2).filter((e) => /^send MsgApp->/.test(e)).length).toBeGreaterThan(0);
    n.stop();
    await runLoop();
    expect(w.error).toMatchObject({ code: 'OutcomeUnknown', status: 504 });
    expect(cc.error).toMatchObject({ code: 'OutcomeUnknown', status: 504 });
    expect(r.error).toMatchObject({ code: 'Stopped', status: 503 });
    c.stopAll();
  });

  test('a failed fsync stops the member, reports the failure, and fails the writes it held with OutcomeUnknown (504)', async () => {
    const c = await ledByTwo();
    const leader = c.member(2);
    leader.disk.syncError = new Error('EIO: i/o error, fdatasync');
    const w = outcome(leader.node.propose(...put('k')));
    await runLoop();
    expect(leader.node.isStopped).toBe(true);
    expect(leader.stopped).toHaveLength(1);
    expect(leader.stopped[0]?.failed).toBe(true);
    expect(leader.stopped[0]?.reason).toMatch(/Ready loop failed: EIO/);
    expect(leader.disk.closed).toBe(true);
    expect(w.error).toMatchObject({ code: 'OutcomeUnknown', status: 504 });
    c.stopAll();
  });
});

describe('how many requests in a row arrived while the member held no other', () => {
  test('counts from a million down to nothing at the first overlap, and up again one alone at a time', async () => {
    const r = new Requests(1, 1000, 0);
    expect(r.arrivedAloneInARow).toBe(1_000_000);
    const first = outcome(r.readBarrier());
    expect(r.arrivedAloneInARow).toBe(1_000_000);
    const beside = outcome(r.propose(...put('k')));
    expect(r.outstanding).toBe(2);
    expect(r.arrivedAloneInARow).toBe(0);

    await advance(1000); // both time out while queued: nothing is held any more
    expect([first.error?.code, beside.error?.code, r.outstanding]).toEqual(['Unavailable', 'Unavailable', 0]);
    for (let i = 1; i <= 3; i++) {
      const alone = outcome(r.readBarrier());
      expect(r.arrivedAloneInARow).toBe(i);
      await advance(1000);
      expect(alone.settled).toBe(true);
    }
  });
});
