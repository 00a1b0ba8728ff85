// RawNode: the Ready/advance contract, MustSync, bootstrapping, configuration changes through the log, errors,
// status, and the asynchronous storage-writes mode.

import { decodeConfChange, decodeConfChangeV2 } from '../../raft/codec';
import { RaftError } from '../../raft/errors';
import { RaftPanic } from '../../raft/logger';
import { LocalAppendThread, LocalApplyThread } from '../../raft/config';
import { ProgressType, RawNode, Ready, SnapshotStatus, mustSync } from '../../raft/rawnode';
import { statusToJSON } from '../../raft/status';
import { MemoryStorage } from '../../raft/storage';
import {
  ConfChangeTransition,
  ConfChangeType,
  ConfState,
  EntryType,
  Message,
  MessageType,
  StateType,
  emptyConfState,
  isEmptyHardState,
  isEmptySnapshot,
  newMessage,
} from '../../raft/types';

const enc = new TextEncoder();
const dec = new TextDecoder();

function newNode(storage: MemoryStorage, extra: Partial<ConstructorParameters<typeof RawNode>[0]> = {}): RawNode {
  return new RawNode({
    id: 1,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    maxInflightMsgs: 256,
    maxSizePerMsg: Infinity,
    ...extra,
  });
}

/** A storage holding a snapshot at index 1 whose configuration is `voters`. */
function storageWithSnapshot(voters: number[]): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({ data: new Uint8Array(0), metadata: { index: 1, term: 1, confState: { ...emptyConfState(), voters } } });
  return s;
}

/** Handles a Ready the way an application must: persist, then apply (conf changes too), then advance. */
function handle(rn: RawNode, s: MemoryStorage, rd: Ready): ConfState[] {
  if (!isEmptyHardState(rd.hardState)) {
    s.setHardState(rd.hardState);
  }
  if (!isEmptySnapshot(rd.snapshot)) {
    s.applySnapshot(rd.snapshot);
  }
  s.append(rd.entries);
  const confStates: ConfState[] = [];
  for (const e of rd.committedEntries) {
    if (e.type === EntryType.EntryConfChange) {
      confStates.push(rn.applyConfChange(decodeConfChange(e.data)));
    } else if (e.type === EntryType.EntryConfChangeV2) {
      confStates.push(rn.applyConfChange(decodeConfChangeV2(e.data)));
    }
  }
  rn.advance();
  return confStates;
}

function stabilize(rn: RawNode, s: MemoryStorage): Ready[] {
  const out: Ready[] = [];
  while (rn.hasReady()) {
    const rd = rn.ready();
    out.push(rd);
    handle(rn, s, rd);
  }
  return out;
}

