// The Ready loop's ordering rules, observed on a fake disk: what a member writes, syncs, releases and sends, in
// which order. Real RawNodes, a fake Persistence and a fake network, a fake clock moved one tick at a time.

import { CommandOp, encodeCommand } from '../../kvstore/command';
import { KvStore } from '../../kvstore/kv';
import { Membership, encodeMemberContext } from '../../kvstore/members';
import { nextSnapshotAt } from '../../kvstore/snapshot-schedule';
import { encodeSnapshotData, restoreSnapshotData } from '../../kvstore/snapshot';
import { ConfChangeType, EntryType, MessageType, Snapshot, emptyConfState, newEntry, newMessage } from '../../raft/types';
import { TestCluster, advance, outcome, runLoop, waitFor } from './node_fakes';

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

// Index of the first event matching `re` at or after `from`, or -1.
function indexOf(events: string[], re: RegExp, from = 0): number {
  for (let i = from; i < events.length; i++) if (re.test(events[i] ?? '')) return i;
  return -1;
}

// Three members; member 2 times out first and so campaigns first.
function threeMembers(): TestCluster {
  return new TestCluster([1, 2, 3], (id) => ({ electionTicks: id === 2 ? 3 : 30 }));
}

describe('persist before send', () => {
  test('a candidate asks for votes only after its vote for itself is synced', async () => {
    const c = threeMembers();
    c.start();
    await runLoop(); // the bootstrap Ready
    c.member(2).disk.holdSyncs = true;
    await waitFor(() => c.member(2).disk.syncsWaiting > 0, 'member 2 writes its vote for itself');
    const before = c.eventsOf(2);
    expect(before.some((e) => /^write term=2 vote=2/.test(e))).toBe(true);
    expect(before.filter((e) => /^send MsgVote->/.test(e))).toEqual([]);

    c.member(2).disk.finishSyncs();
    await runLoop();
    const after = c.eventsOf(2);
    const synced = indexOf(after, /^synced$/);
    expect(synced).toBeGreaterThan(0);
    expect(indexOf(after, /^send MsgVote->/)).toBeGreaterThan(synced);
    c.stopAll();
  });

  test('a follower grants its vote only after the vote is synced', async () => {
    const c = threeMembers();
    c.start();
    await runLoop(); // the bootstrap Ready
    c.member(1).disk.holdSyncs = true;
    await waitFor(() => c.member(1).disk.syncsWaiting > 0, 'member 1 writes its vote');
    const before = c.eventsOf(1);
    expect(before.some((e) => /^write term=2 vote=2/.test(e))).toBe(true);
    expect(before.filter((e) => /^send MsgVoteResp->/.test(e))).toEqual([]);

    c.member(1).disk.finishSyncs();
    await runLoop();
    const after = c.eventsOf(1);
    const vote = indexOf(after, /^write term=2 vote=2/);
    const synced = indexOf(after, /^synced$/, vote);
    expect(synced).toBeGreaterThan(vote);
    expect(indexOf(after, /^send MsgVoteResp->2$/)).toBeGreaterThan(synced);
    c.stopAll();
  });

  test('a follower acknowledges new entries only after they are synced', async () => {
    const c = threeMembers();
    c.start();
    await waitFor(() => c.leader()?.id === 2, 'member 2 leads');
    await waitFor(() => c.node(1).applied === c.node(2).applied, 'member 1 catches up');
    const disk = c.member(1).disk;
    disk.holdSyncs = true;
    const mark = c.eventsOf(1).length;
    const put = outcome(c.node(2).propose(CommandOp.Put, 'k', Buffer.from('v')));
    await waitFor(() => disk.syncsWaiting > 0, 'member 1 writes the entry');
    const held = c.eventsOf(1).slice(mark);
    expect(held.some((e) => /^write .* entries=1$/.test(e))).toBe(true);
    expect(held.filter((e) => /^send MsgAppResp->/.test(e))).toEqual([]);

    disk.finishSyncs();
    await runLoop();
    const after = c.eventsOf(1).slice(mark);
    const write = indexOf(after, /^write .* entries=1$/);
    const synced = indexOf(after, /^synced$/, write);
    expect(synced).toBeGreaterThan(write);
    expect(indexOf(after, /^send MsgAppResp->2$/, write)).toBeGreaterThan(synced);
    await waitFor(() => put.settled, 'the write is applied');
    expect(put.value).toMatchObject({ existed: false });
    c.stopAll();
  });

  test("a leader sends its appends while its own write is syncing, and answers the write only after that sync", async () => {
    const c = threeMembers();
    c.start();
    await waitFor(() => c.leader()?.id === 2, 'member 2 leads');
    await waitFor(() => c.node(1).applied === c.node(2).applied && c.node(3).applied === c.node(2).applied, 'followers catch up');
    const disk = c.member(2).disk;
    disk.holdSyncs = true;
    const mark = c.eventsOf(2).length;
    const put = outcome(c.node(2).propose(CommandOp.Put, 'k', Buffer.from('v')));
    await waitFor(() => disk.syncsWaiting > 0, 'member 2 writes the entry');
    const held = c.eventsOf(2).slice(mark);
    // Thesis §10.2.1: the appends went out before the leader's own fsync finished.
    expect(held.filter((e) => /^send MsgApp->/.test(e)).sort()).toEqual(['send MsgApp->1', 'send MsgApp->3']);
    expect(held).not.toContain('synced');
    // The followers acknowledge (a quorum without the leader), but the leader applies only after its own sync.
    await advance(5 * 10);
    expect(put.settled).toBe(false);

    disk.finishSyncs();
    await waitFor(() => put.settled, 'the write is applied');
    expect(put.value).toMatchObject({ existed: false });
    c.stopAll();
  });
  test('a follower forwards a write and a read at once, without waiting for the sync of entries in the same Ready', async () => {
    const c = threeMembers();
    c.start();
    await waitFor(() => c.leader()?.id === 2, 'member 2 leads');
    await waitFor(() => c.node(1).applied === c.node(2).applied && c.node(3).applied === c.node(2).applied, 'followers catch up');
    const disk = c.member(1).disk;
    disk.holdSyncs = true;
    // Member 1 is busy syncing one entry while a second append, a write and a read sent to it pile up; its next
    // Ready then holds all three: an entry to write and sync, a proposal and a read to forward.
    const first = outcome(c.node(2).propose(CommandOp.Put, 'a', Buffer.from('1')));
    await waitFor(() => disk.syncsWaiting === 1, 'member 1 syncs the first entry');
    const leaderMark = c.eventsOf(2).length;
    const second = outcome(c.node(2).propose(CommandOp.Put, 'b', Buffer.from('2')));
    await waitFor(() => indexOf(c.eventsOf(2), /^write .* entries=1$/, leaderMark) >= 0, 'the leader appends the second entry');
    const atFollower = outcome(c.node(1).propose(CommandOp.Put, 'c', Buffer.from('3')));
    const read = outcome(c.node(1).readBarrier());
    const mark = c.eventsOf(1).length;
    disk.finishSyncs();
    await waitFor(() => disk.syncsWaiting === 1, 'member 1 syncs the second entry');
    const held = c.eventsOf(1).slice(mark);
    const write = indexOf(held, /^write .* entries=1$/);
    expect(write).toBeGreaterThan(0);
    expect(held.slice(0, write)).toContain('send MsgAppResp->2');
    // Sent while the entry that came with them is still syncing; only its acknowledgement waits.
    expect(held).toContain('send MsgProp->2');
    expect(held).toContain('send MsgReadIndex->2');
    expect(held.slice(write).filter((e) => /^send MsgAppResp->/.test(e))).toEqual([]);

    disk.holdSyncs = false;
    disk.finishSyncs();
    await waitFor(() => first.settled && second.settled && atFollower.settled && read.settled, 'the writes are applied and the read answered');
    expect([first.value, second.value, atFollower.value, read.error]).toMatchObject([{ existed: false }, { existed: false }, { existed: false }, undefined]);
    c.stopAll();
  });
});

