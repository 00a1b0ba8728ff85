// Thesis §9.6 (PreVote), §6.2 (CheckQuorum) and §4.2.3 (disruptive servers): how etcd keeps a server that was
// partitioned away, or removed, from forcing a healthy cluster into new terms.

import { RecordingLogger } from '../support/recording_logger';
import { ReadOnlyOption } from '../../raft/read_only';
import { MessageType, StateType } from '../../raft/types';
import { Network, msg, newTestRaft, readMessages, storageWith } from './net';

describe('thesis §9.6 PreVote', () => {
  // "a candidate would first ask other servers whether its log was up-to-date enough to get their vote. Only if
  // the candidate believed it could get votes from a majority of the cluster would it increment its term".
  test('an isolated node pre-campaigns without raising its term', () => {
    const nt = Network.ofSize(3, { preVote: true });
    nt.campaign(1);
    nt.isolate(3);
    const r3 = nt.raft(3);
    const term = r3.term;
    nt.campaign(3);
    expect(r3.state).toBe(StateType.StatePreCandidate);
    expect(r3.term).toBe(term);
    expect(r3.vote).toBe(1);
  });

  test('a node rejoining after a partition does not disrupt the leader', () => {
    const nt = Network.ofSize(3, { preVote: true });
    nt.campaign(1);
    nt.isolate(3);
    nt.propose(1);
    nt.campaign(3);
    nt.campaign(3);
    nt.recover();
    // Its pre-votes are refused, since its log is behind; without PreVote its vote requests would have raised
    // everyone's term and deposed the leader.
    nt.campaign(3);
    expect(nt.raft(1).state).toBe(StateType.StateLeader);
    expect(nt.raft(1).term).toBe(1);
    expect(nt.raft(3).term).toBe(1);
  });

  test('winning the pre-election leads to a real election one term up', () => {
    const nt = Network.ofSize(3, { preVote: true });
    nt.campaign(1);
    expect(nt.raft(1).state).toBe(StateType.StateLeader);
    expect(nt.raft(1).term).toBe(1);
    const preVotes = nt.delivered.filter((m) => m.type === MessageType.MsgPreVote);
    // Pre-votes ask about the next term without anyone moving to it.
    expect(preVotes.map((m) => m.term)).toEqual([1, 1]);
    expect(nt.delivered.filter((m) => m.type === MessageType.MsgVote).map((m) => m.term)).toEqual([1, 1]);
  });

  test('a granted pre-vote carries the requested term and records no vote', () => {
    const r = newTestRaft(2, 10, 1, storageWith([1, 2, 3]), { preVote: true });
    r.step(msg({ type: MessageType.MsgPreVote, from: 1, to: 2, term: 3, logTerm: 0, index: 0 }));
    expect(readMessages(r).map((m) => [m.type, m.term, m.reject])).toEqual([[MessageType.MsgPreVoteResp, 3, false]]);
    expect(r.term).toBe(0);
    expect(r.vote).toBe(0);
  });

  test('a pre-vote from an older term is answered with a rejection at the current term', () => {
    const r = newTestRaft(2, 10, 1, storageWith([1, 2, 3]), { preVote: true });
    r.becomeFollower(5, 0);
    r.step(msg({ type: MessageType.MsgPreVote, from: 1, to: 2, term: 3, logTerm: 0, index: 0 }));
    expect(readMessages(r).map((m) => [m.type, m.term, m.reject])).toEqual([[MessageType.MsgPreVoteResp, 5, true]]);
  });

  test('a pre-candidate that loses returns to follower in its own term', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]), { preVote: true });
    r.loadState({ term: 2, vote: 0, commit: 0 });
    r.step(msg({ type: MessageType.MsgHup, from: 1, to: 1 }));
    readMessages(r);
    // Rejections carry the rejecter's term, here the same as ours.
    r.step(msg({ type: MessageType.MsgPreVoteResp, from: 2, to: 1, term: 2, reject: true }));
    r.step(msg({ type: MessageType.MsgPreVoteResp, from: 3, to: 1, term: 2, reject: true }));
    expect(r.state).toBe(StateType.StateFollower);
    expect(r.term).toBe(2);
  });
});

