// # The key-value state machine
//
// The replicated state machine of §2: a map from keys to values that changes only by applying committed commands
// in log order. It knows nothing of Raft; the Ready loop feeds it committed entries and asks it for its bytes when
// the log is compacted into a snapshot (§7).
//
// ## Revisions
//
// As in etcd, the store has one revision, a counter that every change of the map moves on by one: a put, a delete
// of a key that exists, or a transaction that wrote anything (however many keys it wrote). A fresh store is at
// revision 1. Each key carries
// - `createRevision`: the revision that created it (since it last did not exist),
// - `modRevision`: the revision of its last change,
// - `version`: how many times it was written since it was created (1 after the put that creates it);
// and a delete forgets all three, so a key put again starts over.
//
// Every change is also an event in a history, so a read can ask for the map as it was at a past revision and a
// watcher can replay what happened since a revision it saw. An event keeps the key's state before it (`prev`):
// undoing the events after revision R, newest first, turns the current map into the map at R. Compaction to C
// forgets the events below C: reads at C and later still work, earlier ones answer `Compacted`. The store compacts
// itself once the history holds twice `historyRetention` revisions, down to the last `historyRetention`: a rule of
// the applied log alone, so every member forgets the same history at the same point.
//
// ## Sessions
//
// A client that names itself (client id, sequence number) gets each write applied once however often it retries
// (thesis §6.3): the store remembers, per client, the last sequence number it applied and the answer it gave, and
// answers a repeat with that answer instead of applying it again. A session expires when `sessionExpiryRevisions`
// revisions pass without it being used, or when it is the least recently used of more than `maxSessions`: again
// rules of the log, never of a clock.
//
// ## Leases
//
// A key may be attached to a lease (kvstore/lease.ts): its state names the lease (`lease`, 0 for none, as etcd's
// KeyValue). A put naming a lease attaches the key, a put without one detaches it, a delete detaches it, and a put
// naming a lease that does not exist is refused with LeaseNotFound and changes nothing. Revoking a lease deletes
// all of its keys in one revision, as one transaction would, so a watcher sees them go together. Granting one
// changes no key and takes no revision. Expiry is not the store's business: the leader's lessor
// (kvstore/lessor.ts) proposes the revoke, and the store only checks, for such a revoke, that the entry carrying
// it was appended in the term of the leader that decided it (see `applyLeaseRevoke`).

import { Command, CommandOp, SessionId, decodeCompactValue, decodeLeaseGrantValue, decodeLeaseRevokeValue, decodeTxnValue } from './command';
import { ByteReader, ByteWriter, ownedCopy, ownedUtf8 } from './bytes';
import { KvError, KvErrorCode } from './errors';
import { Lease, LeaseTable } from './lease';
import { KeyValueJSON, Txn, TxnOpResult, TxnResult, compareHolds } from './txn';

/** A key's value and its revisions. Stored objects are never changed in place: a write makes a new one. */
export interface KeyMeta {
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  /** The lease the key is attached to; 0 for none. */
  lease: number;
}

/** One key and its value, as listings return them. */
export interface KeyValue extends KeyMeta {
  key: string;
}

/** One change of one key, at one revision (a transaction's changes share its revision). */
export interface KvEvent {
  type: 'put' | 'delete';
  revision: number;
  key: string;
  /** The key's state after a put; undefined after a delete. */
  kv: KeyMeta | undefined;
  /** The key's state before the change; undefined if it did not exist. */
  prev: KeyMeta | undefined;
}

/** The outcome of applying one command. */
export interface ApplyResult {
  /** Whether the key existed before the command (put, delete). */
  existed: boolean;
  /** The store's revision once the command was applied. */
  revision: number;
  /** A transaction's outcome. */
  txn?: TxnResult;
  /** The command was refused by the state machine; it changed nothing. */
  error?: { code: KvErrorCode; message: string };
  /** A session's repeat: this is the answer its first application gave, and nothing was applied now. */
  duplicate?: boolean;
  /** The lease a LeaseGrant granted. */
  lease?: { id: number; ttl: number };
}

