// The Raft paper, §5.3 and §5.4: log replication and safety, one test per group of sentences.

import { Raft } from '../../raft/raft';
import { Entry, Message, MessageType, StateType, newEntry } from '../../raft/types';
import {
  Network,
  becomeLeader,
  logTerms,
  msg,
  newTestRaft,
  nextEnts,
  propMsg,
  raftWithLog,
  readMessages,
  storageWith,
} from './net';

const enc = new TextEncoder();

function ents(...terms: number[]): Entry[] {
  return terms.map((term, i) => newEntry({ term, index: i + 1 }));
}

function describeMsgs(msgs: Message[]): [string, number, number, number, number, number][] {
  return msgs.map((m) => [MessageType[m.type], m.to, m.term, m.logTerm, m.index, m.commit]);
}

/** A leader of term 1 in a cluster of `size`, whose empty entry (index 1) is committed and applied everywhere. */
function newLeader(size: number): { r: Raft; s: ReturnType<typeof storageWith> } {
  const s = storageWith(Array.from({ length: size }, (_, i) => i + 1));
  const r = newTestRaft(1, 10, 1, s);
  becomeLeader(r);
  r.bcastAppend();
  ackAll(r, readMessages(r));
  readMessages(r);
  nextEnts(r, s);
  return { r, s };
}

/** Acknowledges everything the leader sent, from every follower. */
function ackAll(r: Raft, msgs: Message[]): void {
  for (const m of msgs) {
    if (m.type === MessageType.MsgApp) {
      r.step(msg({ type: MessageType.MsgAppResp, from: m.to, to: 1, term: m.term, index: m.index + m.entries.length }));
    }
  }
}