describe('thesis §6.2 CheckQuorum and §4.2.3 disruptive servers', () => {
  test('a leader that does not hear from a quorum for an election timeout steps down', () => {
    const logger = new RecordingLogger();
    const nt = new Network([newTestRaft(1, 10, 1, storageWith([1, 2, 3]), { checkQuorum: true, logger }), null, null]);
    nt.campaign(1);
    nt.isolate(1);
    const r = nt.raft(1);
    for (let i = 0; i < 2 * r.electionTimeout; i++) {
      r.tick();
      readMessages(r);
    }
    expect(r.state).toBe(StateType.StateFollower);
    expect(logger.lines).toContain('WARN 1 stepped down to follower since quorum is not active');
  });

  test('a leader that hears from a quorum keeps leading', () => {
    const nt = Network.ofSize(3, { checkQuorum: true });
    nt.campaign(1);
    const r = nt.raft(1);
    for (let i = 0; i < 3 * r.electionTimeout; i++) {
      r.tick();
      nt.send(...readMessages(r));
    }
    expect(r.state).toBe(StateType.StateLeader);
  });

  // Thesis §4.2.3: "if a server receives a RequestVote request within the minimum election timeout of hearing
  // from a current leader, it does not update its term or grant its vote."
  test('a follower that heard from its leader recently ignores a vote request from a higher term', () => {
    const logger = new RecordingLogger();
    const r = newTestRaft(2, 10, 1, storageWith([1, 2, 3]), { checkQuorum: true, logger });
    r.step(msg({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1 }));
    readMessages(r);
    r.step(msg({ type: MessageType.MsgVote, from: 3, to: 2, term: 2, logTerm: 5, index: 5 }));
    expect(r.term).toBe(1);
    expect(readMessages(r)).toEqual([]);
    expect(logger.lines).toContain(
      'INFO 2 [logterm: 0, index: 0, vote: 0] ignored MsgVote from 3 [logterm: 5, index: 5] at term 1: lease is not expired (remaining ticks: 10)',
    );
    // A vote request for a leadership transfer is honoured: the leader asked for it.
    r.step(
      msg({
        type: MessageType.MsgVote,
        from: 3,
        to: 2,
        term: 2,
        logTerm: 5,
        index: 5,
        context: new TextEncoder().encode('CampaignTransfer'),
      }),
    );
    expect(r.term).toBe(2);
    expect(r.vote).toBe(3);
  });

  test('a node in a higher term answers a stale leader so that it steps down', () => {
    const r = newTestRaft(2, 10, 1, storageWith([1, 2, 3]), { checkQuorum: true });
    r.becomeFollower(3, 0);
    r.step(msg({ type: MessageType.MsgApp, from: 1, to: 2, term: 1 }));
    expect(readMessages(r).map((m) => [m.type, m.to, m.term])).toEqual([[MessageType.MsgAppResp, 1, 3]]);
  });
});

describe('ForgetLeader', () => {
  test('a follower that forgets its leader grants pre-votes at once, without waiting out the lease', () => {
    const nt = Network.ofSize(3, { preVote: true, checkQuorum: true });
    nt.campaign(1);
    nt.isolate(1);
    nt.send(msg({ type: MessageType.MsgForgetLeader, from: 2, to: 2 }));
    expect(nt.raft(2).lead).toBe(0);
    nt.campaign(3);
    expect(nt.raft(3).state).toBe(StateType.StateLeader);
    expect(nt.raft(3).term).toBe(2);
  });

  test('forgetting is refused with lease-based reads, which rely on the lease', () => {
    const nt = Network.ofSize(3, { checkQuorum: true, readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased });
    nt.campaign(1);
    nt.send(msg({ type: MessageType.MsgForgetLeader, from: 2, to: 2 }));
    expect(nt.raft(2).lead).toBe(1);
  });
});
