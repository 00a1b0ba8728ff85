import fc from 'fast-check';

import { RaftPanic } from '../../raft/logger';
import { JointConfig } from '../../raft/quorum/joint';
import { VoteResult } from '../../raft/quorum/quorum';
import { Inflights } from '../../raft/tracker/inflights';
import { Progress, ProgressMap } from '../../raft/tracker/progress';
import { StateType } from '../../raft/tracker/state';
import { Config, ProgressTracker } from '../../raft/tracker/tracker';

interface ProgressFields {
  match?: number;
  next: number;
  size?: number;
  maxBytes?: number;
  active?: boolean;
}

function progress(fields: ProgressFields): Progress {
  return new Progress({
    match: fields.match,
    next: fields.next,
    inflights: new Inflights(fields.size ?? 256, fields.maxBytes ?? 0),
    recentActive: fields.active ?? true,
  });
}

describe('Inflights', () => {
  test('fills up to its message limit and refuses more', () => {
    const in1 = new Inflights(3, 0);
    in1.add(1, 10);
    in1.add(2, 10);
    expect(in1.full()).toBe(false);
    in1.add(3, 10);
    expect(in1.full()).toBe(true);
    expect(in1.count()).toBe(3);
    expect(() => in1.add(4, 10)).toThrow(RaftPanic);
  });

  test('frees every append ending at or below an acknowledged index, across the ring boundary', () => {
    const in1 = new Inflights(5, 0);
    for (let i = 1; i <= 5; i++) in1.add(i, 1);
    in1.freeLE(3);
    expect(in1.count()).toBe(2);
    // These wrap around to the start of the buffer.
    in1.add(6, 1);
    in1.add(7, 1);
    in1.add(8, 1);
    expect(in1.full()).toBe(true);
    in1.freeLE(6);
    expect(in1.count()).toBe(2);
    expect(in1.bytes()).toBe(2);
    in1.freeLE(2);
    expect(in1.count()).toBe(2);
    in1.freeLE(100);
    expect(in1.count()).toBe(0);
    expect(in1.bytes()).toBe(0);
  });

  test('is full once the bytes in flight reach the byte limit', () => {
    const in1 = new Inflights(10, 100);
    in1.add(1, 60);
    expect(in1.full()).toBe(false);
    in1.add(2, 40);
    expect(in1.full()).toBe(true);
    in1.freeLE(1);
    expect(in1.full()).toBe(false);
    // One large append may overshoot the limit: the window is then full until it is acknowledged.
    in1.add(3, 500);
    expect(in1.full()).toBe(true);
    expect(in1.count()).toBe(2);
  });

  test('reset empties it, and a clone is independent', () => {
    const in1 = new Inflights(4, 0);
    in1.add(1, 5);
    in1.add(2, 5);
    const copy = in1.clone();
    in1.reset();
    expect(in1.count()).toBe(0);
    expect(in1.bytes()).toBe(0);
    expect(copy.count()).toBe(2);
    copy.freeLE(1);
    expect(copy.count()).toBe(1);
    expect(copy.bytes()).toBe(5);
  });

  test('behaves like a plain queue of (index, bytes) under any sequence of operations', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), bytes: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('free' as const), back: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ kind: fc.constant('reset' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.nat(150), fc.array(op), (size, maxBytes, ops) => {
        const in1 = new Inflights(size, maxBytes);
        let model: { index: number; bytes: number }[] = [];
        let next = 1;
        for (const o of ops) {
          if (o.kind === 'add') {
            if (in1.full()) continue;
            in1.add(next, o.bytes);
            model.push({ index: next++, bytes: o.bytes });
          } else if (o.kind === 'free') {
            const to = next - 1 - o.back;
            in1.freeLE(to);
            model = model.filter((e) => e.index > to);
          } else {
            in1.reset();
            model = [];
          }
          const bytes = model.reduce((s, e) => s + e.bytes, 0);
          expect(in1.count()).toBe(model.length);
          expect(in1.bytes()).toBe(bytes);
          expect(in1.full()).toBe(model.length === size || (maxBytes > 0 && bytes >= maxBytes));
        }
      }),
    );
  });
});

