// The Raft paper, §8 (client interaction) and thesis §6.4: linearizable reads through ReadIndex, confirmed by a
// heartbeat round (ReadOnlySafe) or by the leader lease (ReadOnlyLeaseBased).

import { Raft } from '../../raft/raft';
import { ReadOnlyOption } from '../../raft/read_only';
import { Message, MessageType, newEntry } from '../../raft/types';
import { Network, becomeLeader, msg, newTestRaft, readMessages, storageWith } from './net';

const enc = new TextEncoder();
const dec = new TextDecoder();

function readIndexMsg(from: number, to: number, ctx: string): Message {
  return msg({ type: MessageType.MsgReadIndex, from, to, entries: [newEntry({ term: 0, index: 0, data: enc.encode(ctx) })] });
}

function readStates(r: Raft): [number, string][] {
  const out = r.readStates.map((rs): [number, string] => [rs.index, dec.decode(rs.requestCtx)]);
  r.readStates = [];
  return out;
}

describe('§8 read-only queries', () => {
  test.each([ReadOnlyOption.ReadOnlySafe, ReadOnlyOption.ReadOnlyLeaseBased])(
    'reads at the leader and at followers return the commit index (option %s)',
    (option) => {
      const nt = Network.ofSize(3, { readOnlyOption: option, checkQuorum: true });
      // A leader must have committed an entry of its term before it knows its commit index is current.
      nt.campaign(1);
      nt.propose(1, 'x');
      const committed = nt.raft(1).raftLog.committed;
      for (const id of [1, 2, 3]) {
        nt.send(readIndexMsg(id, id, `ctx${id}`));
        expect(readStates(nt.raft(id))).toEqual([[committed, `ctx${id}`]]);
      }
    },
  );

  // "a leader must check whether it has been deposed before processing a read-only request ... by having the
  // leader exchange heartbeat messages with a majority of the cluster before responding."
  test('ReadOnlySafe: a read is answered only once a majority acknowledges the heartbeat carrying it', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3, 4, 5]));
    becomeLeader(r);
    // Commit the leader's empty entry, so reads are not postponed.
    for (const id of [2, 3]) {
      r.step(msg({ type: MessageType.MsgAppResp, from: id, to: 1, term: r.term, index: 1 }));
    }
    readMessages(r);
    r.step(readIndexMsg(1, 1, 'ctx'));
    const beats = readMessages(r).filter((m) => m.type === MessageType.MsgHeartbeat);
    expect(beats.map((m) => [m.to, dec.decode(m.context)])).toEqual([
      [2, 'ctx'],
      [3, 'ctx'],
      [4, 'ctx'],
      [5, 'ctx'],
    ]);
    const ack = (from: number): void =>
      r.step(msg({ type: MessageType.MsgHeartbeatResp, from, to: 1, term: r.term, context: enc.encode('ctx') }));
    ack(2);
    expect(r.readStates).toEqual([]);
    ack(3);
    expect(readStates(r)).toEqual([[1, 'ctx']]);
  });

  test('ReadOnlySafe: confirming a later read confirms the earlier ones too', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]));
    becomeLeader(r);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index: 1 }));
    r.step(readIndexMsg(1, 1, 'a'));
    r.step(readIndexMsg(1, 1, 'b'));
    readMessages(r);
    r.step(msg({ type: MessageType.MsgHeartbeatResp, from: 2, to: 1, term: r.term, context: enc.encode('b') }));
    expect(readStates(r)).toEqual([
      [1, 'a'],
      [1, 'b'],
    ]);
  });

  // "a leader may not know which entries are committed at the start of its term ... Raft handles this by having
  // each leader commit a blank no-op entry into the log at the start of its term."
  test('a read arriving before the leader commits an entry of its term waits for that commit', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]));
    becomeLeader(r);
    readMessages(r);
    r.step(readIndexMsg(1, 1, 'early'));
    expect(r.pendingReadIndexMessages.length).toBe(1);
    expect(readMessages(r).filter((m) => m.type === MessageType.MsgHeartbeat)).toEqual([]);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index: 1 }));
    expect(r.pendingReadIndexMessages).toEqual([]);
    const beats = readMessages(r).filter((m) => m.type === MessageType.MsgHeartbeat);
    expect(beats.map((m) => dec.decode(m.context))).toEqual(['early', 'early']);
  });

  test('ReadOnlyLeaseBased: the leader answers at once, trusting its lease', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]), {
      readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased,
      checkQuorum: true,
    });
    becomeLeader(r);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index: 1 }));
    readMessages(r);
    r.step(readIndexMsg(1, 1, 'lease'));
    expect(readStates(r)).toEqual([[1, 'lease']]);
    expect(readMessages(r)).toEqual([]);
  });

  test('a follower forwards a read to its leader and receives the index back', () => {
    const nt = Network.ofSize(3);
    nt.campaign(1);
    nt.send(readIndexMsg(2, 2, 'from-2'));
    const forwarded = nt.delivered.filter((m) => m.type === MessageType.MsgReadIndex && m.to === 1);
    expect(forwarded.map((m) => m.from)).toEqual([2]);
    expect(readStates(nt.raft(2))).toEqual([[nt.raft(1).raftLog.committed, 'from-2']]);
  });

  test('a follower without a leader drops a read', () => {
    const r = newTestRaft(2, 10, 1, storageWith([1, 2, 3]));
    r.step(readIndexMsg(2, 2, 'lost'));
    expect(readMessages(r)).toEqual([]);
    expect(r.readStates).toEqual([]);
  });

  test('ReadOnlyLeaseBased requires CheckQuorum', () => {
    expect(() =>
      newTestRaft(1, 10, 1, storageWith([1]), { readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased }),
    ).toThrow('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
  });
});
