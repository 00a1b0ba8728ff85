// The Raft paper, §6 (cluster membership changes) and thesis chapter 4: one change at a time, joint consensus,
// learners, and what a leader does when the configuration changes under it.

import { RecordingLogger } from '../support/recording_logger';
import { decodeConfChangeV2 } from '../../raft/codec';
import { Raft } from '../../raft/raft';
import { confChangeToMsg } from '../../raft/confchange/convert';
import {
  ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  ConfChangeV2,
  EntryType,
  MessageType,
  StateType,
} from '../../raft/types';
import { Network, becomeLeader, msg, newTestRaft, nextEnts, propMsg, readMessages, storageWith } from './net';

const add = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.ConfChangeAddNode, nodeId });
const remove = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.ConfChangeRemoveNode, nodeId });
const addLearner = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId });

function v2(transition: ConfChangeTransition, ...changes: ConfChangeSingle[]): ConfChangeV2 {
  return { transition, changes, context: new Uint8Array(0) };
}

const auto = ConfChangeTransition.ConfChangeTransitionAuto;
const explicit = ConfChangeTransition.ConfChangeTransitionJointExplicit;

function leaderOf(voters: number[], learners: number[] = []): Raft {
  const r = newTestRaft(1, 10, 1, storageWith(voters, learners));
  becomeLeader(r);
  readMessages(r);
  return r;
}