describe('Progress', () => {
  test('prints as etcd does', () => {
    const pr = progress({ match: 1, next: 2, size: 2 });
    expect(pr.toString()).toBe('StateProbe match=1 next=2');
    pr.isLearner = true;
    pr.recentActive = false;
    pr.msgAppFlowPaused = true;
    expect(pr.toString()).toBe('StateProbe match=1 next=2 learner paused inactive');

    const rep = progress({ match: 11, next: 12, size: 3 });
    rep.becomeReplicate();
    rep.sentEntries(1, 1);
    expect(rep.toString()).toBe('StateReplicate match=11 next=13 inflight=1');
    rep.sentEntries(1, 1);
    rep.sentEntries(1, 1);
    expect(rep.toString()).toBe('StateReplicate match=11 next=15 paused inflight=3[full]');

    const snap = progress({ match: 0, next: 11 });
    snap.becomeSnapshot(11);
    expect(snap.toString()).toBe('StateSnapshot match=0 next=12 paused pendingSnap=11');
  });

  test('becomeProbe restarts after match, or after a pending snapshot if that is further', () => {
    const rep = progress({ match: 1, next: 5 });
    rep.becomeReplicate();
    rep.next = 9;
    rep.becomeProbe();
    expect([rep.state, rep.next]).toEqual([StateType.StateProbe, 2]);

    const snap = progress({ match: 1, next: 5 });
    snap.becomeSnapshot(10);
    snap.becomeProbe();
    expect([snap.state, snap.next, snap.pendingSnapshot]).toEqual([StateType.StateProbe, 11, 0]);

    const caughtUp = progress({ match: 1, next: 5 });
    caughtUp.becomeSnapshot(10);
    caughtUp.maybeUpdate(12);
    caughtUp.becomeProbe();
    expect(caughtUp.next).toBe(13);
  });

  test('becomeReplicate streams from match+1 with an empty window', () => {
    const pr = progress({ match: 4, next: 9, size: 4 });
    pr.becomeReplicate();
    pr.sentEntries(2, 1);
    pr.becomeReplicate();
    expect([pr.state, pr.next, pr.inflights.count()]).toEqual([StateType.StateReplicate, 5, 0]);
  });

  test('maybeUpdate ignores stale acknowledgements and never moves next backwards', () => {
    const pr = progress({ match: 3, next: 8 });
    pr.msgAppFlowPaused = true;
    expect(pr.maybeUpdate(2)).toBe(false);
    expect(pr.maybeUpdate(3)).toBe(false);
    expect(pr.msgAppFlowPaused).toBe(true);
    expect(pr.maybeUpdate(5)).toBe(true);
    expect([pr.match, pr.next, pr.msgAppFlowPaused]).toEqual([5, 8, false]);
    expect(pr.maybeUpdate(9)).toBe(true);
    expect([pr.match, pr.next]).toEqual([9, 10]);
  });

  test.each([
    // state, match, next, rejected, hint, accepted, next after
    [StateType.StateReplicate, 5, 10, 5, 5, false, 10], // stale: at match
    [StateType.StateReplicate, 5, 10, 4, 4, false, 10], // stale: below match
    [StateType.StateReplicate, 5, 10, 9, 9, true, 6], // genuine: back to match+1
    [StateType.StateProbe, 0, 0, 0, 0, false, 0], // stale: not the probe in flight
    [StateType.StateProbe, 0, 10, 5, 5, false, 10],
    [StateType.StateProbe, 0, 10, 9, 9, true, 9],
    [StateType.StateProbe, 0, 2, 1, 1, true, 1], // never below 1 = match+1
    [StateType.StateProbe, 0, 10, 9, 2, true, 3], // the hint skips further back
    [StateType.StateProbe, 5, 10, 9, 2, true, 6], // but never below match+1
  ])('maybeDecrTo in %s match=%i next=%i rejected=%i hint=%i', (state, match, next, rejected, hint, ok, after) => {
    const pr = progress({ match, next });
    pr.state = state;
    pr.msgAppFlowPaused = true;
    expect(pr.maybeDecrTo(rejected, hint)).toBe(ok);
    expect(pr.next).toBe(after);
    if (ok && state === StateType.StateProbe) expect(pr.msgAppFlowPaused).toBe(false);
  });

  test('isPaused: probes pause after a non-empty append; replication pauses when the window is full', () => {
    const probe = progress({ next: 1, size: 2 });
    probe.sentEntries(0, 0);
    expect(probe.isPaused()).toBe(false);
    probe.sentEntries(1, 1);
    expect(probe.isPaused()).toBe(true);
    expect(probe.next).toBe(1);

    const rep = progress({ next: 1, size: 2 });
    rep.becomeReplicate();
    rep.sentEntries(3, 1);
    expect([rep.next, rep.isPaused()]).toEqual([4, false]);
    rep.sentEntries(1, 1);
    expect(rep.isPaused()).toBe(true);
    rep.inflights.freeLE(3);
    rep.maybeUpdate(3);
    expect(rep.isPaused()).toBe(false);

    const snap = progress({ next: 1 });
    snap.becomeSnapshot(5);
    expect(snap.isPaused()).toBe(true);
    expect(() => snap.sentEntries(1, 1)).toThrow('sending append in unhandled state StateSnapshot');
  });

  test('canBumpCommit until the commit sent covers next-1', () => {
    const pr = progress({ match: 5, next: 8 });
    expect(pr.canBumpCommit(3)).toBe(true);
    pr.sentCommit(3);
    expect(pr.canBumpCommit(3)).toBe(false);
    expect(pr.canBumpCommit(6)).toBe(true);
    pr.sentCommit(7);
    // The follower may hold at most up to next-1 = 7, so a higher commit index cannot move it further.
    expect(pr.canBumpCommit(10)).toBe(false);
    // A rejection moves next back and with it what the sent commit index may have achieved.
    pr.becomeReplicate();
    pr.maybeDecrTo(7, 7);
    expect(pr.canBumpCommit(10)).toBe(false);
    pr.becomeProbe();
    expect(pr.canBumpCommit(10)).toBe(false);
    pr.maybeUpdate(9);
    expect(pr.canBumpCommit(10)).toBe(true);
  });

  test('clone shares nothing with the original', () => {
    const pr = progress({ match: 1, next: 2 });
    pr.becomeReplicate();
    pr.sentEntries(1, 1);
    const copy = pr.clone();
    pr.maybeUpdate(2);
    pr.inflights.freeLE(2);
    expect(copy.toString()).toBe('StateReplicate match=1 next=3 inflight=1');
  });

  test('ProgressMap prints one line per peer in ID order', () => {
    const m = new ProgressMap([
      [3, progress({ next: 1 })],
      [1, progress({ next: 2 })],
    ]);
    expect(m.toString()).toBe('1: StateProbe match=0 next=2\n3: StateProbe match=0 next=1\n');
  });
});

