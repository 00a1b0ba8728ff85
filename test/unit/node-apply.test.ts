// Applying the committed log to the key-value map and the membership registry (kvstore/apply.ts), with a real
// RawNode taking the configuration changes. A configuration change has two encodings, ConfChange (V1) and
// ConfChangeV2; a member must do the same for both, whoever proposed the entry.

import { KvApplier, ApplyListener } from '../../kvstore/apply';
import { CommandOp, encodeCommand } from '../../kvstore/command';
import { KvStore } from '../../kvstore/kv';
import { Membership, encodeMemberContext } from '../../kvstore/members';
import { encodeSnapshotData } from '../../kvstore/snapshot';
import { encodeConfChange, encodeConfChangeV2 } from '../../raft/codec';
import { RawNode } from '../../raft/rawnode';
import { MemoryStorage } from '../../raft/storage';
import {
  ConfChangeTransition,
  ConfChangeType,
  Entry,
  EntryType,
  MessageType,
  NodeId,
  Snapshot,
  emptyConfState,
  newMessage,
} from '../../raft/types';
import { TestCluster, runLoop } from './node_fakes';

const url = (id: NodeId): string => `http://n${id}`;

// An applier for member 1 of {1, 2}, whose log starts after a snapshot at index 1, and what it told its listener.
function applierOfMemberOne(): { applier: KvApplier; told: string[]; members: Membership } {
  const members = new Membership([1, 2].map((id) => ({ id, peerURL: url(id), clientURL: '', learner: false })));
  const start: Snapshot = {
    data: encodeSnapshotData(new KvStore(), members),
    metadata: { index: 1, term: 1, confState: { ...emptyConfState(), voters: [1, 2] } },
  };
  const storage = new MemoryStorage();
  storage.applySnapshot(start);
  const raw = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage, applied: 1, maxInflightMsgs: 256 });
  const told: string[] = [];
  const listener: ApplyListener = {
    commandApplied: (cmd, result) => told.push(`command ${cmd.key} existed=${String(result.existed)}`),
    confChangeApplied: (tag, refusal) => told.push(refusal === undefined ? `confChange ${tag}` : `refused ${tag}: ${refusal}`),
    membersChanged: (m) => told.push(`members ${m.list().map((x) => `${x.id}${x.learner ? 'L' : ''}`).join(',')}`),
  };
  return { applier: new KvApplier(1, members, start, raw, listener), told, members };
}

type Encoding = 'ConfChange' | 'ConfChangeV2';

// One single-member change as a committed entry, in either encoding.
function change(encoding: Encoding, index: number, type: ConfChangeType, nodeId: NodeId, context: Uint8Array): Entry {
  if (encoding === 'ConfChange') {
    return { term: 1, index, type: EntryType.EntryConfChange, data: encodeConfChange({ type, nodeId, context, id: 0 }) };
  }
  const data = encodeConfChangeV2({ transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [{ type, nodeId }], context });
  return { term: 1, index, type: EntryType.EntryConfChangeV2, data };
}

describe.each<Encoding>(['ConfChange', 'ConfChangeV2'])('a %s entry', (encoding) => {
  test('adds the member with its URLs, tells the transport, and answers the request that proposed it', () => {
    const { applier, told, members } = applierOfMemberOne();
    const ctx = encodeMemberContext({ peerURL: url(3), clientURL: 'http://c3', request: 'req-7' });
    applier.applyEntry(change(encoding, 2, ConfChangeType.ConfChangeAddNode, 3, ctx));
    expect(members.get(3)).toEqual({ id: 3, peerURL: url(3), clientURL: 'http://c3', learner: false });
    expect(told).toEqual(['members 1,2,3', 'confChange req-7']);
    expect(applier.currentConfState.voters).toEqual([1, 2, 3]);
    expect(applier.applied).toBe(2);
    expect(applier.confChangedSinceLastSnapshot).toBe(true);
    expect(applier.isRemoved).toBe(false);
  });

  test('adds a learner as a learner, and promotes it keeping its URLs', () => {
    const { applier, members } = applierOfMemberOne();
    applier.applyEntry(change(encoding, 2, ConfChangeType.ConfChangeAddLearnerNode, 3, encodeMemberContext({ peerURL: url(3), clientURL: '' })));
    expect(members.get(3)?.learner).toBe(true);
    applier.applyEntry(change(encoding, 3, ConfChangeType.ConfChangeAddNode, 3, new Uint8Array(0)));
    expect(members.get(3)).toEqual({ id: 3, peerURL: url(3), clientURL: '', learner: false });
  });

  test("that removes this member marks it removed, so the loop stops it", () => {
    const { applier, told, members } = applierOfMemberOne();
    applier.applyEntry(change(encoding, 2, ConfChangeType.ConfChangeRemoveNode, 1, new Uint8Array(0)));
    expect(applier.isRemoved).toBe(true);
    expect(members.isRemoved(1)).toBe(true);
    expect(told).toEqual(['members 2']);
  });

  test('already applied (a replay after restart) changes nothing', () => {
    const { applier, told, members } = applierOfMemberOne();
    applier.applyEntry(change(encoding, 1, ConfChangeType.ConfChangeRemoveNode, 2, new Uint8Array(0)));
    expect(members.has(2)).toBe(true);
    expect(told).toEqual([]);
  });

  // Two removals proposed at once in a two-voter cluster both pass the API's check; the second to commit would
  // leave no voter. Every member refuses it the same way, at the same index, and the core stays whole.
  test('that would leave no voter is refused, changes nothing, and fails the request that proposed it', () => {
    const { applier, told, members } = applierOfMemberOne();
    applier.applyEntry(change(encoding, 2, ConfChangeType.ConfChangeRemoveNode, 2, encodeMemberContext({ peerURL: '', clientURL: '', request: 'a' })));
    expect(applier.currentConfState.voters).toEqual([1]);
    told.length = 0;
    applier.applyEntry(change(encoding, 3, ConfChangeType.ConfChangeRemoveNode, 1, encodeMemberContext({ peerURL: '', clientURL: '', request: 'b' })));
    expect(applier.currentConfState.voters).toEqual([1]);
    expect(members.get(1)?.learner).toBe(false);
    expect(applier.isRemoved).toBe(false);
    expect(applier.applied).toBe(3);
    expect(told).toEqual(['members 1', 'refused b: Removing member 1 would leave the cluster without a voter; the change was refused']);
  });
});

