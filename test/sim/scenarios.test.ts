// MIT 6.824's Raft checklist, replayed on the simulated cluster: elections, agreement under failures, fast log
// backtracking, Figure 8, snapshots after disconnection, and membership changes through joint consensus. Every
// step of every scenario also runs the Figure 3 checks.

import { Cluster } from '../../raft/rafttest/cluster';
import { jointChange, leaveJoint, simpleChange } from '../../raft/rafttest/confchanges';
import { NetworkFaults } from '../../raft/rafttest/network';
import { ConfChangeTransition, ConfChangeType, MessageType, NodeId, None, StateType } from '../../raft/types';

const unreliable: NetworkFaults = {
  dropRate: 0.1,
  duplicateRate: 0.02,
  minDelay: 1,
  maxDelay: 10,
  longDelayRate: 0.1,
  longDelay: 300,
  fifo: false,
};

function others(c: Cluster, ...not: NodeId[]): NodeId[] {
  return [...c.nodes.keys()].filter((id) => !not.includes(id));
}

// The leader as seen by the nodes that can reach each other: the leader of the highest term among `ids`.
function leaderAmong(c: Cluster, ids: readonly NodeId[]): NodeId {
  let best: NodeId = None;
  for (const id of ids) {
    const n = c.node(id);
    if (n.up && n.role === StateType.StateLeader && (best === None || n.hardState.term > c.node(best).hardState.term)) {
      best = id;
    }
  }
  return best;
}

function waitForLeaderAmong(c: Cluster, ids: readonly NodeId[], maxTicks = 100): NodeId {
  expect(c.runUntil(() => leaderAmong(c, ids) !== None, maxTicks)).toBe(true);
  return leaderAmong(c, ids);
}

// Runs until `payloads` are all acknowledged, and returns their indexes.
function waitAcked(c: Cluster, payloads: readonly string[], maxTicks = 200): number[] {
  expect(c.runUntil(() => payloads.every((p) => c.ackOf(p) !== undefined), maxTicks)).toBe(true);
  return payloads.map((p) => c.ackOf(p) as number);
}

function proposeMany(c: Cluster, id: NodeId, n: number, prefix: string): string[] {
  return Array.from({ length: n }, (_, i) => {
    const p = c.propose(id, `${prefix}${i}`);
    expect(p).not.toBeNull();
    return p as string;
  });
}

function settle(c: Cluster): void {
  c.quiesce();
  c.checkCommittedProposals();
}

test('initial election: one leader, one term, and no election while it is healthy', () => {
  const c = new Cluster({ seed: 1, voters: 3 });
  const l = c.waitForLeader(50);
  expect(c.leaders()).toEqual([l]);
  const term = c.node(l).hardState.term;
  c.runTicks(5);
  for (const id of c.nodes.keys()) {
    expect(c.node(id).hardState.term).toBe(term);
    expect(c.node(id).lead).toBe(l);
  }
  c.runTicks(100);
  expect(c.leader()).toBe(l);
  expect(c.node(l).hardState.term).toBe(term);
});

test('re-election: a disconnected leader is replaced and steps down when it returns', () => {
  const c = new Cluster({ seed: 2, voters: 3 });
  const l1 = c.waitForLeader(50);
  c.isolate(l1);
  const l2 = waitForLeaderAmong(c, others(c, l1));
  expect(l2).not.toBe(l1);
  c.rejoin(l1);
  expect(c.runUntil(() => c.node(l1).role === StateType.StateFollower, 50)).toBe(true);
  expect(c.leaders()).toEqual([c.leader()]);
  c.one(3);
});

test('no leader without a quorum, and one as soon as a quorum is back', () => {
  const c = new Cluster({ seed: 3, voters: 3 });
  const l1 = c.waitForLeader(50);
  const [a, b] = others(c, l1);
  // Cut the leader and one follower off: the last node alone can never win an election.
  c.isolate(l1);
  c.isolate(a);
  c.runTicks(100);
  expect(c.node(b).role).not.toBe(StateType.StateLeader);
  expect(c.node(b).hardState.term).toBeGreaterThan(c.node(l1).hardState.term);
  c.rejoin(a);
  const l2 = waitForLeaderAmong(c, [a, b]);
  expect([a, b]).toContain(l2);
  c.rejoin(l1);
  c.one(3);
});

test('agreement with a failed follower, which catches up when it returns', () => {
  const c = new Cluster({ seed: 4, voters: 3 });
  c.waitForLeader(50);
  c.one(3);
  const f = others(c, c.leader())[0];
  c.isolate(f);
  const indexes = [c.one(2), c.one(2), c.one(2)];
  for (const i of indexes) {
    expect(c.nCommitted(i).count).toBe(2);
  }
  c.rejoin(f);
  const last = c.one(3);
  expect(c.runUntil(() => c.node(f).appliedIndex >= last, 50)).toBe(true);
  for (const i of indexes) {
    expect(c.node(f).appliedLog[i - 1]).toBe(c.node(c.leader()).appliedLog[i - 1]);
  }
  settle(c);
});