describe('RawNode', () => {
  test('a single voter campaigns, becomes leader, and commits a proposal through Ready and advance', () => {
    const s = storageWithSnapshot([1]);
    const rn = newNode(s);
    rn.campaign();
    // Its own vote counts only once persisted: the first Ready persists it, advance() delivers it.
    const rd1 = rn.ready();
    expect(rd1.softState).toEqual({ lead: 0, raftState: StateType.StateCandidate });
    expect(rd1.hardState).toEqual({ term: 1, vote: 1, commit: 1 });
    expect(rd1.mustSync).toBe(true);
    handle(rn, s, rd1);
    const rd2 = rn.ready();
    expect(rd2.softState).toEqual({ lead: 1, raftState: StateType.StateLeader });
    expect(rd2.entries.map((e) => [e.term, e.index])).toEqual([[1, 2]]);
    // Likewise its own entry counts toward commitment only once persisted.
    expect(rd2.committedEntries).toEqual([]);
    handle(rn, s, rd2);
    const rd3 = rn.ready();
    expect(rd3.committedEntries.map((e) => e.index)).toEqual([2]);
    expect(rd3.mustSync).toBe(false);
    handle(rn, s, rd3);
    expect(rn.hasReady()).toBe(false);

    rn.propose(enc.encode('foo'));
    const readies = stabilize(rn, s);
    const committed = readies.flatMap((rd) => rd.committedEntries).map((e) => dec.decode(e.data));
    expect(committed).toEqual(['foo']);
    expect(rn.basicStatus()).toMatchObject({ id: 1, term: 1, commit: 3, applied: 3, lead: 1 });
  });

  test('MustSync: term, vote and new entries must be synced; a commit index alone need not', () => {
    const hs = { term: 1, vote: 1, commit: 1 };
    expect(mustSync(hs, hs, 0)).toBe(false);
    expect(mustSync({ ...hs, commit: 2 }, hs, 0)).toBe(false);
    expect(mustSync({ ...hs, term: 2 }, hs, 0)).toBe(true);
    expect(mustSync({ ...hs, vote: 2 }, hs, 0)).toBe(true);
    expect(mustSync(hs, hs, 1)).toBe(true);
  });

  test('bootstrap writes the initial configuration as committed conf changes the application applies', () => {
    const s = new MemoryStorage();
    const rn = newNode(s);
    rn.bootstrap([{ id: 1 }, { id: 2, context: enc.encode('two') }]);
    const rd = rn.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 0, commit: 2 });
    expect(rd.entries.map((e) => [e.term, e.index, e.type])).toEqual([
      [1, 1, EntryType.EntryConfChange],
      [1, 2, EntryType.EntryConfChange],
    ]);
    expect(decodeConfChange(rd.entries[1].data)).toMatchObject({
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: 2,
      context: enc.encode('two'),
    });
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    const css = handle(rn, s, rd);
    expect(css[css.length - 1].voters).toEqual([1, 2]);
    expect(() => newNode(s).bootstrap([{ id: 1 }])).toThrow("can't bootstrap a nonempty Storage");
    expect(() => newNode(new MemoryStorage()).bootstrap([])).toThrow('must provide at least one peer to Bootstrap');
  });

  test('a proposed configuration change commits, and applying it returns the new ConfState', () => {
    const s = storageWithSnapshot([1]);
    const rn = newNode(s);
    rn.campaign();
    stabilize(rn, s);
    rn.proposeConfChange({
      transition: ConfChangeTransition.ConfChangeTransitionAuto,
      changes: [{ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2 }],
      context: new Uint8Array(0),
    });
    const css: ConfState[] = [];
    while (rn.hasReady()) {
      css.push(...handle(rn, s, rn.ready()));
    }
    expect(css).toEqual([{ ...emptyConfState(), voters: [1], learners: [2] }]);
    expect(rn.status().config.toString()).toBe('voters=(1) learners=(2)');
  });

  test('a proposal without a leader is dropped with an error', () => {
    const rn = newNode(storageWithSnapshot([1, 2]));
    expect(() => rn.propose(enc.encode('x'))).toThrow(RaftError);
    try {
      rn.propose(enc.encode('x'));
    } catch (e) {
      expect((e as RaftError).code).toBe('ProposalDropped');
      expect((e as RaftError).message).toBe('raft proposal dropped');
    }
  });

  test('step refuses local message types from peers and responses from unknown nodes', () => {
    const rn = newNode(storageWithSnapshot([1, 2]));
    expect(() => rn.step(newMessage({ type: MessageType.MsgHup, from: 2, to: 1 }))).toThrow(
      'raft: cannot step raft local message',
    );
    expect(() => rn.step(newMessage({ type: MessageType.MsgAppResp, from: 9, to: 1, term: 1 }))).toThrow(
      'raft: cannot step as peer not found',
    );
    rn.step(newMessage({ type: MessageType.MsgHeartbeat, from: 2, to: 1, term: 1 }));
    expect(rn.basicStatus().lead).toBe(2);
  });

  test('handing out two Readys without advance is a bug', () => {
    const s = storageWithSnapshot([1]);
    const rn = newNode(s);
    rn.campaign();
    stabilize(rn, s);
    rn.propose(enc.encode('x'));
    rn.ready();
    rn.propose(enc.encode('y'));
    expect(() => rn.ready()).toThrow(RaftPanic);
  });

  test('messages that depend on durable state go out with the Ready that persists it', () => {
    const s = storageWithSnapshot([1, 2, 3]);
    const rn = new RawNode({ id: 2, electionTick: 10, heartbeatTick: 1, storage: s, maxInflightMsgs: 256 });
    rn.step(newMessage({ type: MessageType.MsgVote, from: 1, to: 2, term: 2, logTerm: 1, index: 1 }));
    const rd = rn.ready();
    expect(rd.hardState).toEqual({ term: 2, vote: 1, commit: 1 });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages.map((m) => [m.type, m.to, m.term])).toEqual([[MessageType.MsgVoteResp, 1, 2]]);
  });

  test('a local read on a single voter comes back as a ReadState', () => {
    const s = storageWithSnapshot([1]);
    const rn = newNode(s);
    rn.campaign();
    stabilize(rn, s);
    rn.readIndex(enc.encode('req-1'));
    expect(rn.hasReady()).toBe(true);
    const rd = rn.ready();
    expect(rd.readStates.map((rs) => [rs.index, dec.decode(rs.requestCtx)])).toEqual([[2, 'req-1']]);
    rn.advance();
    expect(rn.hasReady()).toBe(false);
  });

  test('status reports progress only on the leader, and withProgress visits peers in ID order', () => {
    const s = storageWithSnapshot([1, 2, 3]);
    const rn = newNode(s);
    expect(rn.status().progress.size).toBe(0);
    rn.campaign();
    for (const id of [2, 3]) {
      rn.step(newMessage({ type: MessageType.MsgVoteResp, from: id, to: 1, term: 1 }));
    }
    const st = rn.status();
    expect(st.raftState).toBe(StateType.StateLeader);
    expect([...st.progress.keys()].sort()).toEqual([1, 2, 3]);
    expect(JSON.parse(statusToJSON(st))).toMatchObject({ id: '1', term: 1, lead: '1', raftState: 'StateLeader' });
    const seen: [number, ProgressType][] = [];
    rn.withProgress((id, type) => seen.push([id, type]));
    expect(seen).toEqual([
      [1, ProgressType.ProgressTypePeer],
      [2, ProgressType.ProgressTypePeer],
      [3, ProgressType.ProgressTypePeer],
    ]);
    // The status is a copy: changing it does not change the node.
    const before = rn.status().progress.get(2)?.toString();
    st.progress.get(2)?.becomeSnapshot(9);
    expect(rn.status().progress.get(2)?.toString()).toBe(before);
  });

  test('reportUnreachable and reportSnapshot feed the leader flow control', () => {
    const s = storageWithSnapshot([1, 2]);
    const rn = newNode(s);
    rn.campaign();
    rn.step(newMessage({ type: MessageType.MsgVoteResp, from: 2, to: 1, term: 1 }));
    stabilize(rn, s);
    expect(rn.basicStatus().raftState).toBe(StateType.StateLeader);
    const pr = rn.raft.trk.progress.get(2);
    pr?.becomeReplicate();
    rn.reportUnreachable(2);
    expect(rn.raft.trk.progress.get(2)?.toString()).toContain('StateProbe');
    rn.raft.trk.progress.get(2)?.becomeSnapshot(5);
    rn.reportSnapshot(2, SnapshotStatus.SnapshotFailure);
    expect(rn.raft.trk.progress.get(2)?.toString()).toContain('StateProbe');
  });

  test('ping makes a leader heartbeat every follower at once, between ticks, and does nothing on a follower', () => {
    const s = storageWithSnapshot([1, 2, 3]);
    const rn = newNode(s);
    rn.ping();
    expect(rn.hasReady()).toBe(false);
    rn.campaign();
    for (const id of [2, 3]) rn.step(newMessage({ type: MessageType.MsgVoteResp, from: id, to: 1, term: 1 }));
    stabilize(rn, s);
    expect(rn.basicStatus().raftState).toBe(StateType.StateLeader);
    rn.ping();
    const heartbeats = rn.ready().messages.filter((m) => m.type === MessageType.MsgHeartbeat);
    expect(heartbeats.map((m) => [m.to, m.term]).sort()).toEqual([
      [2, 1],
      [3, 1],
    ]);
  });

  test('config validation reports etcd texts', () => {
    const s = new MemoryStorage();
    const cases: [Partial<ConstructorParameters<typeof RawNode>[0]>, string][] = [
      [{ id: 0 }, 'cannot use none as id'],
      [{ id: LocalAppendThread }, 'cannot use local target as id'],
      [{ heartbeatTick: 0 }, 'heartbeat tick must be greater than 0'],
      [{ electionTick: 1 }, 'election tick must be greater than heartbeat tick'],
      [{ maxInflightMsgs: 0 }, 'max inflight messages must be greater than 0'],
      [{ maxSizePerMsg: 10, maxInflightBytes: 5 }, 'max inflight bytes must be >= max message size'],
    ];
    for (const [extra, text] of cases) {
      let err: unknown = null;
      try {
        newNode(s, extra);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RaftError);
      expect((err as RaftError).code).toBe('ConfigInvalid');
      expect((err as RaftError).message).toBe(text);
    }
  });

  test('restarting from storage restores the HardState and skips applied entries', () => {
    const s = storageWithSnapshot([1]);
    const rn = newNode(s);
    rn.campaign();
    stabilize(rn, s);
    rn.propose(enc.encode('a'));
    rn.propose(enc.encode('b'));
    stabilize(rn, s);
    const restarted = newNode(s, { applied: 3 });
    expect(restarted.basicStatus()).toMatchObject({ term: 1, vote: 1, commit: 4, applied: 3 });
    const rd = restarted.ready();
    expect(rd.committedEntries.map((e) => dec.decode(e.data))).toEqual(['b']);
  });
});