/** Rules of the state machine that every member must share (they decide what the applied log means). */
export interface KvStoreOptions {
  historyRetention?: number;
  sessionExpiryRevisions?: number;
  maxSessions?: number;
}

interface SessionRecord {
  seq: number;
  /** The revision when the session was last used. */
  usedAt: number;
  result: ApplyResult;
}

/** The snapshot layout of the state: see `serialize`. Formats 2 (before leases) and 3 are still read. */
const stateFormat = 4;
const stateFormatWithoutRepeats = 3;
const stateFormatWithoutLeases = 2;

// The flag before an optional state in a snapshot's event: none, the state itself, or (format 4 on, for the state
// before an event) the state after the previous event on the same key, which is then not written twice.
const stateAbsent = 0;
const statePresent = 1;
const stateAsBefore = 2;

/** The map every node holds an identical copy of, once it has applied the same prefix of the log. */
export class KvStore {
  private data = new Map<string, KeyMeta>();
  // Invariant: events are in revision order, every one has revision >= compactRevision, and undoing (newest first)
  // those above R turns `data` into the map at revision R, for every R from compactRevision to `revision`.
  private events: KvEvent[] = [];
  private eventsStart = 0;
  private rev = 1;
  private compactRev = 0;
  // In least-recently-used order (a use moves a session to the end).
  private sessions = new Map<string, SessionRecord>();
  // Invariant: a key's state names lease L (L != 0) exactly when L exists and its key set holds the key.
  private leaseTable = new LeaseTable();
  private readonly listeners = new Set<() => void>();
  readonly historyRetention: number;
  readonly sessionExpiryRevisions: number;
  readonly maxSessions: number;

  constructor(opts: KvStoreOptions = {}) {
    this.historyRetention = opts.historyRetention ?? 10_000;
    this.sessionExpiryRevisions = opts.sessionExpiryRevisions ?? 100_000;
    this.maxSessions = opts.maxSessions ?? 10_000;
  }

  /** The revision of the last change. */
  get revision(): number {
    return this.rev;
  }

  /** The oldest revision reads and watches can still ask for. */
  get compactRevision(): number {
    return this.compactRev;
  }

  get size(): number {
    return this.data.size;
  }

  /** Calls `fn` after every change of the revision (and after a restore); returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // ## Applying commands

  /**
   * Applies one committed command, carried by an entry of `term`. Deterministic: the result depends only on the
   * store, the command and the term.
   */
  apply(cmd: Command, term = 0): ApplyResult {
    const before = this.rev;
    const result = this.applyOne(cmd, term);
    if (this.rev !== before) {
      this.maybeAutoCompact();
      for (const fn of this.listeners) fn();
    }
    return result;
  }

  private applyOne(cmd: Command, term: number): ApplyResult {
    switch (cmd.op) {
      case CommandOp.Put: {
        const existed = this.data.has(cmd.key);
        this.rev++;
        this.put(cmd.key, ownedCopy(cmd.value), 0);
        return { existed, revision: this.rev };
      }
      case CommandOp.Delete: {
        const existed = this.data.has(cmd.key);
        if (existed) {
          this.rev++;
          this.del(cmd.key);
        }
        return { existed, revision: this.rev };
      }
      case CommandOp.Txn: {
        const decoded = decodeTxnValue(cmd.value);
        if (decoded instanceof KvError) return this.refuse(decoded);
        return decoded.session === undefined ? this.txn(decoded.txn) : this.inSession(decoded.session, () => this.txn(decoded.txn));
      }
      case CommandOp.Compact: {
        const revision = decodeCompactValue(cmd.value);
        if (revision instanceof KvError) return this.refuse(revision);
        try {
          this.compact(revision);
        } catch (err) {
          if (err instanceof KvError) return this.refuse(err);
          throw err;
        }
        return { existed: false, revision: this.rev };
      }
      case CommandOp.LeaseGrant: {
        const grant = decodeLeaseGrantValue(cmd.value);
        if (grant instanceof KvError) return this.refuse(grant);
        const run = (): ApplyResult => {
          try {
            const lease = this.leaseTable.grant(grant.ttl, grant.id);
            return { existed: false, revision: this.rev, lease: { id: lease.id, ttl: lease.ttl } };
          } catch (err) {
            if (err instanceof KvError) return this.refuse(err);
            throw err;
          }
        };
        return grant.session === undefined ? run() : this.inSession(grant.session, run);
      }
      case CommandOp.LeaseRevoke: {
        const revoke = decodeLeaseRevokeValue(cmd.value);
        if (revoke instanceof KvError) return this.refuse(revoke);
        const run = (): ApplyResult => this.applyLeaseRevoke(revoke.id, revoke.expiredInTerm, term);
        return revoke.session === undefined ? run() : this.inSession(revoke.session, run);
      }
      default:
        throw new KvError('Corrupt', `Command ${CommandOp[cmd.op]} does not change the key-value map`);
    }
  }