test('no commit without a majority', () => {
  const c = new Cluster({ seed: 5, voters: 5 });
  const l = c.waitForLeader(50);
  c.one(5);
  const followers = others(c, l);
  for (const f of followers.slice(0, 3)) {
    c.isolate(f);
  }
  const p = c.propose(l, 'needs-a-majority') as string;
  c.runTicks(1);
  const index = c.node(l).storage.lastIndex();
  expect(c.node(l).storage.entries(index, index + 1, Infinity)[0].data).toEqual(new TextEncoder().encode(p));
  c.runTicks(30);
  expect(c.nCommitted(index).count).toBe(0);
  expect(c.ackOf(p)).toBeUndefined();
  c.heal();
  c.one(5);
  settle(c);
});

test('concurrent proposals through every node all commit, once each, in one order everywhere', () => {
  const c = new Cluster({ seed: 6, voters: 3 });
  c.waitForLeader(50);
  c.runTicks(3);
  const payloads: string[] = [];
  for (let i = 0; i < 10; i++) {
    for (const id of c.nodes.keys()) {
      payloads.push(c.propose(id, `n${id}-${i}`) as string);
    }
  }
  const indexes = waitAcked(c, payloads);
  expect(new Set(indexes).size).toBe(payloads.length);
  settle(c);
  const logs = [...c.nodes.values()].map((n) => n.appliedLog);
  expect(logs[1]).toEqual(logs[0]);
  expect(logs[2]).toEqual(logs[0]);
});

test('a partitioned leader rejoins: its uncommitted entries are discarded', () => {
  const c = new Cluster({ seed: 7, voters: 3 });
  const l1 = c.waitForLeader(50);
  c.one(3);
  c.isolate(l1);
  const lost = ['lost-a', 'lost-b', 'lost-c'].map((p) => c.propose(l1, p) as string);
  const l2 = waitForLeaderAmong(c, others(c, l1));
  c.one(2);
  c.isolate(l2);
  c.rejoin(l1);
  // l1 and the remaining follower elect a leader (l1's log is behind, so it will not be l1) and commit.
  c.one(2);
  c.heal();
  c.one(3);
  settle(c);
  for (const p of lost) {
    expect(c.ackOf(p)).toBeUndefined();
    for (const n of c.nodes.values()) {
      expect(n.appliedLog.some((fp) => fp.endsWith(`:${p}`))).toBe(false);
    }
  }
});

test('fast backup: a follower 50 conflicting entries behind is repaired in a few round trips, not 50', () => {
  const c = new Cluster({ seed: 8, voters: 5 });
  const l1 = c.waitForLeader(50);
  c.one(5);
  const [f1, ...majority] = others(c, l1);
  c.partition([[l1, f1], majority]);
  const base = c.node(l1).storage.lastIndex();
  proposeMany(c, l1, 50, 'stale');
  const l2 = waitForLeaderAmong(c, majority);
  waitAcked(c, proposeMany(c, l2, 50, 'fresh'));
  c.runTicks(5);
  // The minority really holds 50 entries of its old term where the majority committed others.
  const oldTerm = c.node(l1).hardState.term;
  for (const id of [l1, f1]) {
    expect(c.node(id).storage.lastIndex()).toBe(base + 50);
    expect(c.node(id).storage.term(base + 50)).toBe(oldTerm);
  }
  expect(c.node(l2).storage.term(base + 50)).toBeGreaterThan(oldTerm);

  // The majority's leader goes away, and the next one starts out assuming every follower has its whole log: it
  // must find out where the stale followers diverge.
  c.crash(l2);
  c.network.resetStats();
  c.heal();
  const l3 = waitForLeaderAmong(c, majority);
  expect([l1, f1, l2]).not.toContain(l3);
  c.restart(l2);
  settle(c);
  // Each rejection carries the follower's conflict hint (end of §5.3), so the leader skips a whole term per round
  // trip: a couple of rejections per stale follower, where one-entry-at-a-time backtracking would take 50.
  expect(c.network.stats.appRejections).toBeGreaterThan(0);
  expect(c.network.stats.appRejections).toBeLessThanOrEqual(4);
  for (const id of [l1, f1]) {
    expect(c.node(id).appliedLog).toEqual(c.node(c.leader()).appliedLog);
  }
});

test('Figure 8: leaders crash at random moments on an unreliable network, and nothing committed is lost', () => {
  const c = new Cluster({ seed: 9, voters: 5, faults: unreliable });
  c.waitForLeader(100);
  c.one(5);
  for (let iter = 0; iter < 300; iter++) {
    const l = c.leader();
    if (l !== None) {
      c.propose(l);
    }
    c.runTicks(c.rand.intn(10) === 0 ? 1 + c.rand.intn(30) : 1 + c.rand.intn(3));
    const now = c.leader();
    if (now !== None && c.rand.intn(3) === 0) {
      c.crash(now, c.rand.intn(2) === 0);
    }
    const down = [...c.nodes.values()].filter((n) => !n.up);
    if (down.length >= 3) {
      c.restart(down[c.rand.intn(down.length)].id);
    }
  }
  settle(c);
  c.one(5);
  expect(c.checker.electedLeaders).toBeGreaterThan(10);
  expect(c.stats.acked).toBeGreaterThan(20);
  expect(c.stats.crashes).toBeGreaterThan(10);
});