describe('RawNode receiving a snapshot', () => {
  test('the snapshot comes out in a Ready, alone, and counts as applied after advance', () => {
    const s = new MemoryStorage();
    const rn = new RawNode({ id: 2, electionTick: 10, heartbeatTick: 1, storage: s, maxInflightMsgs: 256, maxSizePerMsg: Infinity });
    rn.step(
      newMessage({
        type: MessageType.MsgSnap,
        from: 1,
        to: 2,
        term: 3,
        snapshot: {
          data: enc.encode('state'),
          metadata: { index: 20, term: 3, confState: { ...emptyConfState(), voters: [1, 2] } },
        },
      }),
    );
    const rd = rn.ready();
    expect(rd.snapshot.metadata.index).toBe(20);
    expect(dec.decode(rd.snapshot.data)).toBe('state');
    expect(rd.committedEntries).toEqual([]);
    expect(rd.hardState).toEqual({ term: 3, vote: 0, commit: 20 });
    expect(rd.messages.map((m) => [m.type, m.to, m.index])).toEqual([[MessageType.MsgAppResp, 1, 20]]);
    // While the snapshot is being applied the node must not campaign.
    expect(rn.raft.promotable()).toBe(false);
    handle(rn, s, rd);
    expect(rn.basicStatus().applied).toBe(20);
    expect(rn.raft.promotable()).toBe(true);
    expect(rn.hasReady()).toBe(false);
  });
});