describe('batching and forwarding', () => {
  async function ledByTwo(): Promise<TestCluster> {
    const c = threeMembers();
    c.start();
    await waitFor(() => c.leader()?.id === 2, 'member 2 leads');
    await waitFor(() => c.node(1).applied === c.node(2).applied && c.node(3).applied === c.node(2).applied, 'followers catch up');
    return c;
  }

  test("a turn's writes go to the core as one proposal: one append, one MsgApp per follower", async () => {
    const c = await ledByTwo();
    const mark = c.eventsOf(2).length;
    const puts = ['a', 'b', 'c'].map((k) => outcome(c.node(2).propose(CommandOp.Put, k, Buffer.from('v'))));
    await waitFor(() => puts.every((p) => p.settled), 'the writes are applied');
    const events = c.eventsOf(2).slice(mark);
    const write = indexOf(events, /^write .* entries=3$/);
    expect(write).toBeGreaterThanOrEqual(0);
    expect(events.slice(0, write).filter((e) => /^send MsgApp->/.test(e)).sort()).toEqual(['send MsgApp->1', 'send MsgApp->3']);
    c.stopAll();
  });

  test('proposals forwarded by several followers in one turn are appended together, one MsgApp per follower', async () => {
    const c = await ledByTwo();
    const forwarded = (from: number, key: string) =>
      newMessage({
        type: MessageType.MsgProp,
        from,
        to: 2,
        entries: [newEntry({ term: 0, index: 0, type: EntryType.EntryNormal, data: encodeCommand({ op: CommandOp.Put, epoch: from, seq: 1, key, value: Buffer.from('v') }), typeUnset: true })],
      });
    const mark = c.eventsOf(2).length;
    c.node(2).deliver([forwarded(1, 'x'), forwarded(3, 'y')]);
    await waitFor(() => c.node(2).kv.read('x') !== undefined && c.node(2).kv.read('y') !== undefined, 'both writes are applied');
    const events = c.eventsOf(2).slice(mark);
    const write = indexOf(events, /^write .* entries=2$/);
    expect(write).toBeGreaterThanOrEqual(0);
    expect(events.slice(0, write).filter((e) => /^send MsgApp->/.test(e)).sort()).toEqual(['send MsgApp->1', 'send MsgApp->3']);
    c.stopAll();
  });

  test('a follower waiting for its fsync forwards a new write and read to the leader before that fsync ends', async () => {
    const c = await ledByTwo();
    const disk = c.member(1).disk;
    disk.holdSyncs = true;
    const first = outcome(c.node(2).propose(CommandOp.Put, 'a', Buffer.from('1')));
    await waitFor(() => disk.syncsWaiting === 1, 'member 1 syncs the entry');
    const mark = c.eventsOf(1).length;
    const atFollower = outcome(c.node(1).propose(CommandOp.Put, 'b', Buffer.from('2')));
    const read = outcome(c.node(1).readBarrier());
    await runLoop();
    const sent = c.eventsOf(1).slice(mark);
    expect(disk.syncsWaiting).toBe(1);
    expect(sent).toContain('send MsgProp->2');
    expect(sent).toContain('send MsgReadIndex->2');

    disk.holdSyncs = false;
    disk.finishSyncs();
    await waitFor(() => first.settled && atFollower.settled && read.settled, 'the writes are applied and the read answered');
    expect([first.value, atFollower.value, read.error]).toMatchObject([{ existed: false }, { existed: false }, undefined]);
    expect(c.node(1).kv.read('a')).toBeDefined();
    c.stopAll();
  });

  test('a quiet member runs its fdatasync on the loop thread; a member holding several requests, in the pool', async () => {
    const c = await ledByTwo();
    const onLoop = (): number[] => [1, 2, 3].map((id) => c.member(id).disk.syncsOnLoopThread);
    const before = onLoop();
    // One client writing through follower 1: every member appends one entry, and only member 1 holds a request.
    const one = outcome(c.node(1).propose(CommandOp.Put, 'one', Buffer.from('v')));
    await waitFor(() => one.settled && c.node(3).applied === c.node(2).applied, 'the write is applied everywhere');
    const afterOne = onLoop();
    expect(afterOne.map((n, i) => n - (before[i] ?? 0))).toEqual([1, 1, 1]);
    expect(c.node(1).counters().fsyncsOnLoop).toBe(afterOne[0]);

    // Three writes held by the leader at once: one append of three entries, everywhere in the pool.
    const three = ['a', 'b', 'c'].map((k) => outcome(c.node(2).propose(CommandOp.Put, k, Buffer.from('v'))));
    await waitFor(() => three.every((p) => p.settled) && c.node(3).applied === c.node(2).applied, 'the writes are applied everywhere');
    expect(onLoop()).toEqual(afterOne);
    c.stopAll();
  });

  test('a member that held two requests at once syncs in the pool until 16 requests in a row have arrived alone', async () => {
    const c = await ledByTwo();
    const onLoop = (): number[] => [1, 2, 3].map((id) => c.member(id).disk.syncsOnLoopThread);
    const putThroughLeader = async (key: string): Promise<void> => {
      const p = outcome(c.node(2).propose(CommandOp.Put, key, Buffer.from('v')));
      await waitFor(() => p.settled && c.node(1).applied === c.node(2).applied && c.node(3).applied === c.node(2).applied, `${key} is applied everywhere`);
    };
    // Two writes at the leader at once: the second arrives beside the first.
    const pair = ['a', 'b'].map((k) => outcome(c.node(2).propose(CommandOp.Put, k, Buffer.from('v'))));
    await waitFor(() => pair.every((p) => p.settled) && c.node(3).applied === c.node(2).applied, 'the pair is applied everywhere');

    const before = onLoop();
    for (let i = 1; i <= 15; i++) await putThroughLeader(`alone-${i}`);
    // The followers held no request and stayed quiet; the leader's 15 single writes still went to the pool.
    expect(onLoop().map((n, i) => n - (before[i] ?? 0))).toEqual([15, 0, 15]);
    await putThroughLeader('alone-16');
    expect(onLoop().map((n, i) => n - (before[i] ?? 0))).toEqual([16, 1, 16]);
    c.stopAll();
  });

  test('after an fsync slower than 2 ms a quiet member syncs in the pool, until one is fast again', async () => {
    const c = await ledByTwo();
    const disk = c.member(1).disk;
    const put = async (key: string): Promise<void> => {
      const p = outcome(c.node(2).propose(CommandOp.Put, key, Buffer.from('v')));
      await waitFor(() => p.settled && c.node(1).applied === c.node(2).applied && c.node(3).applied === c.node(2).applied, `${key} is applied everywhere`);
    };
    disk.holdSyncs = true;
    const slow = outcome(c.node(2).propose(CommandOp.Put, 'slow', Buffer.from('v')));
    await waitFor(() => disk.syncsWaiting === 1, 'member 1 syncs the entry');
    const held = disk.syncsOnLoopThread;
    await advance(30); // the disk takes 30 ms
    disk.holdSyncs = false;
    disk.finishSyncs();
    await waitFor(() => slow.settled && c.node(1).applied === c.node(2).applied, 'the slow write is applied on member 1');

    const other = c.member(3).disk.syncsOnLoopThread;
    await put('after');
    expect(disk.syncsOnLoopThread).toBe(held);
    expect(c.member(3).disk.syncsOnLoopThread).toBe(other + 1);
    await put('again');
    expect(disk.syncsOnLoopThread).toBe(held + 1);
    c.stopAll();
  });

  test('a member whose election clock is advanced campaigns first', async () => {
    const c = new TestCluster([1, 2, 3], () => ({ electionTicks: 30 }));
    c.start();
    await runLoop(); // the bootstrap Ready
    // Past the longest randomised timeout (twice the election ticks): it campaigns on its next tick, the others
    // are 30 to 60 ticks away.
    c.node(3).advanceTicks(59);
    await waitFor(() => c.leader()?.id === 3, 'member 3 leads', 20);
    c.stopAll();
  });
});

