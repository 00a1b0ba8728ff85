// # Waiting in line under a prefix
//
// The lock and the election are one algorithm, the one etcd's concurrency package uses. Each contender grants a
// lease, keeps it alive, and creates the key `<prefix>/<lease id>` attached to it. The store numbers every write,
// so the keys under the prefix have distinct createRevisions, and they order the contenders: the key with the
// lowest createRevision is at the head of the line (holds the lock, leads). A later contender cannot take its
// place, since any key created later has a higher createRevision.
//
// A contender that is not at the head waits for the deletion of its predecessor, the key created just before its
// own, not for the head's: when the head goes, only the next in line wakes (no thundering herd). A deletion is
// either a release or the expiry of a dead contender's lease. The contender then lists the prefix again, because
// the predecessor may have left from the middle of the line while the head is still there.
//
// The key is attached to the lease, so a contender that dies holds nothing for longer than its lease's TTL: the
// leader expires the lease and deletes the key in one revision, and the next in line sees that deletion.

import { Client, KeyValueWithRevisions, KvError } from '../library-client';
import { RecipeError } from './errors';

/** How a contender joins the line. */
export interface JoinOptions {
  /** The lease's time to live, in seconds (default 10). A dead contender blocks the line for at most this long. */
  ttlSeconds?: number;
  /** Stops waiting; the contender leaves the line. */
  signal?: AbortSignal;
}

export const defaultTtlSeconds = 10;

/** A contender's place in the line. */
export interface QueueEntry {
  /** `<prefix>/<lease id in hexadecimal>`. */
  key: string;
  leaseId: number;
  /** The key's createRevision: its place in the line. */
  createRevision: number;
  /**
   * Resolves once the lease is gone or could not be renewed in time (the client's keepalive tells which), unless
   * the entry left the line first.
   */
  lost: Promise<RecipeError>;
  /** Aborted when `lost` resolves. */
  lostSignal: AbortSignal;
  /** Stops the keepalive (the lease then expires by itself). */
  stopKeepAlive(): void;
}

/**
 * The most contenders a line may hold. A listing returns at most this many keys; one that returns exactly this many
 * may have been cut short, and a contender missing from it could be an unseen predecessor, so the recipes refuse
 * rather than guess.
 */
export const maxContenders = 10_000;

/** Every key under the prefix, with the store revision of the read; throws 'TooManyContenders' when it is cut short. */
export async function listContenders(client: Client, prefix: string): Promise<{ kvs: KeyValueWithRevisions[]; revision: number }> {
  const listing = await client.listWithRevisions(contendersPrefix(prefix), { limit: maxContenders });
  if (listing.kvs.length >= maxContenders) throw new RecipeError('TooManyContenders', `"${contendersPrefix(prefix)}" holds ${maxContenders} keys or more; the line cannot be read whole`);
  return listing;
}