  private refuse(err: KvError): ApplyResult {
    return { existed: false, revision: this.rev, error: { code: err.code, message: err.message } };
  }

  // Writes at the current revision (the caller moved it on, and checked that `lease`, unless 0, exists).
  private put(key: string, value: Buffer, lease: number): void {
    const prev = this.data.get(key);
    const kv: KeyMeta = {
      value,
      createRevision: prev === undefined ? this.rev : prev.createRevision,
      modRevision: this.rev,
      version: prev === undefined ? 1 : prev.version + 1,
      lease,
    };
    if (prev !== undefined && prev.lease !== 0) this.leaseTable.detach(key, prev.lease);
    if (lease !== 0) this.leaseTable.attach(key, lease);
    this.data.set(key, kv);
    this.events.push({ type: 'put', revision: this.rev, key, kv, prev });
  }

  private del(key: string): void {
    const prev = this.data.get(key);
    if (prev === undefined) return;
    if (prev.lease !== 0) this.leaseTable.detach(key, prev.lease);
    this.data.delete(key);
    this.events.push({ type: 'delete', revision: this.rev, key, kv: undefined, prev });
  }

  // A revoke deletes the lease's keys in one revision, in byte order of the keys (so every member, whatever order
  // it attached them in, records the same events), then forgets the lease.
  //
  // A revoke the lessor proposed because the lease expired names the term of the leader that decided so. It takes
  // effect only from an entry of that same term, that is, one that leader appended itself. A leader deposed after
  // deciding (paused, or cut off) may still have its proposal forwarded to the next leader, who appends it in a
  // later term; by then the next leader has given the lease a fresh TTL (etcd's rule), and the stale decision is
  // refused here, deterministically, on every member.
  private applyLeaseRevoke(id: number, expiredInTerm: number | undefined, term: number): ApplyResult {
    const lease = this.leaseTable.get(id);
    if (lease === undefined) return this.refuse(new KvError('LeaseNotFound', `Lease ${id} not found`));
    if (expiredInTerm !== undefined && expiredInTerm !== term) {
      return this.refuse(new KvError('NoLeader', `The expiry of lease ${id} was decided by the leader of term ${expiredInTerm}, but reached the log in term ${term}; a later leader decides`));
    }
    const keys = [...lease.keys].sort(byteOrder);
    if (keys.length > 0) this.rev++;
    for (const key of keys) this.del(key);
    this.leaseTable.remove(id);
    return { existed: true, revision: this.rev };
  }

