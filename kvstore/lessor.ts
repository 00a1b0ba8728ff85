// # The lessor: when leases expire
//
// The lease table (kvstore/lease.ts) is replicated and knows no time. Deciding that a lease has expired needs a
// clock, and a cluster has as many clocks as members, running at slightly different rates and jumping when a
// process is paused. tsraft follows etcd: exactly one clock counts, the leader's, and only while it leads.
//
// - The leader keeps a deadline per lease on its monotonic clock (never the wall clock, which may be set back or
//   forth). A keepalive, which goes to the leader and nowhere else (it is not a log entry), moves the deadline to
//   now + TTL.
// - When a deadline passes, the leader proposes a revoke through the log, like any write. The keys go when the
//   revoke is applied, on every member at the same index. A proposal that fails is proposed again after
//   `retryMs`, as long as this member still leads and the lease still exists; at most `maxRevokesPerCheck`
//   revokes are proposed per check, so a mass expiry does not flood the log.
// - A member that becomes leader gives every lease a fresh, full TTL: it cannot know when the old leader last
//   heard from each holder, and a lease may live too long but must never die early. A member that stops leading
//   forgets its deadlines at once and proposes nothing more.
// - Time this process did not run does not count. If a check comes much later than scheduled (the process was
//   paused, or starved of CPU), every deadline moves on by the delay: the holders' keepalives could not be heard
//   meanwhile, so the pause must not expire them. (After a long pause the member has usually lost leadership
//   anyway; if it has not noticed yet, the state machine refuses what it proposes in its old term: see
//   `applyLeaseRevoke` in kvstore/kv.ts.)
//
// A revoke proposed because of expiry names the term of the leader that decided it, and the state machine applies
// it only from an entry of that term. A deposed leader's proposal forwarded to its successor lands in a later term
// and changes nothing.
//
// The TTL a lease is granted is at least `minTtlSeconds`, etcd's minimum of one and a half election timeouts,
// rounded up to whole seconds: a shorter lease could expire during the election that follows a leader's crash,
// before any member could have heard a keepalive.

import { KvError } from './errors';

/** What the lessor needs from its member. */
export interface LessorHost {
  /** The term this member leads in, or 0 when it is not the leader. */
  leaderTerm(): number;
  /** A lease of the state machine as applied here, or undefined. */
  lease(id: number): { id: number; ttl: number } | undefined;
  /** Every lease of the state machine as applied here. */
  leases(): Iterable<{ id: number; ttl: number }>;
  /** Proposes the revoke of a lease found expired by the leader of `term`; settles once its outcome is known. */
  proposeExpiry(id: number, term: number): Promise<unknown>;
}

export interface LessorOptions {
  /** The shortest TTL a lease gets, in seconds. */
  minTtlSeconds: number;
  /** How often deadlines are checked. */
  checkIntervalMs: number;
  /** How long after proposing a lease's revoke the lessor proposes it again if the lease still exists. */
  retryMs: number;
  /** At most this many revokes are proposed per check. */
  maxRevokesPerCheck: number;
  /** A monotonic clock in milliseconds; `performance.now` unless a test gives its own. */
  now?: () => number;
}

/** etcd's minimum lease TTL: one and a half election timeouts, in whole seconds, rounded up. */
export function minLeaseTtlSeconds(tickMs: number, electionTicks: number): number {
  return Math.max(1, Math.ceil((3 * electionTicks * tickMs) / 2 / 1000));
}

/** The leader's clock for leases: deadlines, keepalives, and revokes proposed when a deadline passes. */
export class Lessor {
  // Invariant: `term` is nonzero exactly while this member leads in that term, as far as the last check or
  // keepalive saw; `deadlines` is empty whenever `term` is 0.
  private term = 0;
  private readonly deadlines = new Map<number, number>();
  // Leases whose revoke was proposed, and when it may be proposed again.
  private readonly retryAt = new Map<number, number>();
  private lastCheck: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(
    private readonly host: LessorHost,
    private readonly opts: LessorOptions,
  ) {
    this.now = opts.now ?? (() => performance.now());
    this.lastCheck = this.now();
  }

  get minTtlSeconds(): number {
    return this.opts.minTtlSeconds;
  }

  /** The TTL a lease asked for `ttl` seconds gets. */
  effectiveTtl(ttl: number): number {
    return Math.max(ttl, this.opts.minTtlSeconds);
  }

