// The Raft paper, §7 (log compaction) and Figure 13 (InstallSnapshot): restoring from a snapshot, and a leader
// catching up a follower whose next entry it has compacted away.

import { RecordingLogger } from '../support/recording_logger';
import { Snapshot, MessageType, StateType, emptyConfState, newEntry } from '../../raft/types';
import { StateType as ProgressState } from '../../raft/tracker/state';
import {
  Network,
  becomeLeader,
  msg,
  newTestRaft,
  nextEnts,
  readMessages,
  storageWith,
} from './net';

function snap(index: number, term: number, voters: number[], learners: number[] = []): Snapshot {
  return {
    data: new Uint8Array(0),
    metadata: { index, term, confState: { ...emptyConfState(), voters, learners } },
  };
}

describe('§7 log compaction and InstallSnapshot', () => {
  // Figure 13, receiver steps 6-8: "If existing log entry has same index and term as snapshot's last included
  // entry, retain log entries following it ... Discard the entire log ... Reset state machine using snapshot
  // contents (and load snapshot's cluster configuration)."
  test('a follower restores its log, commit index and configuration from a snapshot', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2]));
    expect(r.restore(snap(11, 11, [1, 2, 3]))).toBe(true);
    expect(r.raftLog.lastIndex()).toBe(11);
    expect(r.raftLog.term(11)).toBe(11);
    expect(r.raftLog.committed).toBe(11);
    expect(r.trk.voterNodes()).toEqual([1, 2, 3]);
    // Restoring the same snapshot again does nothing: it is not newer than the commit index.
    expect(r.restore(snap(11, 11, [1, 2, 3]))).toBe(false);
  });

  test('a snapshot restores learners as learners, including this node', () => {
    const r = newTestRaft(3, 10, 1, storageWith([1, 2, 3]));
    expect(r.restore(snap(11, 11, [1, 2], [3]))).toBe(true);
    expect(r.isLearner).toBe(true);
    expect(r.trk.learnerNodes()).toEqual([3]);
  });

  test('a snapshot that does not include this node is refused', () => {
    const logger = new RecordingLogger();
    const r = newTestRaft(4, 10, 1, storageWith([1, 2, 3, 4]), { logger });
    expect(r.restore(snap(11, 11, [1, 2, 3]))).toBe(false);
    expect(r.raftLog.lastIndex()).toBe(0);
  });

  test('a snapshot whose last entry is in the log only fast-forwards the commit index (Figure 13 step 6)', () => {
    const s = storageWith([1, 2]);
    s.append([1, 1, 1].map((term, i) => newEntry({ term, index: i + 1 })));
    const r = newTestRaft(1, 10, 1, s);
    r.becomeFollower(1, 2);
    expect(r.restore(snap(2, 1, [1, 2]))).toBe(false);
    expect(r.raftLog.committed).toBe(2);
    expect(r.raftLog.lastIndex()).toBe(3);
  });

  test('MsgSnap from the leader restores the follower, which answers with its new last index', () => {
    const r = newTestRaft(2, 10, 1, storageWith([1, 2]));
    r.step(msg({ type: MessageType.MsgSnap, from: 1, to: 2, term: 2, snapshot: snap(11, 2, [1, 2]) }));
    expect(r.lead).toBe(1);
    expect(r.raftLog.committed).toBe(11);
    expect(readMessages(r).map((m) => [m.type, m.index, m.reject])).toEqual([[MessageType.MsgAppResp, 11, false]]);
    // A node does not campaign while its snapshot is waiting to be applied.
    expect(r.promotable()).toBe(false);
  });

  // §7: "the leader must occasionally send snapshots to followers that lag behind ... when the leader has already
  // discarded the next log entry that it needs to send to a follower."
  test('a leader sends a snapshot to a follower whose next entry was compacted, then resumes replication', () => {
    const nt = Network.ofSize(3);
    nt.campaign(1);
    nt.isolate(3);
    for (let i = 0; i < 5; i++) {
      nt.propose(1, `entry ${i}`);
    }
    const lead = nt.raft(1);
    const ls = nt.storage.get(1);
    if (ls === undefined) {
      throw new Error('no storage for the leader');
    }
    nextEnts(lead, ls);
    const committed = lead.raftLog.committed;
    ls.createSnapshot(committed, { ...emptyConfState(), voters: [1, 2, 3] }, new Uint8Array(0));
    ls.compact(committed);
    nt.recover();
    // The heartbeat response reveals node 3 is behind; its next entry is compacted, so a snapshot goes out.
    nt.send(msg({ type: MessageType.MsgBeat, from: 1, to: 1 }));
    const snaps = nt.delivered.filter((m) => m.type === MessageType.MsgSnap);
    expect(snaps.map((m) => [m.to, m.snapshot?.metadata.index])).toEqual([[3, committed]]);
    expect(nt.raft(3).raftLog.committed).toBeGreaterThanOrEqual(committed);
    expect(lead.trk.progress.get(3)?.state).toBe(ProgressState.StateReplicate);
    nt.propose(1, 'after the snapshot');
    expect(nt.raft(3).raftLog.lastIndex()).toBe(lead.raftLog.lastIndex());
  });

  test('a failed snapshot sends the follower back to probing, after a pause', () => {
    const s = storageWith([1, 2]);
    const r = newTestRaft(1, 10, 1, s);
    becomeLeader(r);
    const pr = r.trk.progress.get(2);
    if (pr === undefined) {
      throw new Error('no progress for 2');
    }
    pr.becomeSnapshot(11);
    r.step(msg({ type: MessageType.MsgSnapStatus, from: 2, to: 1, reject: true }));
    expect(pr.state).toBe(ProgressState.StateProbe);
    expect(pr.pendingSnapshot).toBe(0);
    expect(pr.next).toBe(1);
    expect(pr.msgAppFlowPaused).toBe(true);
  });

  test('a successful snapshot report probes from after the snapshot', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2]));
    becomeLeader(r);
    const pr = r.trk.progress.get(2);
    if (pr === undefined) {
      throw new Error('no progress for 2');
    }
    pr.becomeSnapshot(11);
    r.step(msg({ type: MessageType.MsgSnapStatus, from: 2, to: 1, reject: false }));
    expect(pr.state).toBe(ProgressState.StateProbe);
    expect(pr.next).toBe(12);
    expect(pr.msgAppFlowPaused).toBe(true);
  });

  test('a snapshot arriving at a candidate of the same term makes it a follower first', () => {
    const r = newTestRaft(2, 10, 1, storageWith([1, 2, 3]));
    r.becomeCandidate();
    r.step(msg({ type: MessageType.MsgSnap, from: 1, to: 2, term: 1, snapshot: snap(5, 1, [1, 2, 3]) }));
    expect(r.state).toBe(StateType.StateFollower);
    expect(r.raftLog.committed).toBe(5);
  });
});