describe('sync before release', () => {
  // A member that has heard of leader 2 in term 1 (played by the test), then receives a snapshot in that term: the
  // Ready carries the snapshot and a HardState whose commit moved, but no term, vote or entry, so it needs no sync
  // of its own (mustSync is false). Releasing right after would let the disk purge the WAL segments and snapshot
  // files a restart needs, while the commit index that makes the new snapshot loadable is not on disk yet.
  test('a snapshot received in the current term is synced, HardState included, before older files are released', async () => {
    const c = new TestCluster([1], () => ({ bootstrap: false }), [2]);
    const m = c.member(1);
    m.node.deliver([newMessage({ type: MessageType.MsgHeartbeat, from: 2, to: 1, term: 1, commit: 0 })]);
    await runLoop();
    expect(m.node.leaderId).toBe(2);

    const kv = new KvStore();
    kv.apply({ op: CommandOp.Put, epoch: 1, seq: 1, key: 'from-snapshot', value: Buffer.from('yes') });
    const members = new Membership(c.node(1).members.list());
    const snapshot: Snapshot = {
      data: encodeSnapshotData(kv, members),
      metadata: { index: 10, term: 1, confState: { ...emptyConfState(), voters: [1, 2] } },
    };
    const mark = c.eventsOf(1).length;
    m.node.deliver([newMessage({ type: MessageType.MsgSnap, from: 2, to: 1, term: 1, snapshot })]);
    await runLoop();

    expect(m.node.applied).toBe(10);
    expect(m.node.kv.get('from-snapshot')?.toString()).toBe('yes');
    const events = c.eventsOf(1).slice(mark);
    const save = indexOf(events, /^saveSnapshot index=10$/);
    const write = indexOf(events, /^write term=1 vote=0 commit=10 entries=0$/);
    const release = indexOf(events, /^release index=10$/);
    expect(save).toBeGreaterThanOrEqual(0);
    expect(write).toBeGreaterThan(save);
    expect(release).toBeGreaterThan(write);
    expect(m.disk.releasedUnsynced).toEqual([]);
    expect(indexOf(events, /^synced$/, write)).toBeLessThan(release);
    // The acknowledgement of the snapshot leaves only once it is durable.
    expect(indexOf(events, /^send MsgAppResp->2$/)).toBeGreaterThan(release);
  });

  test("the member's own snapshot and its WAL record are synced before older files are released", async () => {
    const c = new TestCluster([1], () => ({ snapshotCount: 5, snapshotCatchup: 2 }));
    const m = c.member(1);
    c.start();
    await waitFor(() => c.leader()?.id === 1, 'member 1 leads');
    for (let i = 0; i < 8; i++) {
      const put = outcome(m.node.propose(CommandOp.Put, `k${i}`, Buffer.from('v')));
      await waitFor(() => put.settled, `write ${i} is applied`);
    }
    await waitFor(() => m.node.lastSnapshotIndex > 0, 'the snapshot is recorded');
    const events = c.eventsOf(1);
    const file = indexOf(events, /^wroteSnapshotFile /);
    const save = indexOf(events, /^recordSnapshot /);
    const release = indexOf(events, /^release /, save);
    expect(save).toBeGreaterThan(file);
    expect(release).toBeGreaterThan(save);
    expect(m.disk.releasedUnsynced).toEqual([]);
    expect(indexOf(events, /^synced$/, save)).toBeLessThan(release);
    c.stopAll();
  });
});

