// # A client of the HTTP API
//
// Used by the command line, the tests and the benchmark. Given several endpoints it finds one that answers and
// prefers the leader's (a write sent there skips one forwarding hop). The preferred endpoint is the last one that
// answered; one that fails (no answer in time, a refused connection, a 503) hands that place to the next, so a
// paused or partitioned member costs one timeout, not one per call. Reads are retried anywhere; a write is
// retried only when it certainly changed nothing: the connection was refused, or the server answered 503 (no
// leader, nothing proposed). When a write may have been applied (504, a reset connection, a timeout) the client
// says so and stops: retrying could apply it twice.
//
// Unless the client has a session. With `session: true` every write carries (client id, sequence number), and the
// state machine applies each pair once and answers repeats with the first answer (kvstore/kv.ts), so a write whose
// outcome is unknown is simply sent again, to any member, until it is answered or the time budget runs out. Session
// writes go one at a time: the state machine keeps only a client's last answer.

import { isUtf8 } from 'node:buffer';
import crypto from 'node:crypto';
import { KvError, KvErrorCode } from './errors';
import { Member } from './members';
import { KeyValueJSON, Txn, TxnResult } from './txn';
import { WatchEventJSON } from './watch';

/** How a KvClient behaves. */
export interface ClientOptions {
  /** Overall time budget of one call, retries included. */
  timeoutMs?: number;
  /** Send writes in a session (retried safely after an unknown outcome); a string names the client. */
  session?: boolean | string;
}

/** A key with its revisions, as reads with metadata return it. */
export type KeyValueWithRevisions = KeyValueJSON;

/** One revision's changes, as a watch delivers them. */
export interface WatchBatch {
  revision: number;
  events: WatchEventJSON[];
}

/** Where a watch starts and what it follows. */
export interface WatchOptions {
  /** Follow every key starting with the given string rather than that key alone. */
  prefix?: boolean;
  /** The first revision to deliver (default: the next change). */
  startRevision?: number;
  /** Stops the watch (the iterator then ends). */
  signal?: AbortSignal;
}

/** A lease kept alive in the background by `keepAlive`. */
export interface LeaseKeepAlive {
  /** Stops sending keepalives (the lease is not revoked: it expires after its TTL unless revoked). */
  stop(): void;
  /**
   * Resolves once the lease is lost: with code LeaseNotFound when the cluster answered that it is gone (revoked,
   * or expired on the leader), or with the last failure's code when no keepalive succeeded before the lease's time
   * ran out as counted from the sending of the last successful one. Never resolves after `stop()`.
   */
  readonly lost: Promise<KvError>;
  /**
   * How long the lease is vouched for from now, on this process's clock: its TTL counted from the sending of the
   * last keepalive that succeeded, less the time since. 0 until the first keepalive is answered, and once lost.
   */
  remainingMs(): number;
}

/** What `leaseTimeToLive` returns: the TTL granted, the seconds left as the leader sees them, the attached keys. */
export interface LeaseTimeToLive {
  id: number;
  grantedTtl: number;
  ttl: number;
  keys: string[];
}

/** What `members()` returns. */
export interface MemberList {
  clusterId: string;
  leader: number;
  members: Member[];
}

interface Reply {
  status: number;
  body: Buffer;
  headers: Headers;
  json(): unknown;
}

const knownCodes: readonly KvErrorCode[] = [
  'KeyEmpty', 'KeyTooLong', 'ValueTooLarge', 'BadRequest', 'KeyNotFound', 'MemberNotFound', 'RouteNotFound',
  'MethodNotAllowed', 'NoLeader', 'Unavailable', 'OutcomeUnknown', 'Stopped', 'Corrupt', 'Internal', 'Compacted',
  'FutureRevision', 'SessionStale', 'KeyExists', 'LeaseNotFound', 'LeaseExists',
];

/** A client of the HTTP API over several endpoints (see the top of this file for its retry rules). */
export class KvClient {
  private readonly endpoints: string[];
  private preferred = 0;
  private leaderChecked = false;
  private readonly timeoutMs: number;
  /** The session's client id, when writes go in a session. */
  readonly sessionClient: string | undefined;
  private sessionSeq = 0;
  private sessionTail: Promise<unknown> = Promise.resolve();

