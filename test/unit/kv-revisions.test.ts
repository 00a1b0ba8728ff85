// The state machine's revisions, history, compaction, transactions and sessions, checked against a model that
// keeps a full copy of the map at every revision (property tests), plus the cases worth naming one by one.

import fc from 'fast-check';
import { Command, CommandOp, SessionId, encodeCompactValue, encodeLeaseValue, encodeTxnValue } from '../../kvstore/command';
import { KvError } from '../../kvstore/errors';
import { ByteWriter } from '../../kvstore/bytes';
import { KeyMeta, KvStore } from '../../kvstore/kv';
import { LeaseTable } from '../../kvstore/lease';
import { Membership } from '../../kvstore/members';
import { encodeSnapshotData, restoreSnapshotData } from '../../kvstore/snapshot';
import { Compare, Txn, TxnOp } from '../../kvstore/txn';

const cmd = (op: CommandOp, key: string, value: Uint8Array = new Uint8Array(0)): Command => ({ op, epoch: 1, seq: 1, key, value });
const put = (key: string, value: string): Command => cmd(CommandOp.Put, key, Buffer.from(value));
const del = (key: string): Command => cmd(CommandOp.Delete, key);
const txn = (t: Partial<Txn>, session?: SessionId): Command =>
  cmd(CommandOp.Txn, '', encodeTxnValue({ compares: [], success: [], failure: [], ...t }, session));
const compact = (revision: number): Command => cmd(CommandOp.Compact, '', encodeCompactValue(revision));
const meta = (kv: KeyMeta | undefined) => (kv === undefined ? undefined : { value: kv.value.toString(), c: kv.createRevision, m: kv.modRevision, v: kv.version });