  private txn(t: Txn): ApplyResult {
    const succeeded = t.compares.every((c) => compareHolds(c, this.data.get(c.key)));
    const ops = succeeded ? t.success : t.failure;
    // As in etcd, a put naming a lease that does not exist refuses the whole transaction, which changes nothing.
    for (const o of ops) {
      if (o.op === 'put' && o.lease !== undefined && o.lease !== 0 && !this.leaseTable.has(o.lease)) {
        return this.refuse(new KvError('LeaseNotFound', `Lease ${o.lease} not found (named by the put of "${o.key}")`));
      }
    }
    // One revision for the whole transaction, taken only if it changes something.
    const writes = ops.some((o) => o.op === 'put' || (o.op === 'delete' && this.data.has(o.key)));
    if (writes) this.rev++;
    const results: TxnOpResult[] = ops.map((o) => {
      switch (o.op) {
        case 'put': {
          const created = !this.data.has(o.key);
          this.put(o.key, ownedUtf8(o.value), o.lease ?? 0);
          return { op: 'put', key: o.key, created };
        }
        case 'delete': {
          const deleted = this.data.has(o.key);
          this.del(o.key);
          return { op: 'delete', key: o.key, deleted };
        }
        case 'get': {
          const kv = this.data.get(o.key);
          return { op: 'get', key: o.key, kv: kv === undefined ? null : keyValueJSON(o.key, kv) };
        }
      }
    });
    const first = results[0];
    const existed = first !== undefined && first.op !== 'get' && (first.op === 'put' ? !first.created : first.deleted);
    return { existed, revision: this.rev, txn: { succeeded, revision: this.rev, results } };
  }

  // Thesis §6.3: a repeat of the last request of a session gets the first answer; an older one cannot be answered
  // (the answer is gone) and is refused, changing nothing.
  private inSession(id: SessionId, run: () => ApplyResult): ApplyResult {
    const s = this.sessions.get(id.client);
    if (s !== undefined && id.seq === s.seq) return { ...s.result, duplicate: true };
    if (s !== undefined && id.seq < s.seq) {
      return this.refuse(new KvError('SessionStale', `Request ${id.seq} of client "${id.client}" is older than its last applied request ${s.seq}; it was answered already`));
    }
    const result = run();
    this.sessions.delete(id.client);
    this.sessions.set(id.client, { seq: id.seq, usedAt: this.rev, result });
    this.expireSessions();
    return result;
  }

  private expireSessions(): void {
    for (const [client, s] of this.sessions) {
      if (this.sessions.size <= this.maxSessions && this.rev - s.usedAt <= this.sessionExpiryRevisions) break;
      this.sessions.delete(client);
    }
  }

  /** How many client sessions the store remembers. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  // ## Reading

  /** A lease, or undefined when it does not exist (never granted, revoked or expired). */
  lease(id: number): Lease | undefined {
    return this.leaseTable.get(id);
  }

  /** How many leases exist. */
  get leaseCount(): number {
    return this.leaseTable.size;
  }

  /** Every lease, in ID order. */
  leases(): Lease[] {
    return this.leaseTable.list();
  }

  /** The current value of a key. */
  get(key: string): Buffer | undefined {
    return this.data.get(key)?.value;
  }

  /** A key's value and revisions at `revision` (0 or absent: now). */
  read(key: string, revision = 0): KeyMeta | undefined {
    this.checkReadable(revision);
    let kv = this.data.get(key);
    if (revision === 0) return kv;
    for (let i = this.events.length - 1; i >= this.eventsStart; i--) {
      const e = this.events[i];
      if (e === undefined || e.revision <= revision) break;
      if (e.key === key) kv = e.prev;
    }
    return kv;
  }

  /** Keys starting with `prefix` at `revision` (0: now), in byte order of their UTF-8 encoding, at most `limit`. */
  list(prefix: string, limit: number, revision = 0): KeyValue[] {
    this.checkReadable(revision);
    const view = new Map<string, KeyMeta>();
    for (const [key, kv] of this.data) if (key.startsWith(prefix)) view.set(key, kv);
    if (revision !== 0) {
      for (let i = this.events.length - 1; i >= this.eventsStart; i--) {
        const e = this.events[i];
        if (e === undefined || e.revision <= revision) break;
        if (!e.key.startsWith(prefix)) continue;
        if (e.prev === undefined) view.delete(e.key);
        else view.set(e.key, e.prev);
      }
    }
    const keys = [...view.keys()].sort(byteOrder);
    const out: KeyValue[] = [];
    for (const key of keys.slice(0, limit)) {
      const kv = view.get(key);
      if (kv !== undefined) out.push({ key, ...kv });
    }
    return out;
  }