/** The prefix of the contenders' keys: the given prefix, ending with a slash. */
export function contendersPrefix(prefix: string): string {
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** How long a call that may have an unknown outcome is retried; the operations retried here are idempotent. */
const retryBudgetMs = 30_000;

/**
 * Retries `fn` while it fails without a definite answer (unknown outcome, no leader, no member reachable). Only
 * for operations that are safe to repeat.
 */
async function idempotent<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + retryBudgetMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const retriable = err instanceof KvError && (err.code === 'OutcomeUnknown' || err.code === 'Unavailable' || err.code === 'NoLeader' || err.code === 'Stopped');
      if (!retriable || Date.now() > deadline) throw err;
      // A leader election takes a few hundred milliseconds; the client already paused between its own retries.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Grants a lease, keeps it alive, and creates this contender's key attached to it. */
export async function joinQueue(client: Client, prefix: string, value: string, opts: JoinOptions): Promise<QueueEntry> {
  // A grant whose outcome is unknown may leave an unused lease behind; it holds no key and expires on its own.
  const lease = await idempotent(() => client.grantLease(opts.ttlSeconds ?? defaultTtlSeconds));
  const keeper = client.keepAlive(lease.id);
  const lostController = new AbortController();
  let left = false;
  const lost = keeper.lost.then((cause) => {
    const error = new RecipeError('LeaseLost', `Lease ${lease.id} under "${prefix}" is gone: ${cause.message}`, { cause });
    if (!left) lostController.abort(error);
    return error;
  });
  const key = `${contendersPrefix(prefix)}${lease.id.toString(16)}`;
  try {
    // Create-if-absent of a key named after our own lease: repeating it after an unknown outcome finds our key.
    const created = await idempotent(() =>
      client.txn({
        compares: [{ key, target: 'createRevision', op: '=', value: 0 }],
        success: [{ op: 'put', key, value, lease: lease.id }],
        failure: [{ op: 'get', key }],
      }),
    );
    // The failure branch finds the key an earlier attempt of this call created, which carries our lease; a key
    // with another lease would be somebody else's, and is never taken for ours.
    const got = created.results[0];
    const existing = got !== undefined && got.op === 'get' && got.kv !== null && got.kv.lease === lease.id ? got.kv : undefined;
    const createRevision = created.succeeded ? created.revision : existing?.createRevision ?? 0;
    if (createRevision === 0) throw new RecipeError('LeaseLost', `Key ${key} exists without lease ${lease.id}, or vanished as it was created`);
    return {
      key,
      leaseId: lease.id,
      createRevision,
      lost,
      lostSignal: lostController.signal,
      stopKeepAlive: () => {
        left = true;
        keeper.stop();
      },
    };
  } catch (err) {
    left = true;
    keeper.stop();
    await revokeQuietly(client, lease.id);
    throw err;
  }
}

/**
 * Waits until `entry` is at the head of the line: no key under the prefix has a lower createRevision. Throws
 * RecipeError 'LeaseLost' if the entry's key goes meanwhile and 'Aborted' if `signal` fires.
 */
export async function waitForTurn(client: Client, prefix: string, entry: QueueEntry, signal?: AbortSignal): Promise<void> {
  const stop = signal === undefined ? entry.lostSignal : AbortSignal.any([signal, entry.lostSignal]);
  for (;;) {
    throwIfStopped(stop, entry);
    const { kvs, revision } = await listContenders(client, prefix);
    if (!kvs.some((kv) => kv.key === entry.key)) throw new RecipeError('LeaseLost', `Key ${entry.key} is gone: lease ${entry.leaseId} expired or was revoked`);
    const predecessor = predecessorOf(kvs, entry.createRevision);
    if (predecessor === undefined) return;
    await waitForDeletion(client, predecessor.key, revision + 1, stop);
  }
}

/** The key created last before `createRevision`, if any. */
export function predecessorOf<T extends { createRevision: number }>(kvs: T[], createRevision: number): T | undefined {
  let found: T | undefined;
  for (const kv of kvs) if (kv.createRevision < createRevision && (found === undefined || kv.createRevision > found.createRevision)) found = kv;
  return found;
}

/** The head of the line: the key with the lowest createRevision, if any. */
export function headOf<T extends { createRevision: number }>(kvs: Iterable<T>): T | undefined {
  let found: T | undefined;
  for (const kv of kvs) if (found === undefined || kv.createRevision < found.createRevision) found = kv;
  return found;
}

// Returns when `key` is deleted at or after `fromRevision`, when the watch is stopped, or when the revisions it
// needs are compacted (the caller lists again, which tells whether the key is still there).
async function waitForDeletion(client: Client, key: string, fromRevision: number, signal: AbortSignal): Promise<void> {
  try {
    for await (const batch of client.watch(key, { startRevision: fromRevision, signal })) {
      if (batch.events.some((e) => e.type === 'delete')) return;
    }
  } catch (err) {
    if (!(err instanceof KvError && err.code === 'Compacted')) throw err;
  }
}

function throwIfStopped(stop: AbortSignal, entry: QueueEntry): void {
  if (!stop.aborted) return;
  const reason: unknown = stop.reason;
  if (reason instanceof RecipeError) throw reason;
  throw new RecipeError('Aborted', `Stopped waiting for ${entry.key} to reach the head of the line`, { cause: reason });
}

/** Leaves the line: stops the keepalive and revokes the lease, which deletes the key in the same revision. */
export async function leaveQueue(client: Client, entry: QueueEntry): Promise<void> {
  entry.stopKeepAlive();
  await revokeQuietly(client, entry.leaseId);
}

// Revoking twice is harmless (the second finds no lease), so an unknown outcome is retried.
async function revokeQuietly(client: Client, leaseId: number): Promise<void> {
  try {
    await idempotent(() => client.revokeLease(leaseId));
  } catch (err) {
    if (err instanceof KvError && err.code === 'LeaseNotFound') return;
    throw err;
  }
}
