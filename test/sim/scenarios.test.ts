// MIT 6.824's Raft checklist, replayed on the simulated cluster: elections, agreement under failures, fast log
// backtracking, Figure 8, snapshots after disconnection, and membership changes through joint consensus. Every
// step of every scenario also runs the Figure 3 checks.

import { Cluster } from '../../raft/rafttest/cluster';
import { membersOf } from '../../raft/rafttest/simnode';
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

// The two ways an application can drive RawNode: Ready/advance, or etcd's asynchronous storage writes.
const modes = [
  ['classic Ready loop', false],
  ['asynchronous storage writes', true],
] as const;

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

test('Figure 8: an entry from an earlier term is never committed by counting its replicas', () => {
  // Figure 8 of the paper, staged message by message. One entry per MsgApp, so the leader of (c) can replicate the
  // old entry without its own-term entry after it.
  const c = new Cluster({ seed: 13, voters: 5, node: { maxSizePerMsg: 0 } });
  const s1 = c.waitForLeader(50);
  c.one(5);
  c.runTicks(2);
  const [s2, s5, s3, s4] = others(c, s1);
  const k = c.node(s1).storage.lastIndex() + 1;

  // (a) s1 replicates x at index k to s2 only.
  c.partition([[s1, s2], [s3, s4, s5]]);
  const x = c.propose(s1, 'x') as string;
  c.runTicks(2);
  expect(c.node(s2).storage.lastIndex()).toBe(k);
  const termA = c.node(s1).hardState.term;

  // (b) s5 wins the next term with votes from s3 and s4 and writes entries from index k on (its empty election
  // entry, then y), which nobody receives; it crashes.
  c.network.intercept = (m) => (m.from === s5 && m.type === MessageType.MsgApp ? null : m);
  c.campaign(s5);
  expect(c.runUntil(() => c.node(s5).role === StateType.StateLeader, 20)).toBe(true);
  const y = c.propose(s5, 'y') as string;
  c.runTicks(1);
  const termB = c.node(s5).hardState.term;
  expect(c.node(s5).storage.term(k)).toBe(termB);
  c.crash(s5);

  // (c) s1 or s2 leads a later term and gets x onto s3 (a majority: s1, s2, s3), while its own-term entry after x
  // never reaches s3 (the messages carrying it arrive trimmed), and s4 receives no entries.
  const old = [s1, s2];
  c.network.intercept = (m) => {
    if (!old.includes(m.from) || m.type !== MessageType.MsgApp) {
      return m;
    }
    if (m.to === s4) {
      return null;
    }
    return m.to === s3 ? { ...m, entries: m.entries.filter((e) => e.index <= k) } : m;
  };
  c.partition([[s1, s2, s3, s4], [s5]]);
  const leadsLater = () => {
    const l = leaderAmong(c, old);
    return l !== None && c.node(l).hardState.term > termB;
  };
  expect(c.runUntil(leadsLater, 200)).toBe(true);
  expect(c.runUntil(() => c.node(s3).storage.lastIndex() >= k, 50)).toBe(true);
  expect(c.node(s3).storage.term(k)).toBe(termA);
  c.runTicks(10);
  // §5.4.2: x sits on a majority, but it is from an earlier term, so it is not committed.
  const lC = leaderAmong(c, old);
  expect(c.node(lC).hardState.commit).toBeLessThan(k);

  // (d) That leader crashes; s5 comes back and, with its later last term, wins with s3 and s4, replacing x at index
  // k. Had x been committed, this would lose it (and the checker would throw Leader Completeness here).
  c.crash(lC);
  c.network.intercept = null;
  c.partition([[s5, s3, s4], [s1], [s2]]);
  c.restart(s5);
  expect(c.runUntil(() => leaderAmong(c, [s5, s3, s4]) === s5, 200)).toBe(true);
  c.heal();
  settle(c);
  expect(c.ackOf(x)).toBeUndefined();
  // Index k holds s5's entry of term (b) (the empty entry it appended on election), and y follows it.
  expect(c.nCommitted(k).count).toBe(5);
  expect(c.node(s5).appliedLog[k - 1]).toBe(`${termB}:0:`);
  expect(c.ackOf(y)).toBe(k + 1);
});

test.each(modes)('Figure 8 (unreliable): leaders crash at random moments on a lossy network (%s)', (_mode, async) => {
  const c = new Cluster({ seed: 9, voters: 5, faults: unreliable, node: { asyncStorageWrites: async } });
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

test.each(modes)('all servers crash and restart from what they persisted (%s)', (_mode, async) => {
  const c = new Cluster({ seed: 10, voters: 3, node: { asyncStorageWrites: async } });
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

test.each(modes)('snapshot install: a follower that missed compacted entries receives one (%s)', (_mode, async) => {
  const c = new Cluster({ seed: 11, voters: 3, node: { asyncStorageWrites: async } });
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

test('a removed node that never learned of its removal cannot depose the leader when it returns', () => {
  const c = new Cluster({ seed: 14, voters: 3 });
  const l = c.waitForLeader(50);
  const [x] = others(c, l);
  c.isolate(x);
  expect(c.proposeConfChange(l, simpleChange(ConfChangeType.ConfChangeRemoveNode, x))).toBe(true);
  expect(c.runUntil(() => !membersOf(c.node(l).confState).includes(x), 50)).toBe(true);
  // Alone, x keeps campaigning with ever higher terms (no PreVote here).
  c.runTicks(60);
  const term = c.node(l).hardState.term;
  expect(c.node(x).hardState.term).toBeGreaterThan(term);
  c.rejoin(x);
  c.runTicks(60);
  // The members refuse its messages, as etcd's transport does, so its terms never reach them.
  expect(c.leader()).toBe(l);
  expect(c.node(l).hardState.term).toBe(term);
  c.one(2);
  expect(c.trace.lines().some((line) => line.includes(`refused: ${x}->`))).toBe(true);
});