test('all servers crash and restart from what they persisted', () => {
  const c = new Cluster({ seed: 10, voters: 3 });
  c.waitForLeader(50);
  const before = [c.one(3), c.one(3), c.one(3)];
  const applied = c.node(c.leader()).appliedLog.slice();
  for (const id of c.nodes.keys()) {
    c.crash(id);
  }
  for (const id of c.nodes.keys()) {
    c.restart(id);
  }
  c.waitForLeader(100);
  c.one(3);
  for (const n of c.nodes.values()) {
    expect(n.appliedLog.slice(0, applied.length)).toEqual(applied);
  }
  expect(before[2]).toBeLessThanOrEqual(applied.length);
  settle(c);
});

test('snapshot install: a follower that missed compacted entries receives a snapshot', () => {
  const c = new Cluster({ seed: 11, voters: 3 });
  const l = c.waitForLeader(50);
  c.one(3);
  const [f, g] = others(c, l);
  c.isolate(f);
  waitAcked(c, proposeMany(c, l, 50, 'while-away'));
  c.runTicks(3);
  expect(c.snapshot(l, 0)).toBe(true);
  expect(c.snapshot(g, 0)).toBe(true);
  expect(c.node(l).storage.firstIndex()).toBeGreaterThan(c.node(f).storage.lastIndex() + 1);

  c.network.resetStats();
  c.rejoin(f);
  settle(c);
  expect(c.network.stats.sentByType.get(MessageType.MsgSnap)).toBeGreaterThanOrEqual(1);
  expect(c.node(f).snapshotsInstalled).toBeGreaterThanOrEqual(1);
  expect(c.node(f).appliedLog).toEqual(c.node(c.leader()).appliedLog);
  // The follower keeps working from the snapshot on.
  c.one(3);
});

test('membership churn through joint consensus: both majorities are needed while joint', () => {
  const c = new Cluster({ seed: 12, voters: 3 });
  let l = c.waitForLeader(50);
  c.one(3);
  // Hand leadership to node 3, which stays in every configuration below.
  if (l !== 3) {
    c.transferLeader(l, 3);
    expect(c.runUntil(() => c.leader() === 3, 50)).toBe(true);
    l = 3;
  }
  c.addNode(4);
  c.addNode(5);
  const learners = () => c.node(l).confState.learners;
  expect(c.proposeConfChange(l, simpleChange(ConfChangeType.ConfChangeAddLearnerNode, 4))).toBe(true);
  expect(c.runUntil(() => learners().includes(4), 50)).toBe(true);
  expect(c.proposeConfChange(l, jointChange(ConfChangeTransition.ConfChangeTransitionAuto, [
    [ConfChangeType.ConfChangeAddLearnerNode, 5],
  ]))).toBe(true);
  expect(c.runUntil(() => learners().includes(5), 50)).toBe(true);
  c.one(5);

  // Replace 1 and 2 by 4 and 5 in one step, staying joint until told to leave.
  expect(c.proposeConfChange(l, jointChange(ConfChangeTransition.ConfChangeTransitionJointExplicit, [
    [ConfChangeType.ConfChangeAddNode, 4],
    [ConfChangeType.ConfChangeAddNode, 5],
    [ConfChangeType.ConfChangeRemoveNode, 1],
    [ConfChangeType.ConfChangeRemoveNode, 2],
  ]))).toBe(true);
  expect(c.runUntil(() => c.node(l).confState.votersOutgoing.length > 0, 50)).toBe(true);
  expect([...c.node(l).confState.voters].sort()).toEqual([3, 4, 5]);
  expect([...c.node(l).confState.votersOutgoing].sort()).toEqual([1, 2, 3]);

  // Joint: the old majority {1 2 3} alone cannot commit while the new one {3 4 5} is cut off...
  c.partition([[1, 2, 3], [4, 5]]);
  const p = c.propose(l, 'joint-needs-both') as string;
  c.runTicks(30);
  expect(c.ackOf(p)).toBeUndefined();
  // ...and it commits once both majorities can be reached.
  c.heal();
  waitAcked(c, [p]);

  expect(c.proposeConfChange(l, leaveJoint())).toBe(true);
  expect(c.runUntil(() => c.node(l).confState.votersOutgoing.length === 0, 50)).toBe(true);
  expect([...c.node(l).confState.voters].sort()).toEqual([3, 4, 5]);
  // Nodes 1 and 2 are gone: the new configuration commits without them.
  c.crash(1);
  c.crash(2);
  c.one(3);
  expect(c.members()).toEqual([3, 4, 5]);
  settle(c);
});