describe('§5.3 log replication', () => {
  // "Once a leader has been elected, it begins servicing client requests. Each client request contains a command
  // to be executed by the replicated state machines. The leader appends the command to its log as a new entry,
  // then issues AppendEntries RPCs in parallel to each of the other servers to replicate the entry." (L2, L3)
  test('L2/L3: the leader appends a proposal to its log and sends it to every follower', () => {
    const { r } = newLeader(3);
    r.step(propMsg(1, 'some data'));
    expect(r.raftLog.lastIndex()).toBe(2);
    const msgs = readMessages(r);
    expect(describeMsgs(msgs)).toEqual([
      ['MsgApp', 2, 1, 1, 1, 1],
      ['MsgApp', 3, 1, 1, 1, 1],
    ]);
    for (const m of msgs) {
      expect(m.entries.map((e) => [e.term, e.index, new TextDecoder().decode(e.data)])).toEqual([[1, 2, 'some data']]);
    }
    expect(r.raftLog.nextUnstableEnts().map((e) => e.index)).toEqual([2]);
  });

  // "A log entry is committed once the leader that created the entry has replicated it on a majority of the
  // servers ... The leader keeps track of the highest index it knows to be committed, and it includes that index
  // in future AppendEntries RPCs (including heartbeats) so that the other servers eventually find out." (L4)
  test('L4: an entry replicated on a majority commits, and later messages carry the commit index', () => {
    const { r, s } = newLeader(3);
    r.step(propMsg(1, 'some data'));
    for (const m of readMessages(r)) {
      r.step(msg({ type: MessageType.MsgAppResp, from: m.to, to: 1, term: m.term, index: m.index + m.entries.length }));
    }
    expect(r.raftLog.committed).toBe(2);
    expect(nextEnts(r, s).map((e) => [e.index, new TextDecoder().decode(e.data)])).toEqual([[2, 'some data']]);
    expect(describeMsgs(readMessages(r))).toEqual([
      ['MsgApp', 2, 1, 1, 2, 2],
      ['MsgApp', 3, 1, 1, 2, 2],
    ]);
  });

  test.each<[number, number[], boolean]>([
    [1, [], true],
    [3, [], false],
    [3, [2], true],
    [3, [2, 3], true],
    [5, [], false],
    [5, [2], false],
    [5, [2, 3], true],
    [5, [2, 3, 4], true],
    [5, [2, 3, 4, 5], true],
  ])('L4: in a cluster of %i, acknowledgements from %j commit the entry: %s', (size, acks, committed) => {
    const { r, s } = newLeader(size);
    r.step(propMsg(1));
    nextEnts(r, s);
    for (const m of readMessages(r)) {
      if (acks.includes(m.to)) {
        r.step(msg({ type: MessageType.MsgAppResp, from: m.to, to: 1, term: m.term, index: m.index + m.entries.length }));
      }
    }
    expect(r.raftLog.committed > 1).toBe(committed);
  });

  // "This also commits all preceding entries in the leader's log, including entries created by previous leaders."
  test.each([[[] as number[]], [[2]], [[1, 1]], [[1, 2]], [[1, 1, 2]]])(
    'L4: committing an entry commits the entries before it, from older terms %j too',
    (terms) => {
      const s = storageWith([1, 2, 3]);
      s.append(terms.map((t, i) => newEntry({ term: t, index: i + 1 })));
      const r = newTestRaft(1, 10, 1, s);
      r.loadState({ term: 2, vote: 0, commit: 0 });
      becomeLeader(r);
      r.step(propMsg(1));
      for (const m of readMessages(r)) {
        r.step(msg({ type: MessageType.MsgAppResp, from: m.to, to: 1, term: m.term, index: m.index + m.entries.length }));
      }
      const li = terms.length;
      expect(nextEnts(r, s).map((e) => e.index)).toEqual(
        Array.from({ length: li + 2 }, (_, i) => i + 1),
      );
      expect(r.raftLog.committed).toBe(li + 2);
    },
  );

  // "Once a follower learns that a log entry is committed, it applies the entry to its local state machine (in log
  // order)." (A1, AE5)
  test.each<[Entry[], number, number[]]>([
    [[newEntry({ term: 1, index: 1, data: enc.encode('some data') })], 1, [1]],
    [[newEntry({ term: 1, index: 1 }), newEntry({ term: 1, index: 2 })], 2, [1, 2]],
    [[newEntry({ term: 1, index: 1 }), newEntry({ term: 1, index: 2 })], 1, [1]],
  ])('A1/AE5: a follower applies entries up to the leader commit (case %#)', (entries, commit, applied) => {
    const s = storageWith([1, 2, 3]);
    const r = newTestRaft(1, 10, 1, s);
    r.becomeFollower(1, 2);
    r.step(msg({ type: MessageType.MsgApp, from: 2, to: 1, term: 1, logTerm: 0, index: 0, entries, commit }));
    expect(r.raftLog.committed).toBe(commit);
    expect(nextEnts(r, s).map((e) => e.index)).toEqual(applied);
  });

  // "When sending an AppendEntries RPC, the leader includes the index and term of the entry in its log that
  // immediately precedes the new entries. If the follower does not find an entry in its log with the same index
  // and term, then it refuses the new entries." (AE2)
  test.each<[number, number, number, boolean, number, number]>([
    // logTerm, index, want index, reject, reject hint, hint term
    [0, 0, 1, false, 0, 0],
    [ents(1, 2)[0].term, 1, 1, false, 0, 0],
    [2, 2, 2, false, 0, 0],
    [1, 1, 1, false, 0, 0],
    [1, 2, 2, true, 1, 1],
    [3, 3, 3, true, 2, 2],
  ])('AE2: a MsgApp anchored at (term %i, index %i) is accepted or refused with a hint', (logTerm, index, wIndex, wReject, wHint, wHintTerm) => {
    const r = raftWithLog(1, [1, 2, 3], [1, 2], 0);
    r.loadState({ term: 0, vote: 0, commit: 1 });
    r.becomeFollower(2, 2);
    r.step(msg({ type: MessageType.MsgApp, from: 2, to: 1, term: 2, logTerm, index }));
    const msgs = readMessages(r);
    expect(msgs.map((m) => [m.type, m.index, m.reject, m.rejectHint, m.logTerm])).toEqual([
      [MessageType.MsgAppResp, wIndex, wReject, wHint, wHintTerm],
    ]);
  });

  // "If an existing entry conflicts with a new one (same index but different terms), delete the existing entry and
  // all that follow it; append any new entries not already in the log." (AE3, AE4)
  test.each<[number, number, number[], number[], number[]]>([
    // anchor index, anchor term, new entry terms, resulting log, unstable indexes
    [2, 2, [3], [1, 2, 3], [3]],
    [1, 1, [3, 4], [1, 3, 4], [2, 3]],
    [0, 0, [1], [1, 2], []],
    [0, 0, [3], [3], [1]],
  ])('AE3/AE4: appending after (%i, %i) yields the right log', (index, logTerm, newTerms, want, unstable) => {
    const s = storageWith([1, 2, 3]);
    s.append(ents(1, 2));
    const r = newTestRaft(1, 10, 1, s);
    r.becomeFollower(2, 2);
    const entries = newTerms.map((t, i) => newEntry({ term: t, index: index + 1 + i }));
    r.step(msg({ type: MessageType.MsgApp, from: 2, to: 1, term: 2, logTerm, index, entries }));
    expect(logTerms(r)).toEqual(want);
    expect(r.raftLog.nextUnstableEnts().map((e) => e.index)).toEqual(unstable);
  });

  // Figure 7: "When the leader at the top comes to power, it is possible that any of scenarios (a-f) could occur
  // in follower logs." "... the leader handles inconsistencies by forcing the followers' logs to duplicate its
  // own." (L3)
  const figure7Leader = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  test.each<[string, number[]]>([
    ['(a) missing entries', [1, 1, 1, 4, 4, 5, 5, 6, 6]],
    ['(b) missing many entries', [1, 1, 1, 4]],
    ['(c) an extra uncommitted entry', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6]],
    ['(d) extra entries of a later term', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7]],
    ['(e) missing entries and extra ones of an old term', [1, 1, 1, 4, 4, 4, 4]],
    ['(f) many extra entries of terms 2 and 3', [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]],
  ])('Figure 7 %s: the leader brings the follower log to its own', (_name, followerTerms) => {
    const term = 8;
    const lead = raftWithLog(1, [1, 2, 3], figure7Leader, term);
    lead.loadState({ term, vote: 0, commit: figure7Leader.length });
    const follower = raftWithLog(2, [1, 2, 3], followerTerms, term - 1);
    // Node 3 never answers: node 1 needs its vote, delivered by hand, because the follower's log may be more up
    // to date than the leader's and then refuses its vote.
    const nt = new Network([lead, follower, 'hole']);
    nt.campaign(1);
    nt.send(msg({ type: MessageType.MsgVoteResp, from: 3, to: 1, term: term + 1 }));
    expect(lead.state).toBe(StateType.StateLeader);
    nt.propose(1, '');
    expect(logTerms(follower)).toEqual(logTerms(lead));
    expect(follower.raftLog.allEntries()).toEqual(lead.raftLog.allEntries());
  });

  test('fast backup: a follower with a long divergent tail is repaired in a few round trips', () => {
    // The follower holds 50 entries of term 2 the leader never had (6.824's "fast backup" case).
    const follower = raftWithLog(2, [1, 2, 3], [1, ...new Array<number>(50).fill(2)], 2);
    const lead = raftWithLog(1, [1, 2, 3], [1, ...new Array<number>(50).fill(3)], 3);
    lead.loadState({ term: 3, vote: 0, commit: 1 });
    const nt = new Network([lead, follower, null]);
    nt.campaign(1);
    expect(lead.state).toBe(StateType.StateLeader);
    nt.propose(1);
    expect(follower.raftLog.allEntries()).toEqual(lead.raftLog.allEntries());
    const rejections = nt.delivered.filter((m) => m.type === MessageType.MsgAppResp && m.reject && m.from === 2);
    expect(rejections.length).toBeLessThanOrEqual(2);
  });
});

