// The Raft paper, §5.1 and §5.2: terms, roles and leader election, one test per group of sentences.

import { Raft } from '../../raft/raft';
import { MessageType, StateType } from '../../raft/types';
import {
  Network,
  becomeLeader,
  msg,
  newTestRaft,
  readMessages,
  storageWith,
} from './net';

function ids(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

function newRaft3(id = 1): Raft {
  return newTestRaft(id, 10, 1, storageWith([1, 2, 3]));
}

describe('§5.1 servers, terms and roles', () => {
  // "If one server's current term is smaller than the other's, then it updates its current term to the larger
  // value. If a candidate or leader discovers that its term is out of date, it immediately reverts to follower
  // state." (rule A2)
  test.each([
    ['follower', (r: Raft) => r.becomeFollower(1, 2)],
    ['candidate', (r: Raft) => r.becomeCandidate()],
    ['leader', (r: Raft) => becomeLeader(r)],
  ])('A2: a %s that sees a newer term adopts it and becomes a follower', (_name, setup) => {
    const r = newRaft3();
    setup(r);
    r.step(msg({ type: MessageType.MsgApp, from: 2, to: 1, term: 2 }));
    expect(r.term).toBe(2);
    expect(r.state).toBe(StateType.StateFollower);
    // MsgApp comes only from a leader of its term, so the sender is known to lead.
    expect(r.lead).toBe(2);
  });

  test('A2: a vote request with a newer term makes the receiver a follower without a known leader', () => {
    const r = newRaft3();
    becomeLeader(r);
    r.step(msg({ type: MessageType.MsgVote, from: 2, to: 1, term: 5, logTerm: 9, index: 9 }));
    expect(r.term).toBe(5);
    expect(r.state).toBe(StateType.StateFollower);
    expect(r.lead).toBe(0);
    expect(r.vote).toBe(2);
  });

  // "If a server receives a request with a stale term number, it rejects the request." (rules RV1, AE1)
  test('RV1/AE1: a request from an older term is refused and changes nothing', () => {
    const r = newRaft3();
    r.becomeFollower(2, 2);
    r.step(msg({ type: MessageType.MsgApp, from: 3, to: 1, term: 1, index: 0, logTerm: 0, entries: [] }));
    expect(r.term).toBe(2);
    expect(r.lead).toBe(2);
    expect(readMessages(r)).toEqual([]);
    r.step(msg({ type: MessageType.MsgVote, from: 3, to: 1, term: 1, index: 5, logTerm: 5 }));
    expect(r.vote).toBe(0);
    expect(readMessages(r)).toEqual([]);
  });

  // "When servers start up, they begin as followers."
  test('servers start up as followers at term 0', () => {
    const r = newRaft3();
    expect(r.state).toBe(StateType.StateFollower);
    expect(r.term).toBe(0);
    expect(r.lead).toBe(0);
  });
});

describe('§5.2 leader election', () => {
  // "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to all followers in order to
  // maintain their authority." (rule L1)
  test('L1: a leader broadcasts heartbeats every heartbeat timeout', () => {
    const hi = 1;
    const r = newTestRaft(1, 10, hi, storageWith([1, 2, 3]));
    becomeLeader(r);
    readMessages(r);
    for (let i = 0; i < hi; i++) {
      r.tick();
    }
    const msgs = readMessages(r).map((m) => [m.type, m.to, m.term]);
    expect(msgs).toEqual([
      [MessageType.MsgHeartbeat, 2, 1],
      [MessageType.MsgHeartbeat, 3, 1],
    ]);
  });

  // "If a follower receives no communication over a period of time called the election timeout, then it assumes
  // there is no viable leader and begins an election to choose a new leader. To begin an election, a follower
  // increments its current term and transitions to candidate state. It then votes for itself and issues
  // RequestVote RPCs in parallel to each of the other servers in the cluster." (rules F2, C1)
  test.each([
    ['follower', (r: Raft) => r.becomeFollower(1, 2)],
    ['candidate', (r: Raft) => r.becomeCandidate()],
  ])('F2/C1/C4: a %s that times out starts an election in a new term', (_name, setup) => {
    const et = 10;
    const r = newTestRaft(1, et, 1, storageWith([1, 2, 3]));
    setup(r);
    for (let i = 1; i < 2 * et; i++) {
      r.tick();
    }
    expect(r.term).toBe(2);
    expect(r.state).toBe(StateType.StateCandidate);
    expect(r.trk.votes.get(r.id)).toBe(undefined);
    expect(r.vote).toBe(1);
    const msgs = readMessages(r).map((m) => [m.type, m.to, m.term, m.logTerm, m.index]);
    expect(msgs).toEqual([
      [MessageType.MsgVote, 2, 2, 0, 0],
      [MessageType.MsgVote, 3, 2, 0, 0],
    ]);
    // The vote for itself counts once it is persisted.
    expect(r.trk.votes.get(r.id)).toBe(true);
  });

  // "A candidate wins an election if it receives votes from a majority of the servers in the full cluster for the
  // same term. ... Once a candidate wins an election, it becomes leader." (rule C2) "... a candidate neither wins
  // nor loses the election ... each candidate will time out and start a new election" (rule C4)
  test.each<[number, Record<number, boolean>, StateType]>([
    [1, {}, StateType.StateLeader],
    [3, { 2: true, 3: true }, StateType.StateLeader],
    [3, { 2: true }, StateType.StateLeader],
    [5, { 2: true, 3: true, 4: true, 5: true }, StateType.StateLeader],
    [5, { 2: true, 3: true, 4: true }, StateType.StateLeader],
    [5, { 2: true, 3: true }, StateType.StateLeader],
    [3, { 2: false, 3: false }, StateType.StateFollower],
    [5, { 2: false, 3: false, 4: false, 5: false }, StateType.StateFollower],
    [5, { 2: true, 3: false, 4: false, 5: false }, StateType.StateFollower],
    [3, {}, StateType.StateCandidate],
    [5, { 2: true }, StateType.StateCandidate],
    [5, { 2: false, 3: false }, StateType.StateCandidate],
    [5, {}, StateType.StateCandidate],
  ])('C2: with %i servers and votes %j the candidate ends as %s', (size, votes, want) => {
    const r = newTestRaft(1, 10, 1, storageWith(ids(size)));
    r.step(msg({ type: MessageType.MsgHup, from: 1, to: 1 }));
    readMessages(r);
    for (const [id, granted] of Object.entries(votes)) {
      r.step(msg({ type: MessageType.MsgVoteResp, from: Number(id), to: 1, term: r.term, reject: !granted }));
    }
    expect(StateType[r.state]).toBe(StateType[want]);
    expect(r.term).toBe(1);
  });

  // "Each server will vote for at most one candidate in a given term, on a first-come-first-served basis." (RV2)
  test.each([
    [0, 2, false],
    [0, 3, false],
    [2, 2, false],
    [3, 3, false],
    [2, 3, true],
    [3, 2, true],
  ])('RV2: a follower that voted for %i answers a request from %i with reject=%s', (vote, nvote, wreject) => {
    const r = newRaft3();
    r.loadState({ term: 1, vote, commit: 0 });
    r.step(msg({ type: MessageType.MsgVote, from: nvote, to: 1, term: 1 }));
    const msgs = readMessages(r);
    expect(msgs.map((m) => [m.from, m.to, m.term, m.type, m.reject])).toEqual([
      [1, nvote, 1, MessageType.MsgVoteResp, wreject],
    ]);
  });

  // "While waiting for votes, a candidate may receive an AppendEntries RPC from another server claiming to be
  // leader. If the leader's term is at least as large as the candidate's current term, then the candidate
  // recognizes the leader as legitimate and returns to follower state." (rule C3)
  test.each([1, 2])('C3: a candidate that hears from a leader of term %i (>= its own) becomes its follower', (term) => {
    const r = newRaft3();
    r.step(msg({ type: MessageType.MsgHup, from: 1, to: 1 }));
    expect(r.state).toBe(StateType.StateCandidate);
    r.step(msg({ type: MessageType.MsgApp, from: 2, to: 1, term }));
    expect(r.state).toBe(StateType.StateFollower);
    expect(r.term).toBe(term);
    expect(r.lead).toBe(2);
  });

  // "Raft uses randomized election timeouts to ensure that split votes are rare ... election timeouts are chosen
  // randomly from a fixed interval (e.g., 150-300ms)."
  test.each([
    ['follower', (r: Raft) => r.becomeFollower(r.term + 1, 2)],
    ['candidate', (r: Raft) => r.becomeCandidate()],
  ])('the election timeout of a %s is drawn from [et, 2et) and covers the range', (_name, become) => {
    const et = 10;
    const r = newTestRaft(1, et, 1, storageWith([1, 2, 3]));
    const timeouts = new Set<number>();
    for (let round = 0; round < 50 * et; round++) {
      become(r);
      let ticks = 0;
      const term = r.term;
      while (r.term === term) {
        r.tick();
        ticks++;
      }
      readMessages(r);
      timeouts.add(ticks);
    }
    for (let d = et; d < 2 * et; d++) {
      expect(timeouts.has(d)).toBe(true);
    }
    expect(Math.min(...timeouts)).toBeGreaterThanOrEqual(et);
    expect(Math.max(...timeouts)).toBeLessThan(2 * et);
  });

  // "... in most cases only a single server will time out; it wins the election and sends heartbeats before any
  // other servers time out."
  test('randomized timeouts make simultaneous elections rare', () => {
    const et = 10;
    const size = 5;
    const rafts = ids(size).map((id) => newTestRaft(id, et, 1, storageWith(ids(size))));
    let conflicts = 0;
    const rounds = 1000;
    for (let round = 0; round < rounds; round++) {
      for (const r of rafts) {
        r.becomeFollower(r.term + 1, 0);
      }
      let timedOut = 0;
      while (timedOut === 0) {
        for (const r of rafts) {
          r.tick();
          if (readMessages(r).length > 0) {
            timedOut++;
          }
        }
      }
      if (timedOut > 1) {
        conflicts++;
      }
    }
    // Each of 5 servers draws from 10 ticks: two land on the same first tick in well under half the rounds.
    expect(conflicts / rounds).toBeLessThan(0.3);
  });

  test('a three-node cluster elects the node that campaigns, in one round of RPCs', () => {
    const nt = Network.ofSize(3);
    nt.campaign(1);
    expect(nt.raft(1).state).toBe(StateType.StateLeader);
    expect(nt.raft(2).state).toBe(StateType.StateFollower);
    expect(nt.raft(2).lead).toBe(1);
    expect(nt.raft(3).lead).toBe(1);
    const votes = nt.delivered.filter((m) => m.type === MessageType.MsgVote);
    expect(votes.map((m) => m.to)).toEqual([2, 3]);
  });

  test('no leader is elected without a quorum, and one is once the partition heals', () => {
    const nt = Network.ofSize(3);
    nt.isolate(1);
    nt.cut(2, 3);
    nt.campaign(1);
    expect(nt.raft(1).state).toBe(StateType.StateCandidate);
    nt.recover();
    nt.campaign(1);
    expect(nt.raft(1).state).toBe(StateType.StateLeader);
    expect(nt.raft(1).term).toBe(2);
  });
});
