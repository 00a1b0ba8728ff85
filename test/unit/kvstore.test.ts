// The pure parts of the key-value service: command encoding, the map and its snapshot bytes, the membership
// registry, and the snapshot data that carries both.

import { ConfChangeType, emptyConfState } from '../../raft/types';
import { CommandOp, decodeCommand, encodeCommand, encodeTxnValue } from '../../kvstore/command';
import { KvError } from '../../kvstore/errors';
import { KvStore } from '../../kvstore/kv';
import { Membership, decodeMemberContext, encodeMemberContext } from '../../kvstore/members';
import { SnapshotEncoding, encodeSnapshotData, restoreSnapshotData } from '../../kvstore/snapshot';

const put = (key: string, value: string) => ({ op: CommandOp.Put, epoch: 7, seq: 1, key, value: Buffer.from(value) });

describe('commands', () => {
  test('encodeCommand and decodeCommand round-trip every field, including multi-byte keys and large sequence numbers', () => {
    const cmd = { op: CommandOp.Put, epoch: 0xdeadbeef, seq: 2 ** 40 + 3, key: 'clé/ключ', value: Buffer.from([0, 1, 255]) };
    const back = decodeCommand(encodeCommand(cmd));
    expect({ ...back, value: Buffer.from(back.value) }).toEqual(cmd);
  });

  test('decodeCommand refuses short data, an unknown operation and a key running past the end', () => {
    expect(() => decodeCommand(new Uint8Array(3))).toThrow(KvError);
    const bad = Buffer.from(encodeCommand(put('k', 'v')));
    bad[0] = 9;
    expect(() => decodeCommand(bad)).toThrow(/unknown operation 9/);
    const long = Buffer.from(encodeCommand(put('k', 'v')));
    long.writeUInt32BE(1000, 11);
    expect(() => decodeCommand(long)).toThrow(/runs past the end/);
  });
});

describe('KvStore', () => {
  test('a stored value owns a buffer of its own size, whether put alone or in a transaction', () => {
    const kv = new KvStore();
    // The command's value is a view into a larger buffer, as the value of a received entry is.
    const frame = Buffer.alloc(4096, 'x');
    kv.apply({ ...put('alone', ''), value: frame.subarray(100, 110) });
    kv.apply({ op: CommandOp.Txn, epoch: 7, seq: 2, key: '', value: encodeTxnValue({ compares: [], success: [{ op: 'put', key: 'txn', value: 'twelve bytes' }], failure: [] }) });
    for (const [key, length] of [['alone', 10], ['txn', 12]] as const) {
      const value = kv.get(key);
      expect(value?.length).toBe(length);
      expect(value?.buffer.byteLength).toBe(length);
    }
  });

  test('apply reports whether the key existed; delete removes it', () => {
    const kv = new KvStore();
    expect(kv.apply(put('a', '1')).existed).toBe(false);
    expect(kv.apply(put('a', '2')).existed).toBe(true);
    expect(kv.get('a')?.toString()).toBe('2');
    expect(kv.apply({ ...put('a', ''), op: CommandOp.Delete }).existed).toBe(true);
    expect(kv.get('a')).toBeUndefined();
  });

  test('list returns keys under a prefix in UTF-8 byte order, up to the limit', () => {
    const kv = new KvStore();
    for (const k of ['b/2', 'a/1', 'b/1', 'b/é', 'b/z', 'c']) kv.apply(put(k, k));
    expect(kv.list('b/', 10).map((e) => e.key)).toEqual(['b/1', 'b/2', 'b/z', 'b/é']);
    expect(kv.list('b/', 2).map((e) => e.key)).toEqual(['b/1', 'b/2']);
    expect(kv.list('', 100).length).toBe(6);
  });

  test('serialize and restore reproduce the map exactly, replacing what was there', () => {
    const kv = new KvStore();
    kv.apply(put('x', 'one'));
    kv.apply({ ...put('bin', ''), value: Buffer.from([0, 0xff, 0x10]) });
    kv.apply(put('empty', ''));
    const other = new KvStore();
    other.apply(put('stale', 'gone'));
    other.restore(kv.serialize());
    expect(other.list('', 10).map((e) => [e.key, e.value.toString('hex')])).toEqual([
      ['bin', '00ff10'],
      ['empty', ''],
      ['x', Buffer.from('one').toString('hex')],
    ]);
  });

  test('restore refuses truncated bytes and leaves the map unchanged', () => {
    const kv = new KvStore();
    kv.apply(put('key', 'value'));
    const bytes = kv.serialize();
    const target = new KvStore();
    target.apply(put('kept', 'yes'));
    expect(() => target.restore(bytes.subarray(0, bytes.length - 1))).toThrow(/Snapshot ends inside/);
    expect(target.get('kept')?.toString()).toBe('yes');
  });
});