describe('revisions', () => {
  test('a put, a delete of an existing key and a writing transaction each take one revision; no-ops take none', () => {
    const kv = new KvStore();
    expect(kv.revision).toBe(1);
    expect(kv.apply(put('a', '1')).revision).toBe(2);
    expect(kv.apply(put('a', '2')).revision).toBe(3);
    expect(kv.apply(del('missing')).revision).toBe(3);
    const r = kv.apply(txn({ success: [{ op: 'put', key: 'b', value: 'x' }, { op: 'put', key: 'c', value: 'y' }] }));
    expect(r.revision).toBe(4);
    expect(meta(kv.read('b'))).toEqual({ value: 'x', c: 4, m: 4, v: 1 });
    expect(meta(kv.read('c'))).toEqual({ value: 'y', c: 4, m: 4, v: 1 });
    expect(kv.apply(txn({ success: [{ op: 'get', key: 'a' }] })).revision).toBe(4);
    expect(meta(kv.read('a'))).toEqual({ value: '2', c: 2, m: 3, v: 2 });
  });

  test('a delete resets createRevision and version; reads at past revisions see the old states', () => {
    const kv = new KvStore();
    kv.apply(put('k', 'one')); // 2
    kv.apply(put('k', 'two')); // 3
    kv.apply(del('k')); // 4
    kv.apply(put('k', 'three')); // 5
    expect(meta(kv.read('k'))).toEqual({ value: 'three', c: 5, m: 5, v: 1 });
    expect(meta(kv.read('k', 2))).toEqual({ value: 'one', c: 2, m: 2, v: 1 });
    expect(meta(kv.read('k', 3))).toEqual({ value: 'two', c: 2, m: 3, v: 2 });
    expect(kv.read('k', 4)).toBeUndefined();
    expect(kv.read('k', 1)).toBeUndefined();
    expect(kv.list('', 10, 3).map((e) => e.key)).toEqual(['k']);
    expect(kv.list('', 10, 4)).toEqual([]);
    expect(() => kv.read('k', 6)).toThrow(/ahead of the store's revision 5/);
  });

  test('compaction forgets revisions below it: reads there answer Compacted, reads at it and later still work', () => {
    const kv = new KvStore();
    for (let i = 0; i < 5; i++) kv.apply(put('k', `v${i}`)); // revisions 2..6
    const r = kv.apply(compact(4));
    expect(r.error).toBeUndefined();
    expect(kv.compactRevision).toBe(4);
    expect(kv.read('k', 4)?.value.toString()).toBe('v2');
    expect(() => kv.read('k', 3)).toThrow(KvError);
    expect(() => kv.read('k', 3)).toThrow(/oldest revision available is 4/);
    expect(kv.eventsFrom(4, 100).map((e) => e.revision)).toEqual([4, 5, 6]);
    expect(() => kv.eventsFrom(3, 100)).toThrow(/compacted/);
    // Refused compactions change nothing and say why.
    expect(kv.apply(compact(4)).error?.code).toBe('Compacted');
    expect(kv.apply(compact(99)).error?.code).toBe('FutureRevision');
    expect(kv.compactRevision).toBe(4);
  });

  test('the store compacts itself, deterministically, once the history holds twice the retention', () => {
    const kv = new KvStore({ historyRetention: 10 });
    for (let i = 0; i < 19; i++) kv.apply(put(`k${i % 3}`, String(i)));
    expect(kv.compactRevision).toBe(10);
    expect(kv.eventsFrom(10, 1000).map((e) => e.revision)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  });

  test('eventsFrom never splits a revision', () => {
    const kv = new KvStore();
    kv.apply(txn({ success: [{ op: 'put', key: 'a', value: '1' }, { op: 'put', key: 'b', value: '2' }] }));
    kv.apply(put('c', '3'));
    expect(kv.eventsFrom(1, 1).map((e) => e.key)).toEqual(['a', 'b']);
  });
});

describe('transactions', () => {
  test('compares on value, version, createRevision and modRevision pick the branch; a missing key counts as 0', () => {
    const kv = new KvStore();
    kv.apply(put('k', 'v')); // 2
    const run = (compares: Compare[]) => kv.apply(txn({ compares, success: [{ op: 'get', key: 'k' }], failure: [] })).txn?.succeeded;
    expect(run([{ key: 'k', target: 'value', op: '=', value: 'v' }])).toBe(true);
    expect(run([{ key: 'k', target: 'value', op: '!=', value: 'v' }])).toBe(false);
    expect(run([{ key: 'k', target: 'value', op: '<', value: 'w' }])).toBe(true);
    expect(run([{ key: 'k', target: 'version', op: '=', value: 1 }])).toBe(true);
    expect(run([{ key: 'k', target: 'modRevision', op: '>', value: 1 }])).toBe(true);
    expect(run([{ key: 'k', target: 'createRevision', op: '<', value: 2 }])).toBe(false);
    expect(run([{ key: 'nope', target: 'createRevision', op: '=', value: 0 }])).toBe(true);
    expect(run([{ key: 'nope', target: 'value', op: '!=', value: 'x' }])).toBe(false);
    expect(run([])).toBe(true);
  });

  test('compare-and-swap on modRevision: the second swap with the same expectation fails and gets the failure branch', () => {
    const kv = new KvStore();
    const { revision } = kv.apply(put('lock', 'free'));
    const cas = (value: string) =>
      kv.apply(txn({ compares: [{ key: 'lock', target: 'modRevision', op: '=', value: revision }], success: [{ op: 'put', key: 'lock', value }], failure: [{ op: 'get', key: 'lock' }] }));
    const first = cas('alice');
    const second = cas('bob');
    expect(first.txn?.succeeded).toBe(true);
    expect(second.txn?.succeeded).toBe(false);
    expect(second.txn?.results).toEqual([{ op: 'get', key: 'lock', kv: { key: 'lock', value: 'alice', createRevision: 2, modRevision: 3, version: 2, lease: 0 } }]);
    expect(kv.get('lock')?.toString()).toBe('alice');
  });

  test('a malformed transaction in the log is refused on apply and changes nothing', () => {
    const kv = new KvStore();
    const r = kv.apply(cmd(CommandOp.Txn, '', Buffer.from('{"txn":{"success":[{"op":"put","key":"a"}]}}')));
    expect(r.error?.code).toBe('BadRequest');
    expect(kv.revision).toBe(1);
  });
});

describe('sessions', () => {
  const write = (key: string, value: string): Partial<Txn> => ({ success: [{ op: 'put', key, value }] });

  test('a repeated (client, seq) is applied once and answered with the first answer', () => {
    const kv = new KvStore();
    const first = kv.apply(txn(write('k', 'a'), { client: 'c1', seq: 1 }));
    kv.apply(put('k', 'other'));
    const again = kv.apply(txn(write('k', 'a'), { client: 'c1', seq: 1 }));
    expect(again).toEqual({ ...first, duplicate: true });
    expect(kv.get('k')?.toString()).toBe('other');
    expect(kv.revision).toBe(3);
    const next = kv.apply(txn(write('k', 'b'), { client: 'c1', seq: 2 }));
    expect(next.duplicate).toBeUndefined();
    expect(kv.get('k')?.toString()).toBe('b');
    expect(kv.apply(txn(write('k', 'c'), { client: 'c1', seq: 1 })).error?.code).toBe('SessionStale');
    expect(kv.get('k')?.toString()).toBe('b');
  });

  test('sessions expire after sessionExpiryRevisions unused revisions, and beyond maxSessions, oldest first', () => {
    const kv = new KvStore({ sessionExpiryRevisions: 5, maxSessions: 2 });
    kv.apply(txn(write('a', '1'), { client: 'A', seq: 1 }));
    kv.apply(txn(write('b', '1'), { client: 'B', seq: 1 }));
    kv.apply(txn(write('c', '1'), { client: 'C', seq: 1 }));
    expect(kv.sessionCount).toBe(2); // A went: least recently used beyond 2
    for (let i = 0; i < 6; i++) kv.apply(put('x', String(i)));
    kv.apply(txn(write('d', '1'), { client: 'D', seq: 1 }));
    expect(kv.sessionCount).toBe(1); // B and C unused for more than 5 revisions
  });
});

describe('snapshots', () => {
  test('the layout before revisions still restores: keys at revision 1, version 1', () => {
    const json = Buffer.from(JSON.stringify(new Membership([{ id: 1, peerURL: 'http://a:1', clientURL: '', learner: false }]).toJSON()));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(json.length);
    const entry = (s: string) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(Buffer.byteLength(s));
      return Buffer.concat([b, Buffer.from(s)]);
    };
    const old = Buffer.concat([head, json, entry('k'), entry('v')]);
    const kv = new KvStore();
    restoreSnapshotData(old, kv, new Membership([]));
    expect(meta(kv.read('k'))).toEqual({ value: 'v', c: 1, m: 1, v: 1 });
    expect(kv.revision).toBe(1);
    expect(kv.apply(put('k', 'w')).revision).toBe(2);
  });

  test('history, compaction and sessions travel in the snapshot', () => {
    const kv = new KvStore();
    kv.apply(put('a', '1'));
    kv.apply(txn({ success: [{ op: 'put', key: 'a', value: '2' }] }, { client: 'c', seq: 4 }));
    kv.apply(del('a'));
    kv.apply(compact(3));
    const other = new KvStore();
    restoreSnapshotData(encodeSnapshotData(kv, new Membership([])), other, new Membership([]));
    expect(other.revision).toBe(4);
    expect(other.compactRevision).toBe(3);
    expect(other.read('a', 3)?.value.toString()).toBe('2');
    expect(other.apply(txn({ success: [{ op: 'put', key: 'a', value: '2' }] }, { client: 'c', seq: 4 })).duplicate).toBe(true);
    expect(other.serialize()).toEqual(kv.serialize());
  });

  test("an event's state before is written once, as the state after the event before it on that key", () => {
    // 2,000 puts of 1 KiB over 10 keys: with each value written once the snapshot is about 2 MiB; writing every
    // event's state before as well would double it.
    const kv = new KvStore();
    for (let i = 0; i < 2000; i++) kv.apply(put(`k${i % 10}`, String(i % 10).repeat(1024)));
    const bytes = kv.serialize();
    expect(bytes.length).toBeGreaterThan(2000 * 1024);
    expect(bytes.length).toBeLessThan(2000 * 1024 * 1.1);
    const copy = new KvStore();
    copy.restore(bytes);
    // Put i is revision i + 2: k3 was first written at revision 5.
    expect(copy.read('k3', 4)).toBeUndefined();
    expect(copy.read('k3', 5)?.value.toString()).toBe('3'.repeat(1024));
    expect(copy.serialize()).toEqual(bytes);
  });

  test('a snapshot in format 3, every state written out, still restores', () => {
    // Format 3: format u8 | revision u48 | compactRevision u48 | keys | events | sessions | lease table.
    const w = new ByteWriter();
    w.u8(3);
    w.u48(3);
    w.u48(0);
    const state = (value: string, mod: number, version: number): void => {
      w.bytes(Buffer.from(value));
      for (const n of [2, mod, version, 0]) w.u48(n);
    };
    w.u32(1);
    w.string('k');
    state('v2', 3, 2);
    w.u32(2);
    // Revision 2 created k as v1, revision 3 replaced it with v2.
    w.u8(1);
    w.u48(2);
    w.string('k');
    w.u8(1);
    state('v1', 2, 1);
    w.u8(0);
    w.u8(1);
    w.u48(3);
    w.string('k');
    w.u8(1);
    state('v2', 3, 2);
    w.u8(1);
    state('v1', 2, 1);
    w.u32(0);
    new LeaseTable().serialize(w);
    const kv = new KvStore();
    kv.restore(w.finish());
    expect(meta(kv.read('k'))).toEqual({ value: 'v2', c: 2, m: 3, v: 2 });
    expect(meta(kv.read('k', 2))).toEqual({ value: 'v1', c: 2, m: 2, v: 1 });
  });

  test('a state before that names no earlier event on its key is refused as corrupt', () => {
    const kv = new KvStore();
    kv.apply(put('a', '1'));
    kv.apply(put('a', '2'));
    const bytes = Buffer.from(kv.serialize());
    // The last event's final byte is its state-before flag (2: as before); the event before it is on key "a" too.
    // Rename the last event's key from "a" to "b", which has no earlier event: the flag then names nothing.
    const at = bytes.lastIndexOf(Buffer.from([0, 0, 0, 1, 0x61]), bytes.length - 1);
    const damaged = Buffer.from(bytes);
    damaged[at + 4] = 0x62;
    expect(() => new KvStore().restore(damaged)).toThrow(/event on "b" has a state before flag 2 that names no earlier state/);
    // Flag 2 stands for a state before only: as the state after (the flag right after the key) it is refused too.
    const asAfter = Buffer.from(bytes);
    asAfter[at + 5] = 2;
    expect(() => new KvStore().restore(asAfter)).toThrow(/event on "a" has a state after flag 2 that names no earlier state/);
  });
});

// ## Property tests: the store against a model that copies the whole map at every revision.

type ModelKey = { value: string; c: number; m: number; v: number; l: number };
type Op =
  | { kind: 'put'; key: string; value: string }
  | { kind: 'del'; key: string }
  | { kind: 'txn'; compares: Compare[]; success: TxnOp[]; failure: TxnOp[] }
  | { kind: 'compact'; back: number }
  | { kind: 'leasePut'; key: string; value: string; lease: number }
  | { kind: 'grant'; ttl: number }
  | { kind: 'revoke'; lease: number };

class Model {
  states: Map<string, ModelKey>[] = [new Map(), new Map()]; // index = revision
  compactRev = 0;
  // Lease ID -> TTL; IDs are handed out 1, 2, 3, ... and never again.
  leases = new Map<number, number>();
  nextLease = 1;
  get rev(): number {
    return this.states.length - 1;
  }
  get now(): Map<string, ModelKey> {
    return this.states[this.rev] ?? new Map();
  }
  write(changes: [string, string | null, number?][]): void {
    if (!changes.some(([k, v]) => v !== null || this.now.has(k))) return;
    const next = new Map(this.now);
    const rev = this.rev + 1;
    for (const [k, v, l] of changes) {
      const prev = next.get(k);
      if (v === null) next.delete(k);
      else next.set(k, { value: v, c: prev?.c ?? rev, m: rev, v: (prev?.v ?? 0) + 1, l: l ?? 0 });
    }
    this.states.push(next);
  }
  holds(c: Compare): boolean {
    const kv = this.now.get(c.key);
    let order: number;
    if (c.target === 'value') {
      if (kv === undefined) return false;
      order = Buffer.compare(Buffer.from(kv.value), Buffer.from(String(c.value)));
    } else {
      const actual = kv === undefined ? 0 : { version: kv.v, createRevision: kv.c, modRevision: kv.m, lease: kv.l }[c.target];
      order = Math.sign(actual - Number(c.value));
    }
    return c.op === '=' ? order === 0 : c.op === '!=' ? order !== 0 : c.op === '<' ? order < 0 : order > 0;
  }
}

const keyArb = fc.constantFrom('a', 'b', 'c', 'd/1', 'd/2');
const valueArb = fc.constantFrom('', 'x', 'y', 'zz');
const compareArb: fc.Arbitrary<Compare> = fc.oneof(
  fc.record({ key: keyArb, target: fc.constant('value' as const), op: fc.constantFrom('=', '!=', '<', '>'), value: valueArb }),
  fc.record({ key: keyArb, target: fc.constantFrom('version', 'createRevision', 'modRevision'), op: fc.constantFrom('=', '!=', '<', '>'), value: fc.nat(12) }),
  fc.record({ key: keyArb, target: fc.constant('lease' as const), op: fc.constantFrom('=', '!=', '<', '>'), value: fc.nat(3) }),
) as fc.Arbitrary<Compare>;
// Lease 0 is none; the others may or may not exist when the put is applied.
const leaseArb = fc.constantFrom(0, 0, 1, 2, 3);
const txnOpArb: fc.Arbitrary<TxnOp> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb, lease: leaseArb }),
  fc.record({ op: fc.constant('delete' as const), key: keyArb }),
  fc.record({ op: fc.constant('get' as const), key: keyArb }),
);
// A key is written at most once per branch (the parser refuses the rest).
const branchArb = fc.array(txnOpArb, { maxLength: 4 }).map((ops) => {
  const seen = new Set<string>();
  return ops.filter((o) => o.op === 'get' || (!seen.has(o.key) && (seen.add(o.key), true)));
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('del' as const), key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('txn' as const), compares: fc.array(compareArb, { maxLength: 3 }), success: branchArb, failure: branchArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.nat(6) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('leasePut' as const), key: keyArb, value: valueArb, lease: leaseArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('grant' as const), ttl: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('revoke' as const), lease: leaseArb.filter((l) => l !== 0) }) },
);