  constructor(endpoints: string[], opts: ClientOptions = {}) {
    this.endpoints = endpoints.map((e) => e.replace(/\/+$/, '')).filter((e) => e !== '');
    if (this.endpoints.length === 0) throw new KvError('BadRequest', 'No endpoints given');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.sessionClient = opts.session === true ? crypto.randomUUID() : opts.session === false ? undefined : opts.session;
  }

  /**
   * Stores a value; resolves with whether the key was created and the revision of the write. With `lease` the key
   * is attached to that lease (its value must then be UTF-8 text); without, a key attached to one is detached.
   */
  async put(key: string, value: Uint8Array | string, opts: { ifAbsent?: boolean; lease?: number } = {}): Promise<{ created: boolean; revision: number }> {
    await this.followLeader();
    const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    const q: Record<string, string> = {};
    if (opts.ifAbsent === true) q.ifAbsent = 'true';
    if (opts.lease !== undefined && opts.lease !== 0) q.lease = String(opts.lease);
    // Session writes are transactions, whose values are text: a binary value goes without the session.
    const reply = await this.write(isUtf8(body), (session) => this.call('PUT', kvPath(key) + query({ ...session, ...q }), { body, write: true, retryUnknown: session !== undefined }));
    return { created: reply.status === 201, revision: Number(Reflect.get(reply.json() as object, 'revision')) };
  }

  /** A key's value and revisions, now or at a past revision; null when absent. */
  async getWithRevisions(key: string, opts: { revision?: number; serializable?: boolean } = {}): Promise<KeyValueWithRevisions | null> {
    const q: Record<string, string> = {};
    if (opts.revision !== undefined) q.revision = String(opts.revision);
    if (opts.serializable === true) q.consistency = 'serializable';
    try {
      const reply = await this.call('GET', kvPath(key) + query(q), {});
      const header = (name: string): number => Number(reply.headers.get(name) ?? 0);
      return {
        key,
        value: reply.body.toString('utf8'),
        createRevision: header('x-tsraft-create-revision'),
        modRevision: header('x-tsraft-mod-revision'),
        version: header('x-tsraft-version'),
        lease: header('x-tsraft-lease'),
      };
    } catch (err) {
      if (err instanceof KvError && err.code === 'KeyNotFound') return null;
      throw err;
    }
  }

  /** Applies a transaction atomically (kvstore/txn.ts). */
  async txn(t: Partial<Txn>): Promise<TxnResult> {
    await this.followLeader();
    const txn = { compares: t.compares ?? [], success: t.success ?? [], failure: t.failure ?? [] };
    const reply = await this.write(true, (session) => this.call('POST', '/txn', { json: session === undefined ? txn : { ...txn, session: { client: session.client, seq: Number(session.seq) } }, write: true, retryUnknown: session !== undefined }));
    return reply.json() as TxnResult;
  }

  /**
   * Compare-and-swap: sets `key` to `value` only if its modRevision is `expectModRevision` (0: only if absent).
   * Resolves with whether it swapped and, when it did not, the key as it is.
   */
  async cas(key: string, value: string, expectModRevision: number): Promise<{ swapped: boolean; revision: number; current: KeyValueJSON | null }> {
    const r = await this.txn({
      compares: [{ key, target: 'modRevision', op: '=', value: expectModRevision }],
      success: [{ op: 'put', key, value }],
      failure: [{ op: 'get', key }],
    });
    const got = r.results[0];
    return { swapped: r.succeeded, revision: r.revision, current: !r.succeeded && got !== undefined && got.op === 'get' ? got.kv : null };
  }

  // ## Leases (docs/leases.md)

  /** Grants a lease of at least `ttlSeconds` (the cluster may raise it to its minimum); resolves with its ID and TTL. */
  async grantLease(ttlSeconds: number, opts: { id?: number } = {}): Promise<{ id: number; ttl: number }> {
    await this.followLeader();
    const grant = { ttl: ttlSeconds, ...(opts.id === undefined ? {} : { id: opts.id }) };
    const reply = await this.write(true, (session) =>
      this.call('POST', '/lease/grant', { json: session === undefined ? grant : { ...grant, session: { client: session.client, seq: Number(session.seq) } }, write: true, retryUnknown: session !== undefined }),
    );
    const body = reply.json() as { id: number; ttl: number };
    return { id: body.id, ttl: body.ttl };
  }