describe('Membership', () => {
  const ctx = (peerURL: string, clientURL = '') => encodeMemberContext({ peerURL, clientURL });

  test('added members carry the URLs of the ConfChange context; learners follow the ConfState', () => {
    const m = new Membership();
    m.applyConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: 1, context: ctx('http://a:1'), id: 0 }, { ...emptyConfState(), voters: [1] });
    m.applyConfChange({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2, context: ctx('http://b:1', 'http://b:2'), id: 0 }, { ...emptyConfState(), voters: [1], learners: [2] });
    expect(m.list()).toEqual([
      { id: 1, peerURL: 'http://a:1', clientURL: '', learner: false },
      { id: 2, peerURL: 'http://b:1', clientURL: 'http://b:2', learner: true },
    ]);
    // Promotion: AddNode for a learner keeps its URLs and makes it a voter.
    m.applyConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: 2, context: new Uint8Array(0), id: 0 }, { ...emptyConfState(), voters: [1, 2] });
    expect(m.get(2)).toEqual({ id: 2, peerURL: 'http://b:1', clientURL: 'http://b:2', learner: false });
  });

  test('a removed ID is remembered, never comes back, and is not handed out again', () => {
    const m = new Membership([{ id: 1, peerURL: 'http://a:1', clientURL: '', learner: false }, { id: 3, peerURL: 'http://c:1', clientURL: '', learner: false }]);
    m.applyConfChange({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 3, context: new Uint8Array(0), id: 0 }, { ...emptyConfState(), voters: [1] });
    expect(m.has(3)).toBe(false);
    expect(m.isRemoved(3)).toBe(true);
    expect(m.nextId()).toBe(4);
    m.applyConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: 3, context: ctx('http://c:1'), id: 0 }, { ...emptyConfState(), voters: [1] });
    expect(m.has(3)).toBe(false);
  });

  test('decodeMemberContext reads URLs and the request tag, and refuses what is not JSON', () => {
    expect(decodeMemberContext(encodeMemberContext({ peerURL: 'http://p:1', clientURL: 'http://c:1', request: '1:2' }))).toEqual({
      peerURL: 'http://p:1',
      clientURL: 'http://c:1',
      request: '1:2',
    });
    expect(decodeMemberContext(new Uint8Array(0))).toEqual({ peerURL: '', clientURL: '' });
    expect(() => decodeMemberContext(Buffer.from('{nope'))).toThrow(/not JSON/);
  });
});

describe('snapshot data', () => {
  test('carries the map and the membership, and restoring replaces both', () => {
    const kv = new KvStore();
    kv.apply(put('k', 'v'));
    const members = new Membership([{ id: 1, peerURL: 'http://a:1', clientURL: 'http://a:2', learner: false }]);
    members.applyConfChange({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 2, context: new Uint8Array(0), id: 0 }, { ...emptyConfState(), voters: [1] });
    const data = encodeSnapshotData(kv, members);

    const kv2 = new KvStore();
    kv2.apply(put('old', 'x'));
    const members2 = new Membership([{ id: 9, peerURL: 'http://z:1', clientURL: '', learner: false }]);
    restoreSnapshotData(data, kv2, members2);
    expect(kv2.list('', 10).map((e) => e.key)).toEqual(['k']);
    expect(members2.toJSON()).toEqual(members.toJSON());
    expect(() => restoreSnapshotData(data.subarray(0, 10), kv2, members2)).toThrow(/runs past the data/);
  });

  // 40 keys and at least 50 events: every budget here spans several steps of each pass.
  test.each([1, 7, 90])('encoded in slices of %i, it holds the state as it was when taken, byte for byte what a whole encoding gives', (budget) => {
    const kv = new KvStore({ historyRetention: 50 });
    for (let i = 0; i < 300; i++) kv.apply(put(`k${i % 40}`, `v${i}`));
    const members = new Membership([{ id: 1, peerURL: 'http://a:1', clientURL: 'http://a:2', learner: false }]);
    const whole = encodeSnapshotData(kv, members);

    const encoding = new SnapshotEncoding(kv, members);
    let steps = 1;
    while (!encoding.step(budget)) {
      steps++;
      // Writes after the capture, including one that compacts the history it is encoding, change nothing in it.
      kv.apply(put(`k${steps % 45}`, `later${steps}`));
    }
    // Every key and event is counted in one pass, then encoded in the next.
    expect(steps).toBeGreaterThanOrEqual(Math.ceil(180 / budget));
    expect(encoding.bytes().equals(whole)).toBe(true);
    expect(() => new SnapshotEncoding(kv, members).bytes()).toThrow(/not complete/);
  });

  // The history's array is cut down once more than 1,024 events are below the compaction point; the encoding holds
  // the array it captured, so the store must give itself a new one rather than cut that one in place.
  test('a compaction that drops more than 1,024 events while the snapshot is encoded changes nothing in it', () => {
    const retention = 1100;
    const kv = new KvStore({ historyRetention: retention });
    // The second automatic compaction, at revision 3 * retention, is the first to cut the array.
    while (kv.revision < 3 * retention - 20) kv.apply(put(`k${kv.revision % 40}`, `v${kv.revision}`));
    const members = new Membership([]);
    const whole = encodeSnapshotData(kv, members);
    const encoding = new SnapshotEncoding(kv, members);
    const compactedBefore = kv.compactRevision;
    while (!encoding.step(100)) kv.apply(put(`k${kv.revision % 40}`, `later${kv.revision}`));
    expect(kv.compactRevision).toBeGreaterThan(compactedBefore);
    expect(encoding.bytes().equals(whole)).toBe(true);
  });
});