function applyBoth(kv: KvStore, model: Model, op: Op): void {
  switch (op.kind) {
    case 'put':
      expect(kv.apply(put(op.key, op.value)).existed).toBe(model.now.has(op.key));
      model.write([[op.key, op.value]]);
      break;
    case 'del':
      expect(kv.apply(del(op.key)).existed).toBe(model.now.has(op.key));
      model.write([[op.key, null]]);
      break;
    case 'txn': {
      const succeeded = op.compares.every((c) => model.holds(c));
      const r = kv.apply(txn({ compares: op.compares, success: op.success, failure: op.failure }));
      const ops = succeeded ? op.success : op.failure;
      // A put naming a lease that does not exist refuses the whole transaction.
      if (ops.some((o) => o.op === 'put' && (o.lease ?? 0) !== 0 && !model.leases.has(o.lease ?? 0))) {
        expect(r.error?.code).toBe('LeaseNotFound');
        expect(r.revision).toBe(model.rev);
        break;
      }
      expect(r.txn?.succeeded).toBe(succeeded);
      const gets = ops.filter((o) => o.op === 'get').map((o) => model.now.get(o.key)?.value ?? null);
      model.write(ops.flatMap((o): [string, string | null, number?][] => (o.op === 'put' ? [[o.key, o.value, o.lease]] : o.op === 'delete' ? [[o.key, null]] : [])));
      // A get sees the state after the writes before it; with each key written once, only a get after a write differs.
      const results = r.txn?.results ?? [];
      const getResults = results.filter((x) => x.op === 'get').map((x) => (x.op === 'get' && x.kv !== null ? x.kv.value : null));
      if (!ops.some((o) => o.op !== 'get')) expect(getResults).toEqual(gets);
      break;
    }
    case 'compact': {
      const target = Math.max(1, model.rev - op.back);
      const r = kv.apply(compact(target));
      if (target > model.compactRev) {
        expect(r.error).toBeUndefined();
        model.compactRev = target;
      } else {
        expect(r.error?.code).toBe('Compacted');
      }
      break;
    }
    case 'leasePut':
      applyBoth(kv, model, { kind: 'txn', compares: [], success: [{ op: 'put', key: op.key, value: op.value, lease: op.lease }], failure: [] });
      break;
    case 'grant': {
      const r = kv.apply(cmd(CommandOp.LeaseGrant, '', encodeLeaseValue({ id: 0, ttl: op.ttl })));
      expect(r.lease).toEqual({ id: model.nextLease, ttl: op.ttl });
      model.leases.set(model.nextLease++, op.ttl);
      break;
    }
    case 'revoke': {
      const r = kv.apply(cmd(CommandOp.LeaseRevoke, '', encodeLeaseValue({ id: op.lease })));
      if (!model.leases.has(op.lease)) {
        expect(r.error?.code).toBe('LeaseNotFound');
        break;
      }
      model.write([...model.now].filter(([, k]) => k.l === op.lease).map(([key]): [string, null] => [key, null]));
      model.leases.delete(op.lease);
      expect(r).toEqual({ existed: true, revision: model.rev });
      break;
    }
  }
}

