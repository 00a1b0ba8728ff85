// The core's mechanics beyond Figure 2: flow control, the uncommitted-size limit, proposal forwarding, heartbeat
// commit capping, stale and duplicated messages, and the exact log lines the scenario files compare.

import { Raft } from '../../raft/raft';
import { RecordingLogger } from '../support/recording_logger';
import { StateType as ProgressState } from '../../raft/tracker/state';
import { MessageType, StateType, newEntry } from '../../raft/types';
import {
  Network,
  becomeLeader,
  msg,
  newTestRaft,
  propMsg,
  readMessages,
  storageWith,
} from '../paper/net';

function leader(voters: number[], extra: Parameters<typeof newTestRaft>[4] = {}): Raft {
  const r = newTestRaft(1, 10, 1, storageWith(voters), extra);
  becomeLeader(r);
  readMessages(r);
  return r;
}

describe('flow control', () => {
  test('a probing follower gets one append at a time until it answers', () => {
    const r = leader([1, 2]);
    r.step(propMsg(1));
    r.step(propMsg(1));
    r.step(propMsg(1));
    const msgs = readMessages(r).filter((m) => m.to === 2);
    // The first append (sent on the first proposal) carries everything then in the log; the flow then pauses.
    expect(msgs.length).toBe(1);
    expect(r.trk.progress.get(2)?.state).toBe(ProgressState.StateProbe);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: 2 }));
    expect(r.trk.progress.get(2)?.state).toBe(ProgressState.StateReplicate);
    const next = readMessages(r).filter((m) => m.to === 2);
    expect(next.map((m) => [m.index, m.entries.length])).toEqual([[2, 2]]);
  });

  test('a replicating follower is paused once maxInflightMsgs appends are unacknowledged', () => {
    const r = leader([1, 2], { maxInflightMsgs: 2 });
    r.step(propMsg(1));
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: 2 }));
    readMessages(r);
    for (let i = 0; i < 4; i++) {
      r.step(propMsg(1));
    }
    const apps = readMessages(r).filter((m) => m.to === 2 && m.type === MessageType.MsgApp);
    expect(apps.length).toBe(2);
    expect(r.trk.progress.get(2)?.toString()).toContain('inflight=2[full]');
    // An acknowledgement frees the window, and the rest goes out in one message.
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: 4 }));
    const more = readMessages(r).filter((m) => m.to === 2 && m.type === MessageType.MsgApp);
    expect(more.map((m) => m.entries.map((e) => e.index))).toEqual([[5, 6]]);
  });

  test('a rejection moves a replicating follower back to probing from the hint', () => {
    const r = leader([1, 2]);
    r.step(propMsg(1));
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: 2 }));
    r.step(propMsg(1));
    readMessages(r);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: 3, reject: true, rejectHint: 1 }));
    const pr = r.trk.progress.get(2);
    expect(pr?.state).toBe(ProgressState.StateProbe);
    expect(pr?.next).toBe(3);
  });

  test('a stale rejection, for an index already acknowledged, is ignored', () => {
    const r = leader([1, 2]);
    r.step(propMsg(1));
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: 2 }));
    readMessages(r);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: 1, reject: true, rejectHint: 0 }));
    expect(r.trk.progress.get(2)?.state).toBe(ProgressState.StateReplicate);
    expect(readMessages(r)).toEqual([]);
  });

  test('heartbeats never carry a commit index beyond what the follower is known to hold', () => {
    const r = leader([1, 2, 3]);
    r.step(propMsg(1));
    readMessages(r);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: 2 }));
    expect(r.raftLog.committed).toBe(2);
    readMessages(r);
    r.step(msg({ type: MessageType.MsgBeat, from: 1, to: 1 }));
    const beats = readMessages(r).filter((m) => m.type === MessageType.MsgHeartbeat);
    expect(beats.map((m) => [m.to, m.commit])).toEqual([
      [2, 2],
      [3, 0],
    ]);
  });
});

describe('proposals', () => {
  test('the uncommitted-size limit drops proposals beyond it, but never an empty one', () => {
    const r = leader([1, 2, 3], { maxUncommittedEntriesSize: 10 });
    const data = (n: number): ReturnType<typeof propMsg> =>
      msg({ type: MessageType.MsgProp, from: 1, to: 1, entries: [newEntry({ term: 0, index: 0, data: new Uint8Array(n) })] });
    r.step(data(6));
    // The tail is not empty now, so 6 + 6 > 10 is refused...
    expect(() => r.step(data(6))).toThrow('raft proposal dropped');
    // ...while 6 + 4 fits, and an empty entry always fits.
    r.step(data(4));
    r.step(data(0));
    expect(r.uncommittedSize).toBe(10);
    // Committed and applied entries leave the tail.
    r.reduceUncommittedSize(6);
    expect(r.uncommittedSize).toBe(4);
    r.reduceUncommittedSize(100);
    expect(r.uncommittedSize).toBe(0);
  });

  test('a follower forwards proposals to its leader unless forwarding is disabled', () => {
    const nt = Network.ofSize(3);
    nt.campaign(1);
    nt.propose(2, 'forwarded');
    expect(nt.raft(1).raftLog.allEntries().map((e) => new TextDecoder().decode(e.data))).toContain('forwarded');

    const logger = new RecordingLogger();
    const r = newTestRaft(2, 10, 1, storageWith([1, 2, 3]), { disableProposalForwarding: true, logger });
    r.becomeFollower(1, 1);
    expect(() => r.step(propMsg(2))).toThrow('raft proposal dropped');
    expect(logger.lines).toContain('INFO 2 not forwarding to leader 1 at term 1; dropping proposal');
  });

  test('a candidate drops proposals', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]));
    r.becomeCandidate();
    expect(() => r.step(propMsg(1))).toThrow('raft proposal dropped');
  });

  test('a proposal message is not changed by the leader that appends it', () => {
    const r = leader([1, 2]);
    const m = propMsg(1, 'x');
    r.step(m);
    expect([m.entries[0].term, m.entries[0].index]).toEqual([0, 0]);
    // Delivering the same message again appends a second, distinct entry.
    r.step(m);
    expect(r.raftLog.allEntries().map((e) => [e.term, e.index])).toEqual([
      [1, 1],
      [1, 2],
      [1, 3],
    ]);
  });
});