  /** Throws unless `revision` (0: now) is one the history still reaches. */
  checkReadable(revision: number): void {
    if (revision > this.rev) throw new KvError('FutureRevision', `Revision ${revision} is ahead of the store's revision ${this.rev}`);
    if (revision !== 0 && revision < this.compactRev) {
      throw new KvError('Compacted', `Revision ${revision} was compacted; the oldest revision available is ${this.compactRev}`);
    }
  }

  /**
   * The events from revision `from` on, whole revisions only, stopping after `max` events or more (a transaction's
   * events are never split). Throws Compacted when `from` is below the compaction revision.
   */
  eventsFrom(from: number, max: number): KvEvent[] {
    if (from < this.compactRev) {
      throw new KvError('Compacted', `Revision ${from} was compacted; the oldest revision available is ${this.compactRev}`);
    }
    let lo = this.eventsStart;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.events[mid]?.revision ?? Infinity) < from) lo = mid + 1;
      else hi = mid;
    }
    const out: KvEvent[] = [];
    for (let i = lo; i < this.events.length; i++) {
      const e = this.events[i];
      if (e === undefined) break;
      const last = out[out.length - 1];
      if (out.length >= max && last !== undefined && last.revision !== e.revision) break;
      out.push(e);
    }
    return out;
  }

  // ## Compaction

  /** Forgets the history below `revision`; reads at `revision` and later still work. */
  compact(revision: number): void {
    if (revision > this.rev) throw new KvError('FutureRevision', `Cannot compact to revision ${revision}: the store is at revision ${this.rev}`);
    if (revision <= this.compactRev) {
      throw new KvError('Compacted', `Revision ${revision} is already compacted; the oldest revision available is ${this.compactRev}`);
    }
    this.compactRev = revision;
    while (this.eventsStart < this.events.length && (this.events[this.eventsStart]?.revision ?? Infinity) < revision) this.eventsStart++;
    // A new array, never a change in place: a snapshot being encoded holds the old one (see `encoding`).
    if (this.eventsStart > 1024 && this.eventsStart * 2 > this.events.length) {
      this.events = this.events.slice(this.eventsStart);
      this.eventsStart = 0;
    }
  }

  private maybeAutoCompact(): void {
    if (this.rev - this.compactRev >= 2 * this.historyRetention) this.compact(this.rev - this.historyRetention);
  }

  // ## Snapshots

  /**
   * The whole state as bytes:
   *
   *   format u8 (4) | revision u48 | compactRevision u48
   *   | keyCount u32 | (key | value | createRevision u48 | modRevision u48 | version u48 | lease u48) per key
   *   | eventCount u32 | (type u8 | revision u48 | key | state after? | state before?) per event
   *   | sessionCount u32 | (client | seq u48 | usedAt u48 | result JSON) per session
   *   | the lease table (LeaseTable.serialize)
   *
   * with strings and byte strings length-prefixed (u32), and an optional state as a u8 flag (0 none, 1 present)
   * and the state. The state before an event is nearly always the state after the previous event on its key, so
   * that is written as flag 2 alone: in a history of puts, the events then take half the bytes. Format 3 is the
   * same without flag 2; format 2 also without the leases: no lease in a key's state, no lease table.
   */
  serialize(): Buffer {
    const encoding = this.encoding();
    encoding.step(Infinity);
    return encoding.bytes();
  }

  /**
   * The state as it is now, to be encoded into `serialize`'s bytes a slice at a time (StateEncoding). Taking it
   * copies the key list, not the values: a key's state and an event are never changed once made, and the event
   * list only grows at its end or is replaced whole by compaction, so later writes cannot reach what was taken.
   * `prefix` goes before the state, in the same buffer.
   */
  encoding(prefix: Uint8Array = new Uint8Array(0)): StateEncoding {
    const tail = new ByteWriter(1024);
    tail.u32(this.sessions.size);
    for (const [client, s] of this.sessions) {
      tail.string(client);
      tail.u48(s.seq);
      tail.u48(s.usedAt);
      tail.string(JSON.stringify(s.result));
    }
    this.leaseTable.serialize(tail);
    const keys = [...this.data.keys()];
    const states = [...this.data.values()];
    const events = { list: this.events, from: this.eventsStart, to: this.events.length };
    return new StateEncoding(prefix, { rev: this.rev, compactRev: this.compactRev }, keys, states, events, tail.finish());
  }

  /** Replaces the whole state with one produced by `serialize`. */
  restore(bytes: Uint8Array): void {
    const r = new ByteReader(bytes);
    const format = r.u8('state format');
    if (format !== stateFormat && format !== stateFormatWithoutRepeats && format !== stateFormatWithoutLeases) {
      throw new KvError('Corrupt', `Snapshot state has unknown format ${format}`);
    }
    const withLeases = format !== stateFormatWithoutLeases;
    const readMeta = (): KeyMeta => readKeyMeta(r, withLeases);
    // The state after the latest event read so far on each key, for flag 2.
    const after = new Map<string, KeyMeta | undefined>();
    const readOptionalMeta = (key: string, what: 'state after' | 'state before'): KeyMeta | undefined => {
      const flag = r.u8(`${what} flag`);
      if (flag === stateAbsent) return undefined;
      if (flag === statePresent) return readMeta();
      const mayRepeat = flag === stateAsBefore && format === stateFormat && what === 'state before';
      const repeated = mayRepeat ? after.get(key) : undefined;
      if (repeated === undefined) throw new KvError('Corrupt', `Snapshot event on "${key}" has a ${what} flag ${flag} that names no earlier state`);
      return repeated;
    };
    const rev = r.u48('revision');
    const compactRev = r.u48('compaction revision');
    const data = new Map<string, KeyMeta>();
    for (let n = r.u32('key count'); n > 0; n--) data.set(r.string('key'), readMeta());
    const events: KvEvent[] = [];
    for (let n = r.u32('event count'); n > 0; n--) {
      const type = r.u8('event type');
      if (type !== 1 && type !== 2) throw new KvError('Corrupt', `Snapshot event has unknown type ${type}`);
      const revision = r.u48('event revision');
      const key = r.string('event key');
      const kv = readOptionalMeta(key, 'state after');
      const prev = readOptionalMeta(key, 'state before');
      events.push({ type: type === 1 ? 'put' : 'delete', revision, key, kv, prev });
      after.set(key, kv);
    }
    const sessions = new Map<string, SessionRecord>();
    for (let n = r.u32('session count'); n > 0; n--) {
      const client = r.string('session client');
      const seq = r.u48('session sequence number');
      const usedAt = r.u48('session revision');
      sessions.set(client, { seq, usedAt, result: parseResult(r.string('session result')) });
    }
    const leases = withLeases ? LeaseTable.restore(r) : new LeaseTable();
    if (!r.done) throw new KvError('Corrupt', `Snapshot state has bytes after its ${withLeases ? 'leases' : 'sessions'}`);
    this.install(data, events, rev, compactRev, sessions, leases);
  }

  /**
   * Replaces the whole state with a map in the layout before revisions existed (repeated `keyLength u32 | key |
   * valueLength u32 | value`). That layout has no history: every key starts at revision 1, version 1, and the
   * history begins at revision 1.
   */
  restoreUnversioned(bytes: Uint8Array): void {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const data = new Map<string, KeyMeta>();
    let at = 0;
    const take = (what: string): Buffer => {
      if (at + 4 > buf.length) throw new KvError('Corrupt', `Snapshot ends inside the length of a ${what}`);
      const length = buf.readUInt32BE(at);
      at += 4;
      if (at + length > buf.length) throw new KvError('Corrupt', `Snapshot ends inside a ${what} of ${length} bytes`);
      const out = buf.subarray(at, at + length);
      at += length;
      return out;
    };
    while (at < buf.length) {
      const key = take('key').toString('utf8');
      data.set(key, { value: ownedCopy(take('value')), createRevision: 1, modRevision: 1, version: 1, lease: 0 });
    }
    this.install(data, [], 1, 1, new Map(), new LeaseTable());
  }

  private install(data: Map<string, KeyMeta>, events: KvEvent[], rev: number, compactRev: number, sessions: Map<string, SessionRecord>, leases: LeaseTable): void {
    // The attachments are not in the snapshot: each key names its lease. Throws Corrupt if one names no lease.
    for (const [key, kv] of data) if (kv.lease !== 0) leases.attach(key, kv.lease);
    this.leaseTable = leases;
    this.data = data;
    this.events = events;
    this.eventsStart = 0;
    this.rev = rev;
    this.compactRev = compactRev;
    this.sessions = sessions;
    for (const fn of this.listeners) fn();
  }
}