test('a ConfChangeV2 with several changes enters a joint configuration and updates every member; leaving it changes none', () => {
  const { applier, told, members } = applierOfMemberOne();
  const data = encodeConfChangeV2({
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [
      { type: ConfChangeType.ConfChangeAddNode, nodeId: 3 },
      { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 4 },
    ],
    context: encodeMemberContext({ peerURL: '', clientURL: '', request: 'req-9' }),
  });
  applier.applyEntry({ term: 1, index: 2, type: EntryType.EntryConfChangeV2, data });
  expect(applier.currentConfState.voters).toEqual([1, 2, 3]);
  expect(applier.currentConfState.votersOutgoing).toEqual([1, 2]);
  expect(members.list().map((m) => [m.id, m.learner])).toEqual([[1, false], [2, false], [3, false], [4, true]]);
  expect(told).toEqual(['members 1,2,3,4L', 'confChange req-9']);

  applier.applyEntry({ term: 1, index: 3, type: EntryType.EntryConfChangeV2, data: new Uint8Array(0) });
  expect(applier.currentConfState.votersOutgoing).toEqual([]);
  expect(members.list().map((m) => m.id)).toEqual([1, 2, 3, 4]);
  expect(applier.applied).toBe(3);
});

test('commands change the map and answer their proposer; a snapshot replaces map and registry', () => {
  const { applier, told, members } = applierOfMemberOne();
  applier.applyEntry({ term: 1, index: 2, type: EntryType.EntryNormal, data: encodeCommand({ op: CommandOp.Put, epoch: 1, seq: 1, key: 'a', value: Buffer.from('1') }) });
  applier.applyEntry({ term: 1, index: 3, type: EntryType.EntryNormal, data: new Uint8Array(0) });
  expect(applier.kv.get('a')?.toString()).toBe('1');
  expect(told).toEqual(['command a existed=false']);

  const kv = new KvStore();
  kv.apply({ op: CommandOp.Put, epoch: 1, seq: 1, key: 'b', value: Buffer.from('2') });
  const registry = new Membership([{ id: 1, peerURL: url(1), clientURL: '', learner: false }]);
  registry.applyConfChange({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 2, context: new Uint8Array(0), id: 0 }, { ...emptyConfState(), voters: [1] });
  const snap: Snapshot = { data: encodeSnapshotData(kv, registry), metadata: { index: 9, term: 1, confState: { ...emptyConfState(), voters: [1] } } };
  expect(applier.applySnapshot(snap)).toBe(true);
  expect(applier.kv.get('a')).toBeUndefined();
  expect(applier.kv.get('b')?.toString()).toBe('2');
  expect(members.isRemoved(2)).toBe(true);
  expect(applier.applied).toBe(9);
  expect(applier.applySnapshot(snap)).toBe(false);
});

test('a member that receives a ConfChangeV2 from its leader tells the transport the new peer', async () => {
  jest.useFakeTimers();
  try {
    const c = new TestCluster([1], () => ({ bootstrap: false }), [2]);
    const m = c.member(1);
    const ctx = encodeMemberContext({ peerURL: url(3), clientURL: '' });
    const entry = change('ConfChangeV2', 1, ConfChangeType.ConfChangeAddNode, 3, ctx);
    m.node.deliver([newMessage({ type: MessageType.MsgApp, from: 2, to: 1, term: 1, index: 0, logTerm: 0, entries: [entry], commit: 1 })]);
    await runLoop();
    expect(m.node.applied).toBe(1);
    expect(m.peerUpdates.at(-1)?.map((x) => [x.id, x.peerURL])).toEqual([[1, url(1)], [2, url(2)], [3, url(3)]]);
  } finally {
    jest.useRealTimers();
  }
});
