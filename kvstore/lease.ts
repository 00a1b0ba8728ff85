// # Leases in the state machine
//
// A lease is etcd's way of tying keys to the life of a client: the client is granted a lease with a time to live
// (TTL), attaches keys to it by naming it in puts, and keeps it alive; when it stops doing so (it crashed, it was
// cut off), the lease expires and every key attached to it is deleted. Locks and leader elections are built on
// this: the holder's key goes away by itself when the holder does.
//
// This module is the replicated half: which leases exist, each one's granted TTL and the keys attached to it. It
// changes only as committed commands are applied (kvstore/kv.ts), so every member holds the same table, and it is
// in the snapshot. What it deliberately does not hold is time. When a lease expires is decided by one clock, the
// leader's, in kvstore/lessor.ts, which proposes a revoke through the log like any other write; a follower never
// expires anything by its own clock, and applying the log never reads a clock at all.

import { ByteReader, ByteWriter } from './bytes';
import { KvError } from './errors';

/** A lease as the state machine holds it. */
export interface Lease {
  readonly id: number;
  /** The TTL it was granted, in seconds (already raised to the cluster's minimum by whoever proposed it). */
  readonly ttl: number;
  /** The keys attached to it now. */
  readonly keys: Set<string>;
}

/** Lease IDs are positive integers below 2^48 (they are stored as u48); 0 means "no lease". */
export const maxLeaseId = 2 ** 48 - 1;
/** The longest TTL a lease may be granted, in seconds: etcd's limit. */
export const maxLeaseTtl = 9_000_000_000;

/** Checks a lease ID (a number, or decimal text); 0 is allowed only where it means "none" or "choose one". */
export function parseLeaseId(value: unknown, what: string, zeroAllowed: boolean): number {
  const id = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < (zeroAllowed ? 0 : 1) || id > maxLeaseId) {
    throw new KvError('BadRequest', `${what} must be an integer from ${zeroAllowed ? 0 : 1} to ${maxLeaseId}, not ${JSON.stringify(value)}`);
  }
  return id;
}

/** Checks a TTL in seconds. */
export function parseLeaseTtl(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > maxLeaseTtl) {
    throw new KvError('BadRequest', `Field ttl must be a whole number of seconds from 1 to ${maxLeaseTtl}, not ${JSON.stringify(value)}`);
  }
  return value;
}

/** Every lease that exists, by ID. */
export class LeaseTable {
  private leases = new Map<number, Lease>();
  // The next ID to try when a grant does not name one. It only moves forward, so an ID the table chose is not
  // handed out again after its lease is revoked: an old holder's ID never names somebody else's lease.
  private nextId = 1;

  get size(): number {
    return this.leases.size;
  }

  get(id: number): Lease | undefined {
    return this.leases.get(id);
  }

  has(id: number): boolean {
    return this.leases.has(id);
  }

  /** Every lease, in ID order. */
  list(): Lease[] {
    return [...this.leases.values()].sort((a, b) => a.id - b.id);
  }

  /**
   * Grants a lease of `ttl` seconds under `id`, or under the next free ID the table chooses when `id` is 0.
   * Throws LeaseExists when `id` is taken. Deterministic: the choice depends only on the table.
   */
  grant(ttl: number, id: number): Lease {
    if (id !== 0 && this.leases.has(id)) throw new KvError('LeaseExists', `Lease ${id} already exists`);
    let chosen = id;
    if (chosen === 0) {
      while (this.leases.has(this.nextId)) this.nextId++;
      if (this.nextId > maxLeaseId) throw new KvError('LeaseExists', 'Every lease ID is taken');
      chosen = this.nextId++;
    }
    const lease: Lease = { id: chosen, ttl, keys: new Set() };
    this.leases.set(chosen, lease);
    return lease;
  }

  /** Drops a lease from the table; its keys must have been deleted by the caller. */
  remove(id: number): void {
    this.leases.delete(id);
  }

  /** Records that `key` is attached to lease `id` (which exists). */
  attach(key: string, id: number): void {
    const lease = this.leases.get(id);
    if (lease === undefined) throw new KvError('Corrupt', `Key "${key}" is attached to lease ${id}, which does not exist`);
    lease.keys.add(key);
  }

  /** Records that `key` is no longer attached to lease `id`. */
  detach(key: string, id: number): void {
    this.leases.get(id)?.keys.delete(key);
  }

  // ## Snapshots
  //
  //   nextId u48 | leaseCount u32 | (id u48 | ttl u48) per lease
  //
  // The attached keys are not written: each key's state names its lease, and `restore`'s caller re-attaches them.

  serialize(w: ByteWriter): void {
    w.u48(this.nextId);
    w.u32(this.leases.size);
    for (const lease of this.list()) {
      w.u48(lease.id);
      w.u48(lease.ttl);
    }
  }

  /** A table read from a snapshot, with no keys attached yet. */
  static restore(r: ByteReader): LeaseTable {
    const table = new LeaseTable();
    table.nextId = r.u48('next lease ID');
    for (let n = r.u32('lease count'); n > 0; n--) {
      const id = r.u48('lease ID');
      const ttl = r.u48('lease TTL');
      if (id === 0 || table.leases.has(id)) throw new KvError('Corrupt', `Snapshot lease table holds lease ${id} twice or as 0`);
      table.leases.set(id, { id, ttl, keys: new Set() });
    }
    return table;
  }
}
