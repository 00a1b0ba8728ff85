// The leader's queue of pending ReadIndex requests (§8, ReadOnlySafe).

import { ReadOnly, ReadOnlyOption } from '../../raft/read_only';
import { MessageType, newEntry, newMessage } from '../../raft/types';

const enc = new TextEncoder();
const req = (ctx: string) =>
  newMessage({ type: MessageType.MsgReadIndex, entries: [newEntry({ term: 0, index: 0, data: enc.encode(ctx) })] });
const ack = (ctx: string) => newMessage({ type: MessageType.MsgHeartbeatResp, context: enc.encode(ctx) });

describe('ReadOnly', () => {
  test('reads are confirmed in order, a later confirmation confirming the earlier ones', () => {
    const ro = new ReadOnly(ReadOnlyOption.ReadOnlySafe);
    ro.addRequest(5, req('a'));
    ro.addRequest(6, req('b'));
    ro.addRequest(7, req('c'));
    expect(new TextDecoder().decode(ro.lastPendingRequestCtx() ?? new Uint8Array())).toBe('c');
    expect(ro.advance(ack('b')).map((rs) => rs.index)).toEqual([5, 6]);
    expect(ro.pendingCount()).toBe(1);
    expect(ro.advance(ack('b'))).toEqual([]);
    expect(ro.advance(ack('c')).map((rs) => rs.index)).toEqual([7]);
    expect(ro.lastPendingRequestCtx()).toBeNull();
  });

  test('a repeated context keeps the first request; acks count per voter', () => {
    const ro = new ReadOnly(ReadOnlyOption.ReadOnlySafe);
    ro.addRequest(5, req('a'));
    ro.addRequest(9, req('a'));
    expect(ro.pendingCount()).toBe(1);
    expect(ro.recvAck(1, enc.encode('a'))?.size).toBe(1);
    expect(ro.recvAck(2, enc.encode('a'))?.size).toBe(2);
    expect(ro.recvAck(2, enc.encode('a'))?.size).toBe(2);
    expect(ro.recvAck(2, enc.encode('unknown'))).toBeNull();
    expect(ro.advance(ack('a')).map((rs) => rs.index)).toEqual([5]);
  });
});