describe('§6 cluster membership changes', () => {
  test('a node added to the configuration is tracked and probed by the leader at once', () => {
    const r = leaderOf([1, 2]);
    r.applyConfChange(v2(auto, add(3)));
    expect(r.trk.voterNodes()).toEqual([1, 2, 3]);
    const msgs = readMessages(r);
    expect(msgs.filter((m) => m.to === 3).map((m) => m.type)).toEqual([MessageType.MsgApp]);
  });

  test('removing a node shrinks the quorum, which can commit pending entries at once', () => {
    const r = leaderOf([1, 2]);
    r.step(propMsg(1));
    readMessages(r);
    // Node 2 acknowledged nothing, so the leader alone is not a majority of {1, 2}.
    expect(r.raftLog.committed).toBe(0);
    r.applyConfChange(v2(auto, remove(2)));
    expect(r.trk.voterNodes()).toEqual([1]);
    expect(r.raftLog.committed).toBe(2);
  });

  test('a removed leader keeps leading unless stepDownOnRemoval is set', () => {
    const stays = leaderOf([1, 2]);
    stays.applyConfChange(v2(auto, remove(1)));
    expect(stays.state).toBe(StateType.StateLeader);
    // It no longer accepts proposals: it is not a member.
    expect(() => stays.step(propMsg(1))).toThrow('raft proposal dropped');

    const r = newTestRaft(1, 10, 1, storageWith([1, 2]), { stepDownOnRemoval: true });
    becomeLeader(r);
    r.applyConfChange(v2(auto, remove(1)));
    expect(r.state).toBe(StateType.StateFollower);
  });

  // etcd allows one unapplied configuration change at a time (the thesis §4.1 single-server approach).
  test('a second configuration change proposed before the first applies becomes an empty entry', () => {
    const logger = new RecordingLogger();
    const s = storageWith([1, 2, 3]);
    const r = newTestRaft(1, 10, 1, s, { logger });
    becomeLeader(r);
    r.step(confChangeToMsg(v2(auto, add(4))));
    r.step(confChangeToMsg(v2(auto, add(5))));
    const types = r.raftLog.allEntries().map((e) => e.type);
    expect(types).toEqual([EntryType.EntryNormal, EntryType.EntryConfChangeV2, EntryType.EntryNormal]);
    expect(logger.lines).toContain(
      'INFO 1 ignoring conf change transition:ConfChangeTransitionAuto changes:{type:ConfChangeAddNode node_id:5} ' +
        'at config voters=(1 2 3): possible unapplied conf change at index 2 (applied to 0)',
    );
  });

  test('with validation disabled, a second change is appended as proposed', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]), { disableConfChangeValidation: true });
    becomeLeader(r);
    r.step(confChangeToMsg(v2(auto, add(4))));
    r.step(confChangeToMsg(v2(auto, add(5))));
    expect(r.raftLog.allEntries().map((e) => e.type)).toEqual([
      EntryType.EntryNormal,
      EntryType.EntryConfChangeV2,
      EntryType.EntryConfChangeV2,
    ]);
  });

  // §6: "in the joint consensus, agreement (for elections and entry commitment) requires separate majorities from
  // both the old and new configurations."
  test('joint consensus: commitment needs a majority of both the old and the new voters', () => {
    const r = leaderOf([1, 2, 3]);
    r.applyConfChange(v2(explicit, add(4), add(5), remove(3)));
    expect(r.trk.config.toString()).toBe('voters=(1 2 4 5)&&(1 2 3)');
    r.step(propMsg(1));
    readMessages(r);
    const ack = (from: number): void =>
      r.step(msg({ type: MessageType.MsgAppResp, from, to: 1, term: r.term, index: 2 }));
    ack(2);
    ack(3);
    // {1, 2, 3} is a majority of the old voters, but {1, 2} is not one of {1, 2, 4, 5}.
    expect(r.raftLog.committed).toBe(0);
    ack(4);
    expect(r.raftLog.committed).toBe(2);
  });

  test('joint consensus: an election needs a majority of both configurations', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]));
    r.applyConfChange(v2(explicit, add(4), add(5), remove(3)));
    r.step(msg({ type: MessageType.MsgHup, from: 1, to: 1 }));
    readMessages(r);
    const vote = (from: number): void =>
      r.step(msg({ type: MessageType.MsgVoteResp, from, to: 1, term: r.term }));
    vote(2);
    expect(r.state).toBe(StateType.StateCandidate);
    vote(4);
    expect(r.state).toBe(StateType.StateLeader);
  });

  test('an explicit joint configuration is left by an empty change, and refused one otherwise', () => {
    const logger = new RecordingLogger();
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]), { logger });
    becomeLeader(r);
    r.step(confChangeToMsg(null));
    expect(logger.lines).toContain(
      'INFO 1 ignoring conf change transition:ConfChangeTransitionAuto at config voters=(1 2 3): not in joint state; refusing empty conf change',
    );
    r.applyConfChange(v2(explicit, add(4)));
    expect(r.trk.config.voters.outgoing.size).toBe(3);
    r.applyConfChange(v2(auto));
    expect(r.trk.config.toString()).toBe('voters=(1 2 3 4)');
  });

  test('an automatic joint configuration is left by the leader as soon as the change that entered it applies', () => {
    const logger = new RecordingLogger();
    const s = storageWith([1]);
    const r = newTestRaft(1, 10, 1, s, { logger });
    becomeLeader(r);
    nextEnts(r, s);
    r.step(confChangeToMsg(v2(ConfChangeTransition.ConfChangeTransitionJointImplicit, add(2))));
    const ents = nextEnts(r, s);
    expect(ents.map((e) => e.type)).toEqual([EntryType.EntryConfChangeV2]);
    r.applyConfChange(decodeConfChangeV2(ents[0].data));
    expect(r.trk.config.toString()).toBe('voters=(1 2)&&(1) autoleave');
    r.appliedTo(ents[0].index, 0);
    expect(logger.lines).toContain('INFO initiating automatic transition out of joint configuration voters=(1 2)&&(1) autoleave');
    const last = r.raftLog.allEntries()[r.raftLog.lastIndex() - 1];
    expect(last.type).toBe(EntryType.EntryConfChangeV2);
    expect(decodeConfChangeV2(last.data).changes).toEqual([]);
  });

  test('a node does not campaign while a committed configuration change is unapplied', () => {
    const logger = new RecordingLogger();
    const s = storageWith([1, 2]);
    const r = newTestRaft(1, 10, 1, s, { logger });
    r.becomeFollower(1, 2);
    const cc = confChangeToMsg(v2(auto, add(3))).entries[0];
    cc.term = 1;
    cc.index = 1;
    r.step(msg({ type: MessageType.MsgApp, from: 2, to: 1, term: 1, entries: [cc], commit: 1 }));
    r.step(msg({ type: MessageType.MsgHup, from: 1, to: 1 }));
    expect(r.state).toBe(StateType.StateFollower);
    expect(logger.lines).toContain(
      'WARN 1 cannot campaign at term 1 since there are still pending configuration changes to apply',
    );
    nextEnts(r, s);
    r.step(msg({ type: MessageType.MsgHup, from: 1, to: 1 }));
    expect(r.state).toBe(StateType.StateCandidate);
  });
});