describe('§5.4 safety', () => {
  // "The RequestVote RPC ... includes information about the candidate's log" (lastLogIndex, lastLogTerm). (C1)
  test('C1: vote requests carry the index and term of the candidate last entry', () => {
    const r = raftWithLog(1, [1, 2, 3], [1, 1, 2], 2);
    r.step(msg({ type: MessageType.MsgHup, from: 1, to: 1 }));
    expect(describeMsgs(readMessages(r))).toEqual([
      ['MsgVote', 2, 3, 2, 3, 0],
      ['MsgVote', 3, 3, 2, 3, 0],
    ]);
  });

  // "Raft determines which of two logs is more up-to-date by comparing the index and term of the last entries in
  // the logs. If the logs have last entries with different terms, then the log with the later term is more
  // up-to-date. If the logs end with the same term, then whichever log is longer is more up-to-date." (RV2)
  test.each<[number, number, boolean]>([
    // The voter's log is [1, 1] (last term 1, index 2).
    [0, 0, true],
    [0, 1, true],
    [0, 2, true],
    [0, 3, true],
    [1, 0, true],
    [1, 1, true],
    [1, 2, false],
    [1, 3, false],
    [2, 0, false],
    [2, 1, false],
    [2, 2, false],
    [2, 3, false],
  ])('RV2 (§5.4.1): a candidate with last term %i and index %i is refused: %s', (candTermOffset, candIndex, reject) => {
    const logTerm = [0, 1, 2][candTermOffset];
    const r = raftWithLog(1, [1, 2, 3], [1, 1], 2);
    r.step(msg({ type: MessageType.MsgVote, from: 2, to: 1, term: 3, logTerm, index: candIndex }));
    const msgs = readMessages(r);
    expect(msgs.map((m) => [m.type, m.reject])).toEqual([[MessageType.MsgVoteResp, reject]]);
  });

  // "Raft never commits log entries from previous terms by counting replicas. Only log entries from the leader's
  // current term are committed by counting replicas." (L4, §5.4.2)
  test.each<[number, number]>([
    [1, 0],
    [2, 0],
    [3, 3],
  ])('L4 (§5.4.2): an acknowledgement of index %i commits up to %i', (index, wcommit) => {
    const r = raftWithLog(1, [1, 2], [1, 2], 2);
    becomeLeader(r);
    readMessages(r);
    r.step(propMsg(1, ''));
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index }));
    expect(r.raftLog.committed).toBe(wcommit);
  });

  // Figure 8: an entry from an older term replicated on a majority can still be overwritten; it is safe only once
  // an entry of the current term is committed on top of it.
  test('Figure 8: a leader commits an old-term entry only together with an entry of its own term', () => {
    // (c) S1 leads term 4 with log [1, 2(t2)]; S2 and S3 also hold index 2 of term 2.
    const s1 = raftWithLog(1, [1, 2, 3, 4, 5], [1, 2], 3);
    becomeLeader(s1);
    expect(s1.term).toBe(4);
    readMessages(s1);
    const ack = (from: number, index: number): void =>
      s1.step(msg({ type: MessageType.MsgAppResp, from, to: 1, term: 4, index }));
    ack(2, 2);
    ack(3, 2);
    // Index 2 is on a majority (S1, S2, S3) but is from term 2: not committed, because...
    expect(s1.raftLog.committed).toBe(0);

    // (d) ...S5, with [1, 2(t3)], could still be elected by S2, S3 and S4, and overwrite index 2.
    const s2 = raftWithLog(2, [1, 2, 3, 4, 5], [1, 2], 4);
    s2.step(msg({ type: MessageType.MsgVote, from: 5, to: 2, term: 5, logTerm: 3, index: 2 }));
    expect(readMessages(s2).map((m) => [m.type, m.reject])).toEqual([[MessageType.MsgVoteResp, false]]);

    // (e) Once S1's term-4 entry (index 3) is on a majority, it commits, and index 2 with it...
    ack(2, 3);
    expect(s1.raftLog.committed).toBe(0);
    ack(3, 3);
    expect(s1.raftLog.committed).toBe(3);

    // ...and S5 can no longer win: a majority holds a log more up to date than S5's.
    const s3 = raftWithLog(3, [1, 2, 3, 4, 5], [1, 2, 4], 4);
    s3.step(msg({ type: MessageType.MsgVote, from: 5, to: 3, term: 5, logTerm: 3, index: 2 }));
    expect(readMessages(s3).map((m) => [m.type, m.reject])).toEqual([[MessageType.MsgVoteResp, true]]);
  });

  // Leader Completeness: "if a log entry is committed in a given term, then that entry will be present in the logs
  // of the leaders for all higher-numbered terms."
  test('Leader Completeness: after a commit, only a server holding the entry can be elected', () => {
    const nt = Network.ofSize(5);
    nt.campaign(1);
    nt.isolate(4);
    nt.isolate(5);
    nt.propose(1, 'committed');
    const committed = nt.raft(1).raftLog.committed;
    expect(nt.raft(1).raftLog.term(committed)).toBe(1);
    nt.recover();
    nt.isolate(1);
    // 4 and 5 lack the entry; the others refuse them.
    nt.campaign(4);
    expect(nt.raft(4).state).not.toBe(StateType.StateLeader);
    nt.campaign(2);
    expect(nt.raft(2).state).toBe(StateType.StateLeader);
    expect(nt.raft(2).raftLog.committed).toBeGreaterThanOrEqual(committed);
    expect(new TextDecoder().decode(nt.raft(2).raftLog.allEntries()[committed - 1].data)).toBe('committed');
  });

});

