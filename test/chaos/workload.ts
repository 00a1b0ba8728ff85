// # Clients that record what happened
//
// Each client loops: pick a member, pick one of a few active keys, put a value no one else ever writes, get, or
// delete, and record the operation with its invocation and return times. A write is never retried: when its
// outcome cannot be known (a timeout, a 504 or another 5xx, the connection lost after the request was sent) it is
// recorded as unknown, and the checker lets it take effect at any time after its invocation, or never. Only what
// provably changed nothing is a failure: the connection was refused, or the member answered 503 (no leader,
// unavailable, stopped: the API's promise that nothing was proposed) or a 4xx.
//
// A key is retired after `opsPerKey` operations and a fresh one takes its slot, so each key's history stays
// short enough for the checker's search whatever the length of the run.

import http from 'node:http';
import { Op } from './checker';

/** Where the clients send requests, and how they pick. */
export interface WorkloadOptions {
  clients: number;
  activeKeys: number;
  opsPerKey: number;
  opTimeoutMs: number;
  /** Members to send to (called before every operation, so added and removed members are followed). */
  targets(): number[];
  clientURL(member: number): string;
  random(): number;
  /** Milliseconds since the start of the run. */
  now(): number;
  /** Sends one operation and reads its answer; tsraft's HTTP API unless given (bench/chaos-vs-etcd.ts speaks etcd's). */
  send?: Sender;
  /** Shares of puts and gets; the rest are deletes. 0.5 and 0.35 unless given. */
  mix?: { put: number; get: number };
  /** A client's wait after an operation that did not succeed; 20 to 70 ms at random unless given. */
  failurePauseMs?: number;
}

/** What one operation's answer says, before it is recorded: its outcome, and what an `ok` read or write returned. */
export type Answer =
  | { outcome: 'ok'; read?: string | null; existed?: boolean }
  | { outcome: 'fail' | 'unknown'; note: string };

/** Sends one operation to `member` and reads what its answer means. */
export type Sender = (member: number, key: string, kind: Op['kind'], value: string | undefined, timeoutMs: number) => Promise<Answer>;

/** An HTTP exchange's outcome, before it is read as an operation result. */
type Exchange = { status: number; body: string } | { error: string; sent: boolean };

/** Sends one request with no retries and no connection reuse, so an error tells whether anything was sent. */
export function exchange(url: string, method: string, body: string | undefined, timeoutMs: number): Promise<Exchange> {
  return new Promise((resolve) => {
    let connected = false;
    const req = http.request(url, { method, agent: false, timeout: timeoutMs, headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => resolve({ error: err.message, sent: true }));
    });
    req.on('socket', (socket) => socket.once('connect', () => (connected = true)));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message, sent: connected }));
    req.end(body);
  });
}

/** The clients of one run and everything they recorded. */
export class Workload {
  readonly history: Op[] = [];
  private nextOpId = 1;
  private generation = 0;
  private readonly slots: { key: string; used: number }[] = [];
  private stopping = false;
  private running: Promise<void>[] = [];

  constructor(private readonly opts: WorkloadOptions) {
    for (let i = 0; i < opts.activeKeys; i++) this.slots.push({ key: this.freshKey(), used: 0 });
  }

  start(): void {
    for (let c = 1; c <= this.opts.clients; c++) this.running.push(this.client(c));
  }

  /** Lets every client finish its current operation. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
    this.running = [];
  }

  /** Every key any operation touched. */
  keys(): string[] {
    return [...new Set(this.history.map((op) => op.key))];
  }

  /** Runs one operation and records it. */
  async perform(client: number, member: number, key: string, kind: Op['kind'], value?: string): Promise<Op> {
    const op: Op = { id: this.nextOpId++, client, member, key, kind, ...(value === undefined ? {} : { value }), call: this.opts.now(), ret: Infinity, outcome: 'unknown' };
    this.history.push(op);
    const send = this.opts.send ?? ((m, k, kd, v, t) => tsraftAnswer(this.opts.clientURL(m), k, kd, v, t));
    const answer = await send(member, key, kind, value, this.opts.opTimeoutMs);
    const ret = this.opts.now();
    if (answer.outcome !== 'ok') return settle(op, answer.outcome, ret, answer.note);
    op.outcome = 'ok';
    op.ret = ret;
    if (kind === 'get') op.read = answer.read ?? null;
    else op.existed = answer.existed === true;
    return op;
  }

  private async client(c: number): Promise<void> {
    let seq = 0;
    while (!this.stopping) {
      const targets = this.opts.targets();
      if (targets.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const member = targets[Math.floor(this.opts.random() * targets.length)] ?? 0;
      const slot = this.slots[Math.floor(this.opts.random() * this.slots.length)] ?? { key: 'k', used: 0 };
      const key = slot.key;
      if (++slot.used >= this.opts.opsPerKey) {
        slot.key = this.freshKey();
        slot.used = 0;
      }
      const roll = this.opts.random();
      const mix = this.opts.mix ?? { put: 0.5, get: 0.35 };
      const kind: Op['kind'] = roll < mix.put ? 'put' : roll < mix.put + mix.get ? 'get' : 'delete';
      const op = await this.perform(c, member, key, kind, kind === 'put' ? `c${c}-${++seq}` : undefined);
      // Back off a little when the cluster cannot serve, instead of spinning on refused connections.
      if (op.outcome !== 'ok') {
        const pause = this.opts.failurePauseMs ?? 20 + Math.floor(this.opts.random() * 50);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  private freshKey(): string {
    return `k${++this.generation}`;
  }
}

/**
 * One operation through tsraft's HTTP API. Only what provably changed nothing fails: a request that never left, a
 * 503 (the API's promise that nothing was proposed), a 4xx. A write whose answer was lost or is another 5xx is
 * unknown; a read that was not answered simply failed.
 */
export async function tsraftAnswer(clientURL: string, key: string, kind: Op['kind'], value: string | undefined, timeoutMs: number): Promise<Answer> {
  const url = `${clientURL}/kv/${encodeURIComponent(key)}`;
  const method = kind === 'put' ? 'PUT' : kind === 'get' ? 'GET' : 'DELETE';
  const answer = await exchange(url, method, value, timeoutMs);
  if ('error' in answer) return { outcome: kind === 'get' || !answer.sent ? 'fail' : 'unknown', note: answer.error };
  const { status } = answer;
  if (status === 200 || status === 201 || (status === 404 && kind !== 'put' && /KeyNotFound/.test(answer.body))) {
    return kind === 'get' ? { outcome: 'ok', read: status === 404 ? null : answer.body } : { outcome: 'ok', existed: status === 200 };
  }
  const code = /"code":"([A-Za-z]+)"/.exec(answer.body)?.[1] ?? String(status);
  return { outcome: status >= 500 && status !== 503 && kind !== 'get' ? 'unknown' : 'fail', note: `${status} ${code}` };
}

function settle(op: Op, outcome: 'fail' | 'unknown', ret: number, note: string): Op {
  op.outcome = outcome;
  op.ret = outcome === 'unknown' ? Infinity : ret;
  op.note = note;
  return op;
}