describe('taking a snapshot in the background', () => {
  // The snapshot's file takes as long as it takes (here: until the test lets it finish); the member goes on
  // committing and answering writes meanwhile, and its log keeps everything until the snapshot is recorded.
  test('writes are answered while the snapshot file is written, and the log is compacted only once it is recorded', async () => {
    const c = new TestCluster([1], () => ({ snapshotCount: 10, snapshotCatchup: 2 }));
    const m = c.member(1);
    m.disk.holdSnapshotFiles = true;
    c.start();
    await waitFor(() => c.leader()?.id === 1, 'member 1 leads');
    for (let i = 0; i < 12; i++) {
      const put = outcome(m.node.propose(CommandOp.Put, `k${i}`, Buffer.from('v')));
      await waitFor(() => put.settled, `write ${i} is applied`);
      expect(put.error).toBeUndefined();
    }
    const events = c.eventsOf(1);
    expect(events.filter((e) => /^writeSnapshotFile /.test(e))).toHaveLength(1);
    expect(indexOf(events, /^recordSnapshot /)).toBe(-1);
    expect(m.node.lastSnapshotIndex).toBe(0);
    expect(m.storage.firstIndex()).toBe(1);

    m.disk.finishSnapshotFiles();
    await waitFor(() => m.node.lastSnapshotIndex > 0, 'the snapshot is recorded');
    const taken = m.node.lastSnapshotIndex;
    expect(taken).toBeGreaterThanOrEqual(nextSnapshotAt(1, 0, 10));
    // The snapshot holds the state as it was when it was taken, not as it is when it is recorded.
    const restored = new KvStore();
    restoreSnapshotData(m.storage.snapshot().data, restored, new Membership([]));
    expect(restored.revision).toBeLessThan(m.node.kv.revision);
    // snapshotCatchup (2) entries before the snapshot stay, after the compaction point.
    expect(m.storage.firstIndex()).toBe(taken - 2 + 1);
    c.stopAll();
  });
});