  /** Renews a lease once, through whichever member answers; rejects with KvError('LeaseNotFound') when it is gone. */
  async keepAliveOnce(id: number): Promise<{ id: number; ttl: number }> {
    return this.renewLease(id, this.timeoutMs);
  }

  /**
   * Keeps a lease alive until stopped (or `signal` aborts): a keepalive every third of its TTL, retried on failure
   * until the lease's time runs out. `lost` says when it is gone (see LeaseKeepAlive).
   */
  keepAlive(id: number, opts: { signal?: AbortSignal } = {}): LeaseKeepAlive {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let reportLost: (err: KvError) => void = () => undefined;
    const lost = new Promise<KvError>((resolve) => {
      reportLost = resolve;
    });
    // Counted from the sending of the last keepalive that succeeded, so the client's view of the lease never
    // outlasts the leader's. Before the first answer nothing is known; the first keepalive gets the call budget.
    let validUntil = performance.now() + this.timeoutMs;
    let vouched = false;
    const stop = (): void => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', stop);
    };
    const beat = async (): Promise<void> => {
      if (stopped) return;
      const sentAt = performance.now();
      try {
        const { ttl } = await this.renewLease(id, Math.max(1, Math.floor(Math.min(this.timeoutMs, validUntil - sentAt))));
        if (stopped) return;
        validUntil = sentAt + ttl * 1000;
        vouched = true;
        timer = setTimeout(() => void beat(), (ttl * 1000) / 3);
      } catch (err) {
        if (stopped) return;
        const error = err instanceof KvError ? err : new KvError('Unavailable', describe(err));
        const left = validUntil - performance.now();
        if (error.code === 'LeaseNotFound' || left <= 0) {
          stop();
          vouched = false;
          reportLost(error.code === 'LeaseNotFound' ? error : new KvError(error.code, `Lease ${id} could not be renewed before it expired: ${error.message}`));
          return;
        }
        timer = setTimeout(() => void beat(), Math.min(500, left / 4));
      }
    };
    if (opts.signal?.aborted === true) stopped = true;
    else {
      opts.signal?.addEventListener('abort', stop);
      void beat();
    }
    const remainingMs = (): number => (vouched ? Math.max(0, validUntil - performance.now()) : 0);
    return { stop, lost, remainingMs };
  }

  /** Revokes a lease: its keys are deleted in one revision. Rejects with KvError('LeaseNotFound') when it is gone. */
  async revokeLease(id: number): Promise<{ revision: number }> {
    await this.followLeader();
    const reply = await this.write(true, (session) => this.call('DELETE', `/lease/${leaseIdText(id)}${query(session ?? {})}`, { write: true, retryUnknown: session !== undefined }));
    return { revision: Number(Reflect.get(reply.json() as object, 'revision')) };
  }

  /** A lease's granted TTL, seconds left (as the leader sees them) and attached keys. */
  async leaseTimeToLive(id: number): Promise<LeaseTimeToLive> {
    return (await this.call('GET', `/lease/${leaseIdText(id)}`, {})).json() as LeaseTimeToLive;
  }

  /** Every lease, with its seconds left and granted TTL. */
  async leases(): Promise<{ id: number; ttl: number; grantedTtl: number }[]> {
    const body = (await this.call('GET', '/leases', {})).json() as { leases: { id: number; ttl: number; grantedTtl: number }[] };
    return body.leases;
  }

  // A keepalive is no log entry: resending it is harmless, so every failure is retried within `timeoutMs`.
  private async renewLease(id: number, timeoutMs: number): Promise<{ id: number; ttl: number }> {
    const body = (await this.call('POST', `/lease/${leaseIdText(id)}/keepalive`, { timeoutMs })).json() as { id: number; ttl: number };
    return { id: body.id, ttl: body.ttl };
  }

  /** Forgets the history below `revision`. */
  async compact(revision: number): Promise<{ compactRevision: number }> {
    return (await this.call('POST', '/compact', { json: { revision }, write: true })).json() as { compactRevision: number };
  }

  /**
   * Every change of `key` (or of every key under it, with `prefix`) from a start revision on, one revision at a
   * time, in order, with no gap and no repeat: when a member's stream breaks, the watch resumes on the next
   * endpoint from the revision after the last one delivered. Throws KvError('Compacted') when the revisions it
   * needs are gone.
   */
  async *watch(key: string, opts: WatchOptions = {}): AsyncGenerator<WatchBatch> {
    let next = opts.startRevision;
    let failures = 0;
    const aborted = (): boolean => opts.signal?.aborted === true;
    for (let attempt = this.preferred; !aborted(); attempt++) {
      const endpoint = this.endpoints[attempt % this.endpoints.length] ?? '';
      const q: Record<string, string> = {};
      if (next !== undefined) q.startRevision = String(next);
      if (opts.prefix === true) q.prefix = key;
      const path = opts.prefix === true ? `/watch${query(q)}` : `/watch/${encodeURIComponent(key)}${query(q)}`;
      let res: Response;
      try {
        res = await fetch(`${endpoint}${path}`, { signal: opts.signal });
      } catch {
        if (aborted()) return;
        await pause(failures++, this.endpoints.length);
        continue;
      }
      if (res.status !== 200 || res.body === null) {
        const bytes = Buffer.from(await res.arrayBuffer());
        const error = replyError({ status: res.status, body: bytes, headers: res.headers, json: () => JSON.parse(bytes.toString('utf8')) as unknown });
        if (res.status < 500) throw error;
        await pause(failures++, this.endpoints.length);
        continue;
      }
      try {
        for await (const message of sseMessages(res.body)) {
          if (message.event === 'created') {
            // The member chose "now" for us: pin it, so a resumed stream continues rather than skipping.
            next ??= Number(Reflect.get(JSON.parse(message.data) as object, 'startRevision'));
            failures = 0;
          } else if (message.event === 'change') {
            const batch = JSON.parse(message.data) as WatchBatch;
            next = batch.revision + 1;
            yield batch;
          } else if (message.event === 'cancel') {
            const error: unknown = Reflect.get(JSON.parse(message.data) as object, 'error');
            const code: unknown = typeof error === 'object' && error !== null ? Reflect.get(error, 'code') : undefined;
            const text: unknown = typeof error === 'object' && error !== null ? Reflect.get(error, 'message') : undefined;
            if (code === 'Compacted') throw new KvError('Compacted', String(text));
            // A slow watcher is cancelled with the revision to resume from; resuming is what the loop does.
          }
        }
      } catch (err) {
        if (err instanceof KvError) throw err;
        if (aborted()) return;
      }
      await pause(failures++, this.endpoints.length);
    }
  }

  // Session writes go one at a time, each with the next sequence number; without a session, `fn` runs at once.
  private write<T>(inSession: boolean, fn: (session: { client: string; seq: string } | undefined) => Promise<T>): Promise<T> {
    const client = this.sessionClient;
    if (client === undefined || !inSession) return fn(undefined);
    const run = this.sessionTail.then(() => fn({ client, seq: String(++this.sessionSeq) }));
    this.sessionTail = run.catch(() => undefined);
    return run;
  }

  /** The value of a key, or null when it is absent. */
  async get(key: string, consistency: 'linearizable' | 'serializable' = 'linearizable'): Promise<Buffer | null> {
    try {
      const reply = await this.call('GET', `${kvPath(key)}${consistency === 'serializable' ? '?consistency=serializable' : ''}`, {});
      return reply.body;
    } catch (err) {
      if (err instanceof KvError && err.code === 'KeyNotFound') return null;
      throw err;
    }
  }

  /** Deletes a key; resolves with whether it existed. */
  async del(key: string): Promise<boolean> {
    await this.followLeader();
    try {
      await this.write(true, (session) => this.call('DELETE', kvPath(key) + query(session ?? {}), { write: true, retryUnknown: session !== undefined }));
      return true;
    } catch (err) {
      if (err instanceof KvError && err.code === 'KeyNotFound') return false;
      throw err;
    }
  }

  async list(prefix = '', limit?: number, consistency: 'linearizable' | 'serializable' = 'linearizable'): Promise<{ key: string; value: string }[]> {
    const q = new URLSearchParams({ prefix });
    if (limit !== undefined) q.set('limit', String(limit));
    if (consistency === 'serializable') q.set('consistency', 'serializable');
    const body = (await this.call('GET', `/kv?${q.toString()}`, {})).json();
    const kvs: unknown = typeof body === 'object' && body !== null ? Reflect.get(body, 'kvs') : undefined;
    if (!Array.isArray(kvs)) throw new KvError('Internal', 'Listing reply has no kvs array');
    return kvs.map((kv: unknown) => ({ key: String(Reflect.get(kv as object, 'key')), value: String(Reflect.get(kv as object, 'value')) }));
  }

  /**
   * The keys under a prefix with their revisions, in key order, and the store's revision they were read at: a
   * watch from `revision + 1` continues exactly where this read leaves off.
   */
  async listWithRevisions(prefix: string, opts: { limit?: number; serializable?: boolean } = {}): Promise<{ kvs: KeyValueJSON[]; revision: number }> {
    const q = new URLSearchParams({ prefix });
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.serializable === true) q.set('consistency', 'serializable');
    return (await this.call('GET', `/kv?${q.toString()}`, {})).json() as { kvs: KeyValueJSON[]; revision: number };
  }

  async members(): Promise<MemberList> {
    return (await this.call('GET', '/members', {})).json() as MemberList;
  }

  async addMember(peerURL: string, opts: { learner?: boolean; id?: number; clientURL?: string } = {}): Promise<unknown> {
    return (await this.call('POST', '/members', { json: { peerURL, ...opts }, write: true })).json();
  }

  async removeMember(id: number): Promise<unknown> {
    return (await this.call('DELETE', `/members/${id}`, { write: true })).json();
  }

  async promoteMember(id: number): Promise<unknown> {
    return (await this.call('POST', `/members/${id}/promote`, { write: true })).json();
  }

  async transferLeader(to?: number): Promise<{ leader: number }> {
    return (await this.call('POST', '/leader/transfer', { json: to === undefined ? {} : { to }, write: true })).json() as { leader: number };
  }

  /** The status of the first endpoint that answers. */
  async status(): Promise<Record<string, unknown>> {
    return (await this.call('GET', '/status', {})).json() as Record<string, unknown>;
  }

  /** The status of every endpoint, or the error each gave. */
  async statusAll(): Promise<{ endpoint: string; status?: Record<string, unknown>; error?: string }[]> {
    return Promise.all(
      this.endpoints.map(async (endpoint) => {
        try {
          const reply = await once(endpoint, 'GET', '/status', {}, Math.min(this.timeoutMs, 2000));
          return { endpoint, status: reply.json() as Record<string, unknown> };
        } catch (err) {
          return { endpoint, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
  }

  // Once per client: ask one endpoint for the member list and, when it names the leader's client URL, use that
  // first. A single quick request: following the leader saves a hop, it must not cost a retry loop.
  private async followLeader(): Promise<void> {
    if (this.leaderChecked) return;
    this.leaderChecked = true;
    try {
      const reply = await once(this.endpoints[this.preferred] ?? '', 'GET', '/members', {}, Math.min(this.timeoutMs, 1000));
      if (reply.status !== 200) return;
      const list = reply.json() as MemberList;
      const leaderURL = list.members.find((m) => m.id === list.leader)?.clientURL;
      if (leaderURL === undefined || leaderURL === '') return;
      const i = this.endpoints.indexOf(leaderURL);
      if (i >= 0) this.preferred = i;
      else {
        this.endpoints.unshift(leaderURL);
        this.preferred = 0;
      }
    } catch {
      // Following the leader is an optimisation; the write itself will find a working endpoint.
    }
  }

  // `retryUnknown`: the write is in a session, so an unknown outcome is retried rather than reported.
  private async call(method: string, path: string, req: { body?: Buffer; json?: unknown; write?: boolean; retryUnknown?: boolean; timeoutMs?: number }): Promise<Reply> {
    const budget = req.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + budget;
    // A request that changes nothing may give up on one endpoint and try the next: a member that accepts
    // connections but does not answer (paused, overloaded) must not use up the whole budget. A write may not: the
    // abandoned attempt could still be applied.
    const attemptMs = req.write === true ? budget : Math.max(500, Math.floor(budget / this.endpoints.length));
    let lastError: KvError = new KvError('Unavailable', 'No endpoint answered');
    const first = this.preferred;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const index = (first + attempt) % this.endpoints.length;
      const endpoint = this.endpoints[index] ?? '';
      let reply: Reply;
      try {
        reply = await once(endpoint, method, path, req, Math.max(1, Math.min(attemptMs, deadline - Date.now())));
      } catch (err) {
        const refused = connectionRefused(err);
        if (req.write === true && !refused && req.retryUnknown !== true) {
          throw new KvError('OutcomeUnknown', `Lost the connection to ${endpoint} after sending the write (${describe(err)}); it may or may not have been applied`);
        }
        lastError = new KvError('Unavailable', `${endpoint}: ${describe(err)}`);
        this.passOver(first, index);
        await pause(attempt, this.endpoints.length);
        continue;
      }
      if (reply.status < 400) {
        this.preferred = index;
        return reply;
      }
      const error = replyError(reply);
      // 503: nothing was proposed (no leader, node stopping); safe to try again elsewhere. 504 in a session: the
      // state machine will apply the write at most once whoever receives the retry.
      if (reply.status === 503 || (reply.status === 504 && req.retryUnknown === true)) {
        lastError = error;
        this.passOver(first, index);
        await pause(attempt, this.endpoints.length);
        continue;
      }
      throw error;
    }
    throw lastError;
  }

  // The endpoint a call started at failed: the next call starts at the one after it. Only the first attempt moves
  // it, by one place per call: were every failure to move it, a call that fails everywhere would bring it back
  // round to the endpoint that failed first.
  private passOver(first: number, index: number): void {
    if (index === first && this.preferred === first) this.preferred = (first + 1) % this.endpoints.length;
  }
}

function query(params: Record<string, string>): string {
  const q = new URLSearchParams(params).toString();
  return q === '' ? '' : `?${q}`;
}

/** The messages of a server-sent event stream. */
async function* sseMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) yield { event, data: data.join('\n') };
    }
  }
}

