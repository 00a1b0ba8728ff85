// # A client of the HTTP API
//
// Used by the command line, the tests and the benchmark. Given several endpoints it finds one that answers and
// prefers the leader's (a write sent there skips one forwarding hop). Reads are retried anywhere; a write is
// retried only when it certainly changed nothing: the connection was refused, or the server answered 503 (no
// leader, nothing proposed). When a write may have been applied (504, a reset connection, a timeout) the client
// says so and stops: retrying could apply it twice.

import { KvError, KvErrorCode } from './errors';
import { Member } from './members';

/** How a KvClient behaves. */
export interface ClientOptions {
  /** Overall time budget of one call, retries included. */
  timeoutMs?: number;
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
  json(): unknown;
}

const knownCodes: readonly KvErrorCode[] = [
  'KeyEmpty', 'KeyTooLong', 'ValueTooLarge', 'BadRequest', 'KeyNotFound', 'MemberNotFound', 'RouteNotFound',
  'MethodNotAllowed', 'NoLeader', 'Unavailable', 'OutcomeUnknown', 'Stopped', 'Corrupt', 'Internal',
];

/** A client of the HTTP API over several endpoints (see the top of this file for its retry rules). */
export class KvClient {
  private readonly endpoints: string[];
  private preferred = 0;
  private leaderChecked = false;
  private readonly timeoutMs: number;

  constructor(endpoints: string[], opts: ClientOptions = {}) {
    this.endpoints = endpoints.map((e) => e.replace(/\/+$/, '')).filter((e) => e !== '');
    if (this.endpoints.length === 0) throw new KvError('BadRequest', 'No endpoints given');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Stores a value; resolves with whether the key was created. */
  async put(key: string, value: Uint8Array | string): Promise<{ created: boolean }> {
    await this.followLeader();
    const reply = await this.call('PUT', kvPath(key), { body: typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value), write: true });
    return { created: reply.status === 201 };
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
      await this.call('DELETE', kvPath(key), { write: true });
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

  private async call(method: string, path: string, req: { body?: Buffer; json?: unknown; write?: boolean }): Promise<Reply> {
    const deadline = Date.now() + this.timeoutMs;
    let lastError: KvError = new KvError('Unavailable', 'No endpoint answered');
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const index = (this.preferred + attempt) % this.endpoints.length;
      const endpoint = this.endpoints[index] ?? '';
      let reply: Reply;
      try {
        reply = await once(endpoint, method, path, req, Math.max(1, deadline - Date.now()));
      } catch (err) {
        const refused = connectionRefused(err);
        if (req.write === true && !refused) {
          throw new KvError('OutcomeUnknown', `Lost the connection to ${endpoint} after sending the write (${describe(err)}); it may or may not have been applied`);
        }
        lastError = new KvError('Unavailable', `${endpoint}: ${describe(err)}`);
        await pause(attempt, this.endpoints.length);
        continue;
      }
      if (reply.status < 400) {
        this.preferred = index;
        return reply;
      }
      const error = replyError(reply);
      // 503: nothing was proposed (no leader, node stopping); safe to try again elsewhere.
      if (reply.status === 503) {
        lastError = error;
        await pause(attempt, this.endpoints.length);
        continue;
      }
      throw error;
    }
    throw lastError;
  }
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