describe('RawNode with asyncStorageWrites', () => {
  /** Runs the local storage threads: persists / applies, then delivers their responses back to the node. */
  function runThreads(rn: RawNode, s: MemoryStorage, msgs: Message[]): void {
    for (const m of msgs) {
      if (m.to === LocalAppendThread) {
        if (m.term !== 0 || m.vote !== 0 || m.commit !== 0) {
          s.setHardState({ term: m.term, vote: m.vote, commit: m.commit });
        }
        s.append(m.entries);
      }
      if (m.to === LocalAppendThread || m.to === LocalApplyThread) {
        for (const resp of m.responses) {
          rn.step(resp);
        }
      }
    }
  }

  test('persistence and application travel as MsgStorageAppend and MsgStorageApply', () => {
    const s = storageWithSnapshot([1]);
    const rn = newNode(s, { asyncStorageWrites: true });
    rn.campaign();
    const rd1 = rn.ready();
    const vote = rd1.messages.find((m) => m.type === MessageType.MsgStorageAppend);
    expect(vote?.to).toBe(LocalAppendThread);
    expect([vote?.term, vote?.vote]).toEqual([1, 1]);
    // The candidate's own vote is delivered only once the vote is durable.
    expect(vote?.responses.map((m) => [m.type, m.to])).toEqual([[MessageType.MsgVoteResp, 1]]);
    expect(() => rn.advance()).toThrow(RaftPanic);
    runThreads(rn, s, rd1.messages);
    const rd2 = rn.ready();
    const append = rd2.messages.find((m) => m.type === MessageType.MsgStorageAppend);
    expect(append?.entries.map((e) => e.index)).toEqual([2]);
    // The leader's own acknowledgement and the stability report ride along, in that order.
    expect(append?.responses.map((m) => [m.type, m.to])).toEqual([
      [MessageType.MsgAppResp, 1],
      [MessageType.MsgStorageAppendResp, 1],
    ]);
    runThreads(rn, s, rd2.messages);
    rn.propose(enc.encode('x'));
    const applied: string[] = [];
    for (let i = 0; i < 10 && rn.hasReady(); i++) {
      const next = rn.ready();
      for (const m of next.messages) {
        if (m.type === MessageType.MsgStorageApply) {
          applied.push(...m.entries.map((e) => dec.decode(e.data)));
        }
      }
      runThreads(rn, s, next.messages);
    }
    expect(applied).toEqual(['', 'x']);
    expect(rn.basicStatus().applied).toBe(3);
    expect(rn.raft.raftLog.nextUnstableEnts()).toEqual([]);
  });
});