/**
 * `KvStore.serialize`'s bytes for the state `KvStore.encoding` took, made in steps of a bounded number of keys and
 * events: a member encoding a snapshot of millions of them between turns of its loop goes on serving meanwhile.
 */
export class StateEncoding {
  // Two passes, both taken a step at a time: the first adds up how large the encoding can be, so that the second
  // writes into one buffer sized from the start (a bound: a UTF-16 unit takes at most three UTF-8 bytes). Growing a
  // buffer of megabytes step by step cost more than all the encoding; sizing it in one go held the thread for a
  // pass over the whole state, on every member at the same index.
  private size: number;
  private sized = 0;
  // Invariant: null until every key and event is counted (sized equals itemCount), then the buffer of `size` bytes.
  private w: ByteWriter | null = null;
  private key = 0;
  private event: number;
  private eventCountWritten = false;
  // The state after the latest event sized, and encoded, on each key: a state before equal to it is written as
  // flag 2 (`serialize`).
  private readonly sizedAfter = new Map<string, KeyMeta | undefined>();
  private readonly encodedAfter = new Map<string, KeyMeta | undefined>();
  private result: Buffer | null = null;

  constructor(
    private readonly prefix: Uint8Array,
    private readonly at: { rev: number; compactRev: number },
    private readonly keys: string[],
    private readonly states: KeyMeta[],
    private readonly events: { list: readonly KvEvent[]; from: number; to: number },
    // Sessions and leases, already encoded: they are few, and they change in place.
    private readonly tail: Buffer,
  ) {
    this.event = events.from;
    this.size = prefix.length + 1 + 6 + 6 + 4 + 4 + tail.length;
  }