function trackerWith(
  voters: number[],
  outgoing: number[],
  learners: number[],
  matches: Record<number, number>,
): ProgressTracker {
  const t = new ProgressTracker(10, 0);
  t.config = new Config({ voters: new JointConfig(voters, outgoing), learners: new Set(learners) });
  for (const id of [...voters, ...outgoing, ...learners]) {
    const pr = progress({ match: matches[id] ?? 0, next: (matches[id] ?? 0) + 1 });
    pr.isLearner = learners.includes(id);
    t.progress.set(id, pr);
  }
  return t;
}

describe('Config', () => {
  test('prints as etcd does', () => {
    const c = new Config({
      voters: new JointConfig([1, 2], [1]),
      learners: new Set([3]),
      learnersNext: new Set([4]),
      autoLeave: true,
    });
    expect(c.toString()).toBe('voters=(1 2)&&(1) learners=(3) learners_next=(4) autoleave');
    expect(new Config().toString()).toBe('voters=()');
  });

  test('clone shares no sets', () => {
    const c = new Config({ voters: new JointConfig([1]), learners: new Set([2]) });
    const copy = c.clone();
    copy.voters.incoming.add(5);
    copy.learners.add(6);
    expect(c.toString()).toBe('voters=(1) learners=(2)');
  });
});

