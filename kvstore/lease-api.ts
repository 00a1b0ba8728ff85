// # The lease endpoints
//
// Granting and revoking a lease are writes: any member proposes them and answers once it has applied them, with
// the 503/504 meanings of every write (kvstore/requests.ts). Keepalives and the remaining time to live are not in
// the log: they are the leader's clock (kvstore/lessor.ts), so only the leader answers them. A member that does
// not lead forwards them to the leader's client URL (the member list has it) and relays the answer, so a client
// may send them to any member. A forwarded request that reaches a member that does not lead either (leadership
// moved meanwhile) is answered NoLeader rather than forwarded again, so requests never go round in circles.
//
// A keepalive on the leader first waits for a read barrier (ReadIndex, §8): it confirms this member still leads
// and, as a new leader commits an entry of its own term before it answers any, that every entry of earlier
// terms, a revoke proposed by the previous leader included, has been applied here. Without it a new leader could
// renew a lease whose revoke it is about to commit, promising its holder time it will not get.

import { Request, Response } from 'express';
import { None } from '../raft/types';
import { CommandOp, SessionId, encodeLeaseValue } from './command';
import { KvError } from './errors';
import { ApplyResult } from './kv';
import { parseLeaseId, parseLeaseTtl } from './lease';
import { Lessor } from './lessor';
import { RaftNode } from './node';

/** Marks a request one member forwarded to the leader. */
const forwardedHeader = 'x-tsraft-forwarded-by';

/** The handlers behind /lease and /leases; kvstore/api.ts parses the HTTP side and routes to them. */
export class LeaseApi {
  constructor(
    private readonly node: RaftNode,
    private readonly lessor: Lessor,
    private readonly forwardTimeoutMs: number,
  ) {}

  /** `POST /lease/grant`: the TTL is raised to the cluster's minimum; the answer carries the effective one. */
  async grant(body: object, session: SessionId | undefined): Promise<{ id: number; ttl: number; duplicate?: true }> {
    const ttl = this.lessor.effectiveTtl(parseLeaseTtl(Reflect.get(body, 'ttl')));
    const id = parseLeaseId(Reflect.get(body, 'id') ?? 0, 'Field id', true);
    const result = await this.propose(CommandOp.LeaseGrant, encodeLeaseValue({ id, ttl, ...(session === undefined ? {} : { session }) }));
    if (result.lease === undefined) throw new KvError('Internal', 'The lease grant was applied without a lease');
    return { id: result.lease.id, ttl: result.lease.ttl, ...(result.duplicate === true ? { duplicate: true } : {}) };
  }

  /** `DELETE /lease/:id`: deletes the lease's keys in one revision. */
  async revoke(idText: unknown, session: SessionId | undefined): Promise<{ revision: number; duplicate?: true }> {
    const id = parseLeaseId(idText, 'Lease ID', false);
    const result = await this.propose(CommandOp.LeaseRevoke, encodeLeaseValue({ id, ...(session === undefined ? {} : { session }) }));
    return { revision: result.revision, ...(result.duplicate === true ? { duplicate: true } : {}) };
  }

  /** `POST /lease/:id/keepalive`. */
  async keepAlive(req: Request, res: Response): Promise<void> {
    const id = parseLeaseId(req.params.id, 'Lease ID', false);
    await this.onLeader(req, res, async () => {
      await this.node.readBarrier();
      return { id, ttl: this.lessor.keepAlive(id) };
    });
  }

  /** `GET /lease/:id`: the granted TTL, the seconds left (rounded down) and the attached keys. */
  async timeToLive(req: Request, res: Response): Promise<void> {
    const id = parseLeaseId(req.params.id, 'Lease ID', false);
    await this.onLeader(req, res, async () => {
      await this.node.readBarrier();
      const { remainingMs } = this.lessor.timeToLive(id);
      const lease = this.node.kv.lease(id);
      if (lease === undefined) throw new KvError('LeaseNotFound', `Lease ${id} not found`);
      const keys = [...lease.keys].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
      return { id, grantedTtl: lease.ttl, ttl: Math.floor(remainingMs / 1000), keys };
    });
  }

  /** `GET /leases`: every lease with its seconds left (0 once expired, until its revoke is applied). */
  async list(req: Request, res: Response): Promise<void> {
    await this.onLeader(req, res, async () => {
      await this.node.readBarrier();
      const leases = this.node.kv.leases().map((lease) => {
        let ttl = 0;
        try {
          ttl = Math.floor(this.lessor.timeToLive(lease.id).remainingMs / 1000);
        } catch (err) {
          if (!(err instanceof KvError && err.code === 'LeaseNotFound')) throw err;
        }
        return { id: lease.id, ttl, grantedTtl: lease.ttl };
      });
      return { leases };
    });
  }

  private async propose(op: CommandOp, value: Buffer): Promise<ApplyResult> {
    const result = await this.node.propose(op, '', value);
    if (result.error !== undefined) throw new KvError(result.error.code, result.error.message);
    return result;
  }

  // Answers with `local()` on the leader; forwards the request to the leader from any other member.
  private async onLeader(req: Request, res: Response, local: () => Promise<object>): Promise<void> {
    if (this.node.leaderTerm() !== 0) {
      res.json(await local());
      return;
    }
    const from = req.get(forwardedHeader);
    if (from !== undefined) throw new KvError('NoLeader', `Member ${this.node.id} no longer leads (member ${from} forwarded this request here); retry shortly`);
    const leader = this.node.leaderId;
    if (leader === None) throw new KvError('NoLeader', 'No leader is known yet; retry shortly');
    const url = this.node.members.get(leader)?.clientURL ?? '';
    if (url === '') throw new KvError('NoLeader', `Leader ${leader} has not announced its client URL yet; retry shortly`);
    let reply: globalThis.Response;
    try {
      reply = await fetch(`${url}${req.originalUrl}`, {
        method: req.method,
        headers: { [forwardedHeader]: String(this.node.id) },
        signal: AbortSignal.timeout(this.forwardTimeoutMs),
      });
    } catch (err) {
      const cause: unknown = err instanceof Error ? err.cause : undefined;
      const why = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
      throw new KvError('Unavailable', `Leader ${leader} at ${url} did not answer (${why}); retry shortly`);
    }
    const body = Buffer.from(await reply.arrayBuffer());
    const retryAfter = reply.headers.get('retry-after');
    if (retryAfter !== null) res.set('Retry-After', retryAfter);
    res.status(reply.status).type(reply.headers.get('content-type') ?? 'application/json').send(body);
  }
}