describe('learners (thesis §4.2.1: catching up new servers)', () => {
  test('a learner receives the log but does not count toward commitment', () => {
    const r = leaderOf([1, 2], [3]);
    r.step(propMsg(1));
    const msgs = readMessages(r);
    expect(msgs.map((m) => m.to)).toEqual([2, 3]);
    r.step(msg({ type: MessageType.MsgAppResp, from: 3, to: 1, term: r.term, index: 2 }));
    expect(r.raftLog.committed).toBe(0);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index: 2 }));
    expect(r.raftLog.committed).toBe(2);
  });

  test('a learner never campaigns, even after its election timeout', () => {
    const logger = new RecordingLogger();
    const r = newTestRaft(3, 10, 1, storageWith([1, 2], [3]), { logger });
    expect(r.isLearner).toBe(true);
    for (let i = 0; i < 40; i++) {
      r.tick();
    }
    expect(r.state).toBe(StateType.StateFollower);
    r.step(msg({ type: MessageType.MsgHup, from: 3, to: 3 }));
    expect(r.state).toBe(StateType.StateFollower);
    expect(logger.lines).toContain('WARN 3 is unpromotable and can not campaign');
  });

  test('a learner promoted to voter may campaign', () => {
    const r = newTestRaft(2, 10, 1, storageWith([1], [2]));
    r.applyConfChange(v2(auto, add(2)));
    expect(r.isLearner).toBe(false);
    r.step(msg({ type: MessageType.MsgHup, from: 2, to: 2 }));
    expect(r.state).toBe(StateType.StateCandidate);
  });

  test('a learner still votes when asked: it may have been promoted without knowing yet', () => {
    const r = newTestRaft(3, 10, 1, storageWith([1, 2], [3]));
    r.step(msg({ type: MessageType.MsgVote, from: 2, to: 3, term: 2, logTerm: 0, index: 0 }));
    expect(readMessages(r).map((m) => [m.type, m.reject])).toEqual([[MessageType.MsgVoteResp, false]]);
  });

  test('a cluster adds a learner, catches it up, and promotes it', () => {
    const nt = Network.ofSize(2);
    nt.campaign(1);
    nt.propose(1, 'before');
    const n3 = newTestRaft(3, 10, 1, storageWith([1, 2], [3]));
    nt.peers.set(3, n3);
    for (const r of [nt.raft(1), nt.raft(2)]) {
      r.applyConfChange(v2(auto, addLearner(3)));
    }
    nt.propose(1, 'after');
    expect(n3.raftLog.allEntries().map((e) => new TextDecoder().decode(e.data))).toEqual(
      nt.raft(1).raftLog.allEntries().map((e) => new TextDecoder().decode(e.data)),
    );
    for (const r of [nt.raft(1), nt.raft(2), n3]) {
      r.applyConfChange(v2(auto, add(3)));
    }
    expect(nt.raft(1).trk.voterNodes()).toEqual([1, 2, 3]);
    expect(n3.isLearner).toBe(false);
  });
});