// An ID that is not a whole number would reach the server as a path it refuses anyway; refused here, it never leaves.
function leaseIdText(id: number): string {
  if (!Number.isSafeInteger(id) || id < 1) throw new KvError('BadRequest', `Lease ID must be a positive integer, not ${String(id)}`);
  return String(id);
}

function kvPath(key: string): string {
  return `/kv/${encodeURIComponent(key)}`;
}

async function once(endpoint: string, method: string, path: string, req: { body?: Buffer; json?: unknown }, timeoutMs: number): Promise<Reply> {
  const headers: Record<string, string> = {};
  let body: Buffer | undefined = req.body;
  if (req.json !== undefined) {
    body = Buffer.from(JSON.stringify(req.json), 'utf8');
    headers['content-type'] = 'application/json';
  } else if (body !== undefined) {
    headers['content-type'] = 'application/octet-stream';
  }
  const res = await fetch(`${endpoint}${path}`, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
  const bytes = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    body: bytes,
    headers: res.headers,
    json: () => JSON.parse(bytes.toString('utf8')) as unknown,
  };
}

function replyError(reply: Reply): KvError {
  try {
    const body = reply.json();
    const error: unknown = typeof body === 'object' && body !== null ? Reflect.get(body, 'error') : undefined;
    const code: unknown = typeof error === 'object' && error !== null ? Reflect.get(error, 'code') : undefined;
    const message: unknown = typeof error === 'object' && error !== null ? Reflect.get(error, 'message') : undefined;
    const known = knownCodes.find((c) => c === code);
    if (known !== undefined && typeof message === 'string') return new KvError(known, message);
  } catch {
    // Not our JSON: fall through to a generic error naming the status.
  }
  return new KvError(reply.status >= 500 ? 'Internal' : 'BadRequest', `HTTP ${reply.status}: ${reply.body.toString('utf8').slice(0, 200)}`);
}

// Errors from fetch may come from another realm (a test runner's sandbox), so they are inspected by shape, not
// with instanceof.
function causeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? Reflect.get(err, 'cause') : undefined;
}

function messageOf(err: unknown): string {
  const message: unknown = typeof err === 'object' && err !== null ? Reflect.get(err, 'message') : undefined;
  return typeof message === 'string' ? message : String(err);
}

function describe(err: unknown): string {
  const cause = causeOf(err);
  return cause !== undefined ? messageOf(cause) : messageOf(err);
}

function connectionRefused(err: unknown): boolean {
  const cause = causeOf(err);
  const code: unknown = typeof cause === 'object' && cause !== null ? Reflect.get(cause, 'code') : undefined;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EADDRNOTAVAIL';
}

// After a full round of endpoints failed, wait a little before the next round (a leader election takes a few
// hundred milliseconds).
function pause(attempt: number, endpoints: number): Promise<void> {
  const ms = (attempt + 1) % endpoints === 0 ? 200 : 0;
  return new Promise((resolve) => setTimeout(resolve, ms));
}