  /** Sizes, then encodes, up to `budget` more keys and events; says whether the encoding is complete. */
  step(budget: number): boolean {
    if (this.result !== null) return true;
    let left = budget;
    let w = this.w;
    if (w === null) {
      left = this.sizeUpTo(left);
      w = this.startBuffer();
      if (w === null || left === 0) return false;
    }
    return this.encode(w, left);
  }

  private get itemCount(): number {
    return this.keys.length + (this.events.to - this.events.from);
  }

  // Adds the bound of up to `budget` more keys and events to `size`; returns the budget left.
  private sizeUpTo(budget: number): number {
    const { keys, states, events } = this;
    const total = this.itemCount;
    let left = budget;
    for (; this.sized < total && left > 0; this.sized++, left--) {
      if (this.sized < keys.length) {
        this.size += 4 + 3 * keys[this.sized].length + encodedMetaSize(states[this.sized]);
      } else {
        const e = events.list[events.from + this.sized - keys.length];
        const prevSize = isRepeat(e, this.sizedAfter) ? 0 : encodedMetaSize(e.prev);
        this.sizedAfter.set(e.key, e.kv);
        this.size += 1 + 6 + 4 + 3 * e.key.length + 2 + encodedMetaSize(e.kv) + prevSize;
      }
    }
    return left;
  }

