// Leases: the replicated table in the state machine (grant, attach, detach, revoke, snapshots) and the leader's
// lessor (deadlines, expiry proposed only by a leader, fresh TTLs on promotion, pauses), on an injected clock.

import { Command, CommandOp, SessionId, encodeLeaseValue, encodeTxnValue } from '../../kvstore/command';
import { ByteWriter } from '../../kvstore/bytes';
import { KvError } from '../../kvstore/errors';
import { KvStore } from '../../kvstore/kv';
import { Lessor, LessorHost, minLeaseTtlSeconds } from '../../kvstore/lessor';
import { Txn } from '../../kvstore/txn';

const cmd = (op: CommandOp, key: string, value: Uint8Array = new Uint8Array(0)): Command => ({ op, epoch: 1, seq: 1, key, value });
const put = (key: string, value: string): Command => cmd(CommandOp.Put, key, Buffer.from(value));
const del = (key: string): Command => cmd(CommandOp.Delete, key);
const txn = (t: Partial<Txn>, session?: SessionId): Command => cmd(CommandOp.Txn, '', encodeTxnValue({ compares: [], success: [], failure: [], ...t }, session));
const leasePut = (key: string, value: string, lease: number): Command => txn({ success: [{ op: 'put', key, value, lease }] });
const grant = (ttl: number, id = 0, session?: SessionId): Command => cmd(CommandOp.LeaseGrant, '', encodeLeaseValue({ id, ttl, ...(session === undefined ? {} : { session }) }));
const revoke = (id: number, expiredInTerm?: number): Command =>
  cmd(CommandOp.LeaseRevoke, '', encodeLeaseValue({ id, ...(expiredInTerm === undefined ? {} : { expiredInTerm }) }));

function granted(kv: KvStore, ttl: number, id = 0): number {
  const r = kv.apply(grant(ttl, id));
  expect(r.error).toBeUndefined();
  return r.lease?.id ?? -1;
}