describe('a snapshot overtaken by the leader\'s', () => {
  // A follower (member 1; member 2, the leader, is played by the test) applies enough entries to take a snapshot of
  // its own, and while that snapshot's file is still being written, the leader sends a newer snapshot. The newer one
  // is installed; the older one, once its file is done, must not be recorded over it.
  test('is dropped when its file is done, and the received snapshot stays', async () => {
    const c = new TestCluster([1], () => ({ bootstrap: false, snapshotCount: 5, snapshotCatchup: 2 }), [2]);
    const m = c.member(1);
    m.disk.holdSnapshotFiles = true;
    m.node.deliver([newMessage({ type: MessageType.MsgHeartbeat, from: 2, to: 1, term: 1, commit: 0 })]);
    await runLoop();
    const entries = [1, 2, 3, 4, 5, 6].map((index) => newEntry({ term: 1, index, type: EntryType.EntryNormal, data: new Uint8Array(0) }));
    m.node.deliver([newMessage({ type: MessageType.MsgApp, from: 2, to: 1, term: 1, logTerm: 0, index: 0, entries, commit: 6 })]);
    await waitFor(() => m.node.applied === 6, 'member 1 applies the six entries');
    await waitFor(() => c.eventsOf(1).some((e) => /^writeSnapshotFile index=6$/.test(e)), 'member 1 starts its own snapshot');

    const kv = new KvStore();
    kv.apply({ op: CommandOp.Put, epoch: 1, seq: 1, key: 'from-leader', value: Buffer.from('yes') });
    const snapshot: Snapshot = {
      data: encodeSnapshotData(kv, new Membership(c.node(1).members.list())),
      metadata: { index: 10, term: 1, confState: { ...emptyConfState(), voters: [1, 2] } },
    };
    m.node.deliver([newMessage({ type: MessageType.MsgSnap, from: 2, to: 1, term: 1, snapshot })]);
    await waitFor(() => m.node.applied === 10, 'member 1 installs the leader\'s snapshot');

    m.disk.finishSnapshotFiles();
    await waitFor(() => m.logger.messages().some((l) => l.includes('dropped the snapshot at index 6')), 'the own snapshot is dropped');
    expect(c.eventsOf(1).filter((e) => /^recordSnapshot /.test(e))).toEqual([]);
    expect(m.node.lastSnapshotIndex).toBe(10);
    expect(m.storage.snapshot().metadata.index).toBe(10);
    expect(m.node.kv.get('from-leader')?.toString()).toBe('yes');
  });
});