describe('ProgressTracker', () => {
  test('committed is the index a majority of voters matched, in both halves when joint; learners do not count', () => {
    expect(trackerWith([1, 2, 3], [], [4], { 1: 10, 2: 7, 3: 2, 4: 100 }).committed()).toBe(7);
    expect(trackerWith([1, 2, 3], [3, 4, 5], [], { 1: 10, 2: 7, 3: 9, 4: 2, 5: 3 }).committed()).toBe(3);
  });

  test('visit goes in ID order', () => {
    const t = trackerWith([5, 1, 3], [], [2], {});
    const seen: number[] = [];
    t.visit((id) => seen.push(id));
    expect(seen).toEqual([1, 2, 3, 5]);
  });

  test('lists voters of both halves and learners, sorted', () => {
    const t = trackerWith([3, 1], [2, 1], [9, 7], {});
    expect(t.voterNodes()).toEqual([1, 2, 3]);
    expect(t.learnerNodes()).toEqual([7, 9]);
    expect(t.confState()).toEqual({
      voters: [1, 3],
      votersOutgoing: [1, 2],
      learners: [7, 9],
      learnersNext: [],
      autoLeave: false,
    });
  });

  test('isSingleton only for one voter outside a joint change', () => {
    expect(trackerWith([1], [], [2], {}).isSingleton()).toBe(true);
    expect(trackerWith([1], [1], [], {}).isSingleton()).toBe(false);
    expect(trackerWith([1, 2], [], [], {}).isSingleton()).toBe(false);
  });

  test('quorumActive needs a recently active majority of voters', () => {
    const t = trackerWith([1, 2, 3], [], [4], {});
    t.visit((id, pr) => (pr.recentActive = id === 1 || id === 4));
    expect(t.quorumActive()).toBe(false);
    (t.progress.get(3) as Progress).recentActive = true;
    expect(t.quorumActive()).toBe(true);
  });

  test('records only the first vote of each peer, and tallies current voters', () => {
    const t = trackerWith([1, 2, 3, 4, 5], [], [6], {});
    t.recordVote(1, true);
    t.recordVote(1, false);
    t.recordVote(2, false);
    t.recordVote(6, true);
    t.recordVote(9, true);
    expect(t.tallyVotes()).toEqual({ granted: 1, rejected: 1, result: VoteResult.VotePending });
    t.recordVote(3, true);
    t.recordVote(4, true);
    expect(t.tallyVotes()).toEqual({ granted: 3, rejected: 1, result: VoteResult.VoteWon });
    t.resetVotes();
    expect(t.tallyVotes()).toEqual({ granted: 0, rejected: 0, result: VoteResult.VotePending });
  });

  test('a joint election needs both halves', () => {
    const t = trackerWith([1, 2, 3], [3, 4, 5], [], {});
    for (const id of [1, 2, 3]) t.recordVote(id, true);
    expect(t.tallyVotes().result).toBe(VoteResult.VotePending);
    t.recordVote(4, false);
    t.recordVote(5, false);
    expect(t.tallyVotes()).toEqual({ granted: 3, rejected: 2, result: VoteResult.VoteLost });
  });
});