describe('the lease table in the state machine', () => {
  test('grant chooses IDs deterministically, takes no revision, and refuses a taken ID with LeaseExists', () => {
    const kv = new KvStore();
    expect(kv.apply(grant(10))).toEqual({ existed: false, revision: 1, lease: { id: 1, ttl: 10 } });
    expect(kv.apply(grant(20, 7)).lease).toEqual({ id: 7, ttl: 20 });
    expect(kv.apply(grant(5)).lease?.id).toBe(2);
    const taken = kv.apply(grant(5, 7));
    expect(taken.error?.code).toBe('LeaseExists');
    expect(kv.lease(7)?.ttl).toBe(20);
    expect(kv.revision).toBe(1);
    expect(kv.leases().map((l) => l.id)).toEqual([1, 2, 7]);
  });

  test('an ID the table chose is not chosen again after its lease is revoked', () => {
    const kv = new KvStore();
    const first = granted(kv, 10);
    kv.apply(revoke(first));
    expect(granted(kv, 10)).not.toBe(first);
  });

  test('a put with a lease attaches the key; a put without one detaches it; a delete detaches it', () => {
    const kv = new KvStore();
    const a = granted(kv, 10);
    const b = granted(kv, 10);
    expect(kv.apply(leasePut('k', 'v1', a)).error).toBeUndefined();
    expect(kv.read('k')?.lease).toBe(a);
    expect([...(kv.lease(a)?.keys ?? [])]).toEqual(['k']);
    // Moving to another lease.
    kv.apply(leasePut('k', 'v2', b));
    expect(kv.lease(a)?.keys.size).toBe(0);
    expect([...(kv.lease(b)?.keys ?? [])]).toEqual(['k']);
    // A plain put detaches.
    kv.apply(put('k', 'v3'));
    expect(kv.read('k')?.lease).toBe(0);
    expect(kv.lease(b)?.keys.size).toBe(0);
    kv.apply(leasePut('k', 'v4', a));
    kv.apply(del('k'));
    expect(kv.lease(a)?.keys.size).toBe(0);
    // The history keeps each state's lease.
    expect(kv.read('k', 2)?.lease).toBe(a);
    expect(kv.read('k', 3)?.lease).toBe(b);
    expect(kv.read('k', 4)?.lease).toBe(0);
    expect(kv.read('k', 5)?.lease).toBe(a);
  });

  test('a put naming a lease that does not exist is refused with LeaseNotFound and changes nothing', () => {
    const kv = new KvStore();
    kv.apply(put('k', 'before'));
    const before = kv.serialize();
    const r = kv.apply(txn({ success: [{ op: 'put', key: 'other', value: 'x' }, { op: 'put', key: 'k', value: 'after', lease: 99 }] }));
    expect(r.error?.code).toBe('LeaseNotFound');
    expect(new KvError(r.error?.code ?? 'Internal', '').status).toBe(404);
    expect(kv.serialize()).toEqual(before);
    expect(kv.get('other')).toBeUndefined();
  });

  test('only the branch that runs is checked for leases', () => {
    const kv = new KvStore();
    const r = kv.apply(txn({ compares: [{ key: 'missing', target: 'version', op: '=', value: 0 }], success: [{ op: 'put', key: 'k', value: 'x' }], failure: [{ op: 'put', key: 'k', value: 'y', lease: 5 }] }));
    expect(r.error).toBeUndefined();
    expect(r.txn?.succeeded).toBe(true);
  });

  test('revoke deletes every attached key in one revision, with one event per key in key order, then drops the lease', () => {
    const kv = new KvStore();
    const id = granted(kv, 10);
    kv.apply(leasePut('z', '1', id)); // 2
    kv.apply(leasePut('a', '2', id)); // 3
    kv.apply(put('plain', '3')); // 4
    const r = kv.apply(revoke(id));
    expect(r).toEqual({ existed: true, revision: 5 });
    expect(kv.eventsFrom(5, 100).map((e) => [e.type, e.key, e.revision, e.prev?.lease])).toEqual([
      ['delete', 'a', 5, id],
      ['delete', 'z', 5, id],
    ]);
    expect(kv.get('a')).toBeUndefined();
    expect(kv.get('plain')?.toString()).toBe('3');
    expect(kv.lease(id)).toBeUndefined();
    // A second revoke, and a put naming the revoked lease, find nothing.
    expect(kv.apply(revoke(id)).error?.code).toBe('LeaseNotFound');
    expect(kv.apply(leasePut('a', 'again', id)).error?.code).toBe('LeaseNotFound');
    expect(kv.revision).toBe(5);
  });

  test("a transaction can compare a key's lease (a missing key has lease 0)", () => {
    const kv = new KvStore();
    const mine = granted(kv, 10);
    kv.apply(leasePut('lock', 'me', mine));
    const held = (lease: number) => txn({ compares: [{ key: 'lock', target: 'lease', op: '=', value: lease }], success: [{ op: 'put', key: 'lock', value: 'refreshed', lease }] });
    expect(kv.apply(held(mine)).txn?.succeeded).toBe(true);
    expect(kv.apply(held(mine + 1)).txn?.succeeded).toBe(false);
    expect(kv.apply(txn({ compares: [{ key: 'missing', target: 'lease', op: '=', value: 0 }] })).txn?.succeeded).toBe(true);
  });

  test('revoking a lease without keys takes no revision', () => {
    const kv = new KvStore();
    const id = granted(kv, 10);
    expect(kv.apply(revoke(id))).toEqual({ existed: true, revision: 1 });
    expect(kv.lease(id)).toBeUndefined();
  });

  test("a revoke decided by a leader counts only from an entry of that leader's term", () => {
    const kv = new KvStore();
    const id = granted(kv, 10);
    kv.apply(leasePut('k', 'v', id));
    const stale = kv.apply(revoke(id, 3), 4);
    expect(stale.error?.code).toBe('NoLeader');
    expect(kv.get('k')?.toString()).toBe('v');
    expect(kv.apply(revoke(id, 4), 4).error).toBeUndefined();
    expect(kv.get('k')).toBeUndefined();
  });

  test('a grant in a session is applied once; its repeat answers the same lease', () => {
    const kv = new KvStore();
    const session = { client: 'c', seq: 1 };
    const first = kv.apply(grant(10, 0, session));
    const again = kv.apply(grant(10, 0, session));
    expect(again).toEqual({ ...first, duplicate: true });
    expect(kv.leases()).toHaveLength(1);
  });

  test('snapshot then restore keeps leases, their keys and the next ID; the copy goes on identically', () => {
    const kv = new KvStore();
    const a = granted(kv, 10);
    const b = granted(kv, 30, 1000);
    kv.apply(leasePut('x', '1', a));
    kv.apply(leasePut('y', '2', b));
    kv.apply(leasePut('x', '3', b));
    const copy = new KvStore();
    copy.restore(kv.serialize());
    expect(copy.serialize()).toEqual(kv.serialize());
    expect([...(copy.lease(b)?.keys ?? [])].sort()).toEqual(['x', 'y']);
    expect(copy.lease(a)?.keys.size).toBe(0);
    expect(copy.read('x', 3)?.lease).toBe(a);
    for (const store of [kv, copy]) {
      expect(store.apply(grant(5)).lease?.id).toBe(2);
      expect(store.apply(revoke(b)).revision).toBe(5);
    }
    expect(copy.serialize()).toEqual(kv.serialize());
  });

  test('a snapshot in the format before leases (2) still restores, every key without a lease', () => {
    // Format 2: format u8 | revision u48 | compactRevision u48 | keys | events | sessions.
    const w = new ByteWriter();
    w.u8(2);
    w.u48(3);
    w.u48(0);
    w.u32(1);
    w.string('k');
    w.bytes(Buffer.from('v2'));
    w.u48(2);
    w.u48(3);
    w.u48(2);
    w.u32(1);
    w.u8(1);
    w.u48(3);
    w.string('k');
    for (const [value, mod, version] of [['v2', 3, 2], ['v1', 2, 1]] as const) {
      w.u8(1);
      w.bytes(Buffer.from(value));
      w.u48(2);
      w.u48(mod);
      w.u48(version);
    }
    w.u32(0);
    const kv = new KvStore();
    kv.restore(w.finish());
    expect(kv.read('k')).toEqual({ value: Buffer.from('v2'), createRevision: 2, modRevision: 3, version: 2, lease: 0 });
    expect(kv.read('k', 2)?.value.toString()).toBe('v1');
    expect(kv.leases()).toEqual([]);
    expect(kv.apply(grant(10)).lease?.id).toBe(1);
  });

  test('a snapshot whose key names a lease missing from the table is refused as corrupt', () => {
    const kv = new KvStore();
    const id = granted(kv, 10);
    kv.apply(leasePut('k', 'v', id));
    const bytes = kv.serialize();
    // The lease table ends the state: next ID (u48), count (u32), then (id, ttl) pairs. Claim zero leases.
    const damaged = Buffer.concat([bytes.subarray(0, bytes.length - 12 - 4), Buffer.from([0, 0, 0, 0])]);
    expect(() => new KvStore().restore(damaged)).toThrow(/attached to lease 1, which does not exist/);
  });

  test('bad lease commands are refused and change nothing', () => {
    const kv = new KvStore();
    expect(kv.apply(cmd(CommandOp.LeaseGrant, '', Buffer.from('{"ttl":0}'))).error?.code).toBe('BadRequest');
    expect(kv.apply(cmd(CommandOp.LeaseGrant, '', Buffer.from('not json'))).error?.code).toBe('BadRequest');
    expect(kv.apply(cmd(CommandOp.LeaseRevoke, '', Buffer.from('{"id":0}'))).error?.code).toBe('BadRequest');
    expect(kv.leases()).toEqual([]);
  });
});