  // The buffer, with the header written, once every item is counted; null before.
  private startBuffer(): ByteWriter | null {
    if (this.sized < this.itemCount) return null;
    const w = new ByteWriter(this.size);
    w.raw(this.prefix);
    w.u8(stateFormat);
    w.u48(this.at.rev);
    w.u48(this.at.compactRev);
    w.u32(this.keys.length);
    this.w = w;
    return w;
  }

  // Encodes up to `budget` more keys and events into the sized buffer.
  private encode(w: ByteWriter, budget: number): boolean {
    const { keys, states, events } = this;
    let left = budget;
    for (; this.key < keys.length && left > 0; this.key++, left--) {
      w.string(keys[this.key]);
      writeMeta(w, states[this.key]);
    }
    if (this.key < keys.length) return false;
    if (!this.eventCountWritten) {
      w.u32(events.to - events.from);
      this.eventCountWritten = true;
    }
    for (; this.event < events.to && left > 0; this.event++, left--) {
      const e = events.list[this.event];
      w.u8(e.type === 'put' ? 1 : 2);
      w.u48(e.revision);
      w.string(e.key);
      writeOptionalMeta(w, e.kv);
      if (isRepeat(e, this.encodedAfter)) w.u8(stateAsBefore);
      else writeOptionalMeta(w, e.prev);
      this.encodedAfter.set(e.key, e.kv);
    }
    if (this.event < events.to) return false;
    w.raw(this.tail);
    this.result = w.finish();
    return true;
  }

  /** The encoded state; throws unless `step` said it is complete. */
  bytes(): Buffer {
    if (this.result === null) throw new KvError('Internal', 'The state encoding is not complete yet');
    return this.result;
  }
}

/** A key as the JSON API reports it (the value as UTF-8 text). */
export function keyValueJSON(key: string, kv: KeyMeta): KeyValueJSON {
  return { key, value: kv.value.toString('utf8'), createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version, lease: kv.lease };
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function writeMeta(w: ByteWriter, kv: KeyMeta): void {
  w.bytes(kv.value);
  w.u48(kv.createRevision);
  w.u48(kv.modRevision);
  w.u48(kv.version);
  w.u48(kv.lease);
}

function readKeyMeta(r: ByteReader, withLease: boolean): KeyMeta {
  return {
    value: r.bytes('value'),
    createRevision: r.u48('create revision'),
    modRevision: r.u48('mod revision'),
    version: r.u48('version'),
    lease: withLease ? r.u48('lease') : 0,
  };
}

// The bytes writeMeta takes for `kv`; 0 for none (writeOptionalMeta's flag is counted by the caller).
function encodedMetaSize(kv: KeyMeta | undefined): number {
  return kv === undefined ? 0 : 4 + kv.value.length + 4 * 6;
}

function writeOptionalMeta(w: ByteWriter, kv: KeyMeta | undefined): void {
  w.u8(kv === undefined ? stateAbsent : statePresent);
  if (kv !== undefined) writeMeta(w, kv);
}

// Whether the state before `e` is the state after the previous event on its key, as `after` records them. Nearly
// always the same object (a state is never changed once made); compared by content all the same, so that a store
// and its copy restored from a snapshot, whose states are separate objects, encode the same bytes.
function isRepeat(e: KvEvent, after: Map<string, KeyMeta | undefined>): boolean {
  const before = e.prev;
  const last = after.get(e.key);
  if (before === undefined || last === undefined) return false;
  return (
    before === last ||
    (before.createRevision === last.createRevision &&
      before.modRevision === last.modRevision &&
      before.version === last.version &&
      before.lease === last.lease &&
      before.value.equals(last.value))
  );
}

function parseResult(text: string): ApplyResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KvError('Corrupt', 'Snapshot session result is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || typeof Reflect.get(parsed, 'revision') !== 'number') {
    throw new KvError('Corrupt', 'Snapshot session result has no revision');
  }
  return parsed as ApplyResult;
}