describe('answering requests once applied', () => {
  test('a linearizable read on a follower waits for the leader to confirm and sees every write acknowledged before it', async () => {
    const c = threeMembers();
    c.start();
    await waitFor(() => c.leader()?.id === 2, 'member 2 leads');
    // Member 3 misses the write: it is committed by members 1 and 2 alone.
    c.isolate(2, 3);
    const put = outcome(c.node(2).propose(CommandOp.Put, 'k', Buffer.from('v1')));
    await waitFor(() => put.settled, 'the write is applied on the leader');
    expect(c.node(3).kv.get('k')).toBeUndefined();
    c.heal();
    const read = outcome(c.node(3).readBarrier());
    await waitFor(() => read.settled, 'the read is confirmed');
    expect(read.error).toBeUndefined();
    expect(c.node(3).kv.get('k')?.toString()).toBe('v1');
    expect(c.node(3).counters().readIndexes).toBe(1);
    c.stopAll();
  });

  test('a membership change resolves once applied, and every member tells its transport the new peer', async () => {
    const c = threeMembers();
    c.start();
    await waitFor(() => c.leader()?.id === 2, 'member 2 leads');
    const n = c.node(2);
    const tag = n.nextRequestTag();
    const change = outcome(
      n.proposeConfChange({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 4, context: encodeMemberContext({ peerURL: 'http://n4', clientURL: '', request: tag }), id: 0 }, tag),
    );
    await waitFor(() => change.settled, 'the change is applied');
    expect(change.error).toBeUndefined();
    await waitFor(() => [1, 3].every((id) => c.node(id).members.has(4)), 'followers apply the change');
    for (const id of [1, 2, 3]) {
      expect(c.member(id).peerUpdates.at(-1)?.find((m) => m.id === 4)).toEqual({ id: 4, peerURL: 'http://n4', clientURL: '', learner: true });
    }
    c.stopAll();
  });

  test('a member that applies its own removal stops itself and says it was removed, not that it failed', async () => {
    const c = threeMembers();
    c.start();
    await waitFor(() => c.leader()?.id === 2, 'member 2 leads');
    const tag = c.node(2).nextRequestTag();
    const removal = outcome(c.node(2).proposeConfChange({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 3, context: encodeMemberContext({ peerURL: '', clientURL: '', request: tag }), id: 0 }, tag));
    await waitFor(() => removal.settled && c.node(3).isStopped, 'member 3 applies its removal');
    expect(c.member(3).stopped).toEqual([{ reason: 'this member was removed from the cluster', failed: false }]);
    expect(c.member(3).disk.closed).toBe(true);
    c.stopAll();
  });

  test('a leadership transfer resolves with the new leader once it leads', async () => {
    const c = threeMembers();
    c.start();
    await waitFor(() => c.leader()?.id === 2, 'member 2 leads');
    await waitFor(() => [1, 3].every((id) => c.node(id).applied === c.node(2).applied), 'followers catch up');
    const moved = outcome(c.node(2).transferLeader(3));
    await waitFor(() => moved.settled, 'leadership moves');
    expect(moved.value).toBe(3);
    await waitFor(() => c.leader()?.id === 3, 'member 3 leads');
    c.stopAll();
  });
});