// A member's view for the lessor, with a clock the test moves.
class FakeMember implements LessorHost {
  term = 0;
  clock = 0;
  readonly kv = new KvStore();
  readonly proposals: { id: number; term: number }[] = [];
  failProposals = false;

  leaderTerm(): number {
    return this.term;
  }
  lease(id: number): { id: number; ttl: number } | undefined {
    return this.kv.lease(id);
  }
  leases(): { id: number; ttl: number }[] {
    return this.kv.leases();
  }
  proposeExpiry(id: number, term: number): Promise<unknown> {
    this.proposals.push({ id, term });
    if (this.failProposals) return Promise.reject(new KvError('NoLeader', 'dropped'));
    this.kv.apply(revoke(id, term), term);
    return Promise.resolve();
  }
}

const interval = 100;

function lessorOn(member: FakeMember, minTtlSeconds = 2): Lessor {
  return new Lessor(member, { minTtlSeconds, checkIntervalMs: interval, retryMs: 1000, maxRevokesPerCheck: 2, now: () => member.clock });
}

// The clock moves in check intervals, with a check at each, as the timer would run them.
function run(member: FakeMember, lessor: Lessor, ms: number): void {
  for (let t = 0; t < ms; t += interval) {
    member.clock += interval;
    lessor.check();
  }
}