  /** Whether this member leads, as of the last check or keepalive. */
  get isLeading(): boolean {
    return this.term !== 0;
  }

  start(): void {
    if (this.timer !== null) return;
    this.lastCheck = this.now();
    this.timer = setInterval(() => this.check(), this.opts.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.term = 0;
    this.deadlines.clear();
    this.retryAt.clear();
  }

  /**
   * One check: follow leadership, discount a pause, track new and revoked leases, and propose the revoke of those
   * whose deadline passed. Runs every `checkIntervalMs`; tests call it with their own clock.
   */
  check(): void {
    const now = this.now();
    const late = now - this.lastCheck - this.opts.checkIntervalMs;
    this.lastCheck = now;
    // A check a whole interval late means the process did not run: that time is nobody's fault but ours. (Should
    // leadership have changed meanwhile, followLeadership starts every deadline afresh anyway.) A lease that had
    // expired by the previous check stays expired, as it moves on by less than the time since: its revoke may be in
    // the log already, and a keepalive must not renew it.
    if (late > this.opts.checkIntervalMs) {
      for (const [id, deadline] of this.deadlines) this.deadlines.set(id, deadline + late);
    }
    this.followLeadership(now);
    if (this.term === 0) return;
    const live = new Set<number>();
    for (const lease of this.host.leases()) {
      live.add(lease.id);
      if (!this.deadlines.has(lease.id)) this.deadlines.set(lease.id, now + this.effectiveTtl(lease.ttl) * 1000);
    }
    for (const id of this.deadlines.keys()) {
      if (live.has(id)) continue;
      this.deadlines.delete(id);
      this.retryAt.delete(id);
    }
    let proposed = 0;
    for (const [id, deadline] of this.deadlines) {
      if (proposed >= this.opts.maxRevokesPerCheck) break;
      if (deadline > now || (this.retryAt.get(id) ?? -Infinity) > now) continue;
      proposed++;
      this.retryAt.set(id, now + this.opts.retryMs);
      // Success removes the lease (the next check forgets it); a failure is proposed again after retryMs.
      this.host.proposeExpiry(id, this.term).catch(() => undefined);
    }
  }

  /**
   * Renews a lease on the leader: its deadline becomes now + TTL; returns that TTL in seconds. Throws NoLeader on
   * a member that does not lead, and LeaseNotFound for a lease that does not exist or whose deadline has already
   * passed (its revoke is on its way: renewing it now would promise the holder time it will not get).
   */
  keepAlive(id: number): number {
    const now = this.now();
    const ttl = this.remainingOrThrow(id, now).ttl;
    this.deadlines.set(id, now + ttl * 1000);
    return ttl;
  }

  /** The leader's view of a lease: its effective TTL and the milliseconds left; throws as `keepAlive` does. */
  timeToLive(id: number): { ttl: number; remainingMs: number } {
    const now = this.now();
    const { ttl, deadline } = this.remainingOrThrow(id, now);
    return { ttl, remainingMs: deadline - now };
  }

  private remainingOrThrow(id: number, now: number): { ttl: number; deadline: number } {
    this.followLeadership(now);
    if (this.term === 0) throw new KvError('NoLeader', 'This member is not the leader; only the leader keeps lease deadlines');
    const lease = this.host.lease(id);
    if (lease === undefined) throw new KvError('LeaseNotFound', `Lease ${id} not found`);
    const ttl = this.effectiveTtl(lease.ttl);
    let deadline = this.deadlines.get(id);
    if (deadline === undefined) {
      // Granted since the last check.
      deadline = now + ttl * 1000;
      this.deadlines.set(id, deadline);
    }
    if (deadline <= now) throw new KvError('LeaseNotFound', `Lease ${id} has expired; its revoke is being proposed`);
    return { ttl, deadline };
  }

  // A new term of leadership starts every lease afresh; losing leadership drops every deadline.
  private followLeadership(now: number): void {
    const term = this.host.leaderTerm();
    if (term === this.term) return;
    this.term = term;
    this.deadlines.clear();
    this.retryAt.clear();
    if (term === 0) return;
    for (const lease of this.host.leases()) this.deadlines.set(lease.id, now + this.effectiveTtl(lease.ttl) * 1000);
  }
}