describe('terms and roles', () => {
  test('a vote for the same candidate is granted again, as when a response was lost', () => {
    const r = newTestRaft(2, 10, 1, storageWith([1, 2, 3]));
    r.step(msg({ type: MessageType.MsgVote, from: 1, to: 2, term: 1 }));
    r.step(msg({ type: MessageType.MsgVote, from: 1, to: 2, term: 1 }));
    expect(readMessages(r).map((m) => m.reject)).toEqual([false, false]);
  });

  test('a follower that knows a leader refuses other candidates of its term', () => {
    const r = newTestRaft(2, 10, 1, storageWith([1, 2, 3]));
    r.step(msg({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1 }));
    readMessages(r);
    r.step(msg({ type: MessageType.MsgVote, from: 3, to: 2, term: 1 }));
    expect(readMessages(r).map((m) => m.reject)).toEqual([true]);
  });

  test('a stale MsgAppResp from an older term is ignored by the leader', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]));
    r.loadState({ term: 2, vote: 0, commit: 0 });
    becomeLeader(r);
    readMessages(r);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: 1 }));
    expect(r.trk.progress.get(2)?.match).toBe(0);
    expect(r.state).toBe(StateType.StateLeader);
  });

  test('a leader that learns of a newer term from a response steps down', () => {
    const r = leader([1, 2, 3]);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 5, index: 0 }));
    expect(r.state).toBe(StateType.StateFollower);
    expect(r.term).toBe(5);
    expect(r.lead).toBe(0);
  });

  test('invalid role transitions panic', () => {
    const r = leader([1, 2]);
    expect(() => r.becomeCandidate()).toThrow('invalid transition [leader -> candidate]');
    expect(() => r.becomePreCandidate()).toThrow('invalid transition [leader -> pre-candidate]');
    const f = newTestRaft(1, 10, 1, storageWith([1, 2]));
    expect(() => f.becomeLeader()).toThrow('invalid transition [follower -> leader]');
  });

  test('loadState refuses a commit index outside the log', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1]));
    expect(() => r.loadState({ term: 1, vote: 0, commit: 5 })).toThrow('1 state.commit 5 is out of range [0, 0]');
  });
});

describe("etcd's log lines", () => {
  test('an election prints the lines the scenario files compare', () => {
    const logger = new RecordingLogger();
    const s = storageWith([1, 2, 3]);
    s.append([newEntry({ term: 1, index: 1 }), newEntry({ term: 1, index: 2 })]);
    const r = newTestRaft(1, 10, 1, s, { logger });
    r.step(msg({ type: MessageType.MsgHup, from: 1, to: 1 }));
    readMessages(r);
    r.step(msg({ type: MessageType.MsgVoteResp, from: 2, to: 1, term: 1 }));
    expect(logger.lines).toEqual([
      'INFO 1 switched to configuration voters=(1 2 3)',
      'INFO 1 became follower at term 0',
      'INFO newRaft 1 [peers: [1,2,3], term: 0, commit: 0, applied: 0, lastindex: 2, lastterm: 1]',
      'INFO 1 is starting a new election at term 0',
      'INFO 1 became candidate at term 1',
      'INFO 1 [logterm: 1, index: 2] sent MsgVote request to 2 at term 1',
      'INFO 1 [logterm: 1, index: 2] sent MsgVote request to 3 at term 1',
      'INFO 1 received MsgVoteResp from 1 at term 1',
      'INFO 1 has received 1 MsgVoteResp votes and 0 vote rejections',
      'INFO 1 received MsgVoteResp from 2 at term 1',
      'INFO 1 has received 2 MsgVoteResp votes and 0 vote rejections',
      'INFO 1 became leader at term 1',
    ]);
  });

  test('node IDs print in hexadecimal, as etcd prints them', () => {
    const logger = new RecordingLogger();
    newTestRaft(26, 10, 1, storageWith([26, 255]), { logger });
    expect(logger.lines).toContain('INFO newRaft 1a [peers: [1a,ff], term: 0, commit: 0, applied: 0, lastindex: 0, lastterm: 0]');
  });

  test('vote requests with a newer term print their reason', () => {
    const logger = new RecordingLogger();
    const r = newTestRaft(2, 10, 1, storageWith([1, 2, 3]), { logger });
    r.step(msg({ type: MessageType.MsgVote, from: 1, to: 2, term: 1, logTerm: 0, index: 0 }));
    expect(logger.lines.slice(-3)).toEqual([
      'INFO 2 [term: 0] received a MsgVote message with higher term from 1 [term: 1]',
      'INFO 2 became follower at term 1',
      'INFO 2 [logterm: 0, index: 0, vote: 0] cast MsgVote for 1 [logterm: 0, index: 0] at term 1',
    ]);
  });
});