function expectSameAsModel(kv: KvStore, model: Model): void {
  expect(kv.revision).toBe(model.rev);
  expect(kv.compactRevision).toBe(model.compactRev);
  for (let rev = Math.max(1, model.compactRev); rev <= model.rev; rev++) {
    const want = [...(model.states[rev] ?? new Map<string, ModelKey>())].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const got = kv.list('', 100, rev).map((e) => [e.key, { value: e.value.toString(), c: e.createRevision, m: e.modRevision, v: e.version, l: e.lease }]);
    expect(got).toEqual(want);
  }
  const leases = kv.leases().map((l) => ({ id: l.id, ttl: l.ttl, keys: [...l.keys].sort() }));
  const wantLeases = [...model.leases].map(([id, ttl]) => ({ id, ttl, keys: [...model.now].filter(([, k]) => k.l === id).map(([key]) => key).sort() }));
  expect(leases).toEqual(wantLeases);
  if (model.compactRev > 1) expect(() => kv.list('', 100, model.compactRev - 1)).toThrow(/compacted/);
}

describe('properties', () => {
  test('any sequence of operations leaves the store equal to the model at every retained revision', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const kv = new KvStore();
        const model = new Model();
        for (const op of ops) applyBoth(kv, model, op);
        expectSameAsModel(kv, model);
      }),
      { numRuns: 200 },
    );
  });

  test('snapshot then restore equals the original, and both go on to apply the same operations identically', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 30 }), fc.array(opArb, { maxLength: 10 }), (before, after) => {
        const kv = new KvStore();
        const model = new Model();
        for (const op of before) applyBoth(kv, model, op);
        const copy = new KvStore();
        copy.restore(kv.serialize());
        expect(copy.serialize()).toEqual(kv.serialize());
        expectSameAsModel(copy, model);
        const model2 = new Model();
        model2.states = model.states.map((s) => new Map(s));
        model2.compactRev = model.compactRev;
        model2.leases = new Map(model.leases);
        model2.nextLease = model.nextLease;
        for (const op of after) {
          applyBoth(kv, model, op);
          applyBoth(copy, model2, op);
        }
        expect(copy.serialize()).toEqual(kv.serialize());
      }),
      { numRuns: 100 },
    );
  });
});