describe('the lessor', () => {
  test('the minimum TTL is one and a half election timeouts, rounded up to seconds', () => {
    expect(minLeaseTtlSeconds(100, 10)).toBe(2);
    expect(minLeaseTtlSeconds(50, 10)).toBe(1);
    expect(minLeaseTtlSeconds(100, 30)).toBe(5);
    const lessor = lessorOn(new FakeMember(), 2);
    expect(lessor.effectiveTtl(1)).toBe(2);
    expect(lessor.effectiveTtl(60)).toBe(60);
  });

  test('a follower never proposes a revoke, however long it waits', () => {
    const m = new FakeMember();
    const id = granted(m.kv, 2);
    const lessor = lessorOn(m);
    run(m, lessor, 60_000);
    expect(m.proposals).toEqual([]);
    expect(m.kv.lease(id)).toBeDefined();
    expect(() => lessor.keepAlive(id)).toThrow(/not the leader/);
  });

  test('the leader proposes the revoke once the TTL has passed, not before, naming its term', () => {
    const m = new FakeMember();
    m.term = 3;
    const lessor = lessorOn(m);
    lessor.check();
    const id = granted(m.kv, 5);
    m.kv.apply(leasePut('k', 'v', id));
    run(m, lessor, 4900);
    expect(m.proposals).toEqual([]);
    expect(m.kv.get('k')?.toString()).toBe('v');
    run(m, lessor, 300);
    expect(m.proposals).toEqual([{ id, term: 3 }]);
    expect(m.kv.get('k')).toBeUndefined();
    expect(m.kv.lease(id)).toBeUndefined();
  });

  test('keepalives push the deadline back by the TTL; an expired lease answers LeaseNotFound', () => {
    const m = new FakeMember();
    m.term = 1;
    const lessor = lessorOn(m);
    const id = granted(m.kv, 3);
    lessor.check();
    for (let i = 0; i < 10; i++) {
      run(m, lessor, 2000);
      expect(lessor.keepAlive(id)).toBe(3);
    }
    expect(m.proposals).toEqual([]);
    expect(lessor.timeToLive(id).remainingMs).toBe(3000);
    m.failProposals = true;
    run(m, lessor, 3000);
    expect(m.proposals).toHaveLength(1);
    expect(() => lessor.keepAlive(id)).toThrow(/has expired/);
    expect(() => lessor.keepAlive(12345)).toThrow(/not found/);
  });

  test('a failed revoke is proposed again after the retry interval, and revokes are rate-limited per check', () => {
    const m = new FakeMember();
    m.term = 1;
    m.failProposals = true;
    const lessor = lessorOn(m);
    for (let i = 0; i < 5; i++) granted(m.kv, 1);
    lessor.check();
    run(m, lessor, 2200);
    // Two per check: the five expired leases take three checks.
    expect(m.proposals.map((p) => p.id)).toEqual([1, 2, 3, 4, 5]);
    run(m, lessor, 500);
    expect(m.proposals).toHaveLength(5);
    run(m, lessor, 700);
    expect(m.proposals.length).toBeGreaterThan(5);
    m.failProposals = false;
    run(m, lessor, 2000);
    expect(m.kv.leases()).toEqual([]);
  });

  test('a new leader gives every lease a fresh full TTL; a member that stops leading stops expiring', () => {
    const m = new FakeMember();
    const id = granted(m.kv, 5);
    m.kv.apply(leasePut('k', 'v', id));
    m.term = 2;
    const lessor = lessorOn(m);
    run(m, lessor, 4000);
    // Deposed before the deadline: no deadlines, no proposals.
    m.term = 0;
    run(m, lessor, 10_000);
    expect(m.proposals).toEqual([]);
    // Elected again in a later term: the TTL counts from now.
    m.term = 5;
    run(m, lessor, 4900);
    expect(m.proposals).toEqual([]);
    run(m, lessor, 200);
    expect(m.proposals).toEqual([{ id, term: 5 }]);
  });

  test('time the process did not run moves every deadline on', () => {
    const m = new FakeMember();
    m.term = 1;
    const lessor = lessorOn(m);
    const id = granted(m.kv, 5);
    lessor.check();
    run(m, lessor, 3000);
    // Paused for 20 s: the next check comes late.
    m.clock += 20_000;
    lessor.check();
    expect(m.proposals).toEqual([]);
    expect(lessor.timeToLive(id).remainingMs).toBeGreaterThan(1500);
    run(m, lessor, 2200);
    expect(m.proposals).toEqual([{ id, term: 1 }]);
  });

  test('a pause does not bring back a lease that had expired before it: its revoke may be in the log', () => {
    const m = new FakeMember();
    m.term = 1;
    m.failProposals = true;
    const lessor = lessorOn(m);
    const id = granted(m.kv, 2);
    lessor.check();
    run(m, lessor, 2000);
    expect(m.proposals).toEqual([{ id, term: 1 }]);
    m.clock += 5000;
    lessor.check();
    expect(() => lessor.keepAlive(id)).toThrow(/has expired/);
  });

  test('a lease below the minimum TTL lives the minimum', () => {
    const m = new FakeMember();
    m.term = 1;
    const lessor = lessorOn(m, 4);
    const id = granted(m.kv, 1);
    lessor.check();
    run(m, lessor, 3900);
    expect(m.proposals).toEqual([]);
    expect(lessor.keepAlive(id)).toBe(4);
  });
});