describe('§5.5 follower and candidate crashes', () => {
  // "If a follower or candidate crashes, then future RequestVote and AppendEntries RPCs sent to it will fail. Raft
  // handles these failures by retrying indefinitely; if the crashed server restarts, then the RPC will complete
  // successfully."
  test('a follower that was down catches up through the retries heartbeats prompt', () => {
    const nt = Network.ofSize(3);
    nt.campaign(1);
    nt.isolate(3);
    nt.propose(1, 'while 3 was down');
    expect(nt.raft(3).raftLog.lastIndex()).toBe(1);
    nt.recover();
    nt.send(msg({ type: MessageType.MsgBeat, from: 1, to: 1 }));
    expect(nt.raft(3).raftLog.allEntries()).toEqual(nt.raft(1).raftLog.allEntries());
    expect(nt.raft(3).raftLog.committed).toBe(nt.raft(1).raftLog.committed);
  });

  // "Raft RPCs are idempotent, so this causes no harm. For example, if a follower receives an AppendEntries request
  // that includes log entries already present in its log, it ignores those entries in the new request."
  test('an AppendEntries delivered twice leaves the follower log as it was after the first', () => {
    const r = newTestRaft(2, 10, 1, storageWith([1, 2, 3]));
    const app = msg({
      type: MessageType.MsgApp,
      from: 1,
      to: 2,
      term: 1,
      logTerm: 0,
      index: 0,
      entries: [newEntry({ term: 1, index: 1 }), newEntry({ term: 1, index: 2, data: enc.encode('x') })],
      commit: 1,
    });
    r.step(app);
    const after = r.raftLog.allEntries();
    r.step(app);
    expect(r.raftLog.allEntries()).toEqual(after);
    // The repeat starts below the commit index, which is answered directly: everything up to it matches.
    expect(readMessages(r).map((m) => [m.type, m.index, m.reject])).toEqual([
      [MessageType.MsgAppResp, 2, false],
      [MessageType.MsgAppResp, 1, false],
    ]);
  });
});
