// Thesis §3.10, leadership transfer: "the prior leader sends its log entries to the target server ... then the
// target server starts an election without waiting for its election timeout to elapse" (MsgTimeoutNow).

import { RecordingLogger } from '../support/recording_logger';
import { MessageType, StateType } from '../../raft/types';
import { Network, msg, newTestRaft, propMsg, readMessages, storageWith } from './net';

function transfer(nt: Network, leader: number, to: number): void {
  nt.send(msg({ type: MessageType.MsgTransferLeader, from: to, to: leader }));
}

describe('thesis §3.10 leadership transfer', () => {
  test('leadership moves to an up-to-date follower at once, in a new term', () => {
    const nt = Network.ofSize(3);
    nt.campaign(1);
    nt.delivered = [];
    transfer(nt, 1, 2);
    expect(nt.raft(2).state).toBe(StateType.StateLeader);
    expect(nt.raft(1).state).toBe(StateType.StateFollower);
    expect(nt.raft(1).lead).toBe(2);
    expect(nt.raft(2).term).toBe(2);
    // The vote request is marked as a transfer, so it is not refused under a leader lease.
    const votes = nt.delivered.filter((m) => m.type === MessageType.MsgVote);
    expect(votes.map((m) => new TextDecoder().decode(m.context))).toEqual(['CampaignTransfer', 'CampaignTransfer']);
  });

  test('a lagging transferee is caught up first, then told to campaign', () => {
    const nt = Network.ofSize(3);
    nt.campaign(1);
    nt.isolate(3);
    nt.propose(1);
    nt.recover();
    transfer(nt, 1, 3);
    expect(nt.raft(3).state).toBe(StateType.StateLeader);
    expect(nt.raft(3).raftLog.lastIndex()).toBeGreaterThanOrEqual(2);
    const timeoutNow = nt.delivered.filter((m) => m.type === MessageType.MsgTimeoutNow);
    expect(timeoutNow.map((m) => [m.from, m.to])).toEqual([[1, 3]]);
  });

  test('the leader drops proposals while a transfer is in progress', () => {
    const nt = Network.ofSize(3);
    nt.campaign(1);
    nt.isolate(3);
    transfer(nt, 1, 3);
    expect(nt.raft(1).leadTransferee).toBe(3);
    expect(() => nt.raft(1).step(propMsg(1))).toThrow('raft proposal dropped');
  });

  test('a transfer that does not complete within an election timeout is abandoned', () => {
    const nt = Network.ofSize(3);
    nt.campaign(1);
    nt.isolate(3);
    transfer(nt, 1, 3);
    const lead = nt.raft(1);
    for (let i = 0; i < lead.electionTimeout; i++) {
      lead.tick();
    }
    readMessages(lead);
    expect(lead.leadTransferee).toBe(0);
    expect(lead.state).toBe(StateType.StateLeader);
    lead.step(propMsg(1));
  });

  test('a new request to another node replaces the transfer in progress; a repeat is ignored', () => {
    const logger = new RecordingLogger();
    const nt = new Network([newTestRaft(1, 10, 1, storageWith([1, 2, 3]), { logger }), null, null]);
    nt.campaign(1);
    nt.isolate(3);
    nt.isolate(2);
    transfer(nt, 1, 3);
    transfer(nt, 1, 3);
    expect(logger.lines).toContain('INFO 1 [term 1] transfer leadership to 3 is in progress, ignores request to same node 3');
    transfer(nt, 1, 2);
    expect(logger.lines).toContain('INFO 1 [term 1] abort previous transferring leadership to 3');
    expect(nt.raft(1).leadTransferee).toBe(2);
  });

  test('transfers to itself or to a learner are ignored', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2], [3]));
    r.becomeCandidate();
    r.becomeLeader();
    r.step(msg({ type: MessageType.MsgTransferLeader, from: 1, to: 1 }));
    expect(r.leadTransferee).toBe(0);
    r.step(msg({ type: MessageType.MsgTransferLeader, from: 3, to: 1 }));
    expect(r.leadTransferee).toBe(0);
  });

  test('a follower forwards a transfer request to its leader', () => {
    const nt = Network.ofSize(3);
    nt.campaign(1);
    nt.send(msg({ type: MessageType.MsgTransferLeader, from: 3, to: 2 }));
    expect(nt.raft(3).state).toBe(StateType.StateLeader);
  });

  test('removing the transferee from the configuration aborts the transfer', () => {
    const nt = Network.ofSize(3);
    nt.campaign(1);
    nt.isolate(3);
    transfer(nt, 1, 3);
    nt.raft(1).applyConfChange({
      transition: 0,
      changes: [{ type: 1, nodeId: 3 }],
      context: new Uint8Array(0),
    });
    expect(nt.raft(1).leadTransferee).toBe(0);
  });
});
