// # A distributed lock with a fencing token
//
// `acquireLock(client, 'locks/report')` joins the line under the prefix (kvstore/recipes/queue.ts) and resolves
// once its key is at the head: no other live contender's key was created before it. The handle carries a fencing
// token, the key's modRevision. The key is written once, so this is also its createRevision, and it grows with
// every acquisition of the lock: a later holder always has a higher token.
//
// What a lock built on a lease cannot promise is that its holder still holds it. A holder that pauses (a long
// garbage collection, a stopped process, a slow disk) for longer than the TTL loses its lease; the lock passes to
// the next in line; and the paused holder, resuming, may act before it learns of the loss. The handle's `lost`
// tells it as soon as a keepalive is refused, which is not soon enough to stop a write already on its way. So the
// resource the lock protects must check the token itself: it remembers the highest token it has accepted and
// refuses a lower one. `writeFenced` is that check for a resource kept in this store, as one transaction; a
// resource elsewhere does the same with its own storage.
//
// Built on the public client alone (`tsraft/client`).

import { Client, KvError } from '../library-client';
import { RecipeError } from './errors';
import { JoinOptions, QueueEntry, joinQueue, leaveQueue, waitForTurn } from './queue';

/** How to wait for a lock. */
export interface LockOptions extends JoinOptions {
  /** Stored in the holder's key, so that `list` shows who holds or waits (default empty). */
  owner?: string;
}

/** A held lock. */
export class LockHandle {
  /** The holder's key under the lock's prefix. */
  readonly key: string;
  /** The lease the key is attached to. */
  readonly leaseId: number;
  /**
   * The key's createRevision (its modRevision too: the key is written once): higher for every later holder. Give it
   * to the protected resource with each request.
   */
  readonly fencingToken: number;
  /**
   * Resolves when the lock is lost or may be: the lease expired or was revoked while held, or no keepalive
   * succeeded within the lease's TTL as the client counts it. The lock may have passed to another holder before
   * this resolves; see the top of this file. Never resolves after `release()`.
   */
  readonly lost: Promise<RecipeError>;
  private released = false;

  /** @internal Use `acquireLock`. */
  constructor(
    private readonly client: Client,
    private readonly entry: QueueEntry,
  ) {
    this.key = entry.key;
    this.leaseId = entry.leaseId;
    this.fencingToken = entry.createRevision;
    this.lost = entry.lost;
  }

  /**
   * A transaction compare that holds only while this handle's key still exists as created, which in this store
   * means the lock is still held: add it to a transaction to make its writes conditional on holding the lock.
   */
  holdsCompare(): { key: string; target: 'createRevision'; op: '='; value: number } {
    return { key: this.key, target: 'createRevision', op: '=', value: this.fencingToken };
  }

  /** Releases the lock: revokes the lease, which deletes the key, and the next in line acquires. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await leaveQueue(this.client, this.entry);
  }
}

/**
 * Waits for the lock named by `prefix` and resolves with the held lock. Throws RecipeError 'Aborted' when
 * `opts.signal` fires and 'LeaseLost' when the lease goes while waiting; either way this contender leaves the line.
 */
export async function acquireLock(client: Client, prefix: string, opts: LockOptions = {}): Promise<LockHandle> {
  const entry = await joinQueue(client, prefix, opts.owner ?? '', opts);
  try {
    await waitForTurn(client, prefix, entry, opts.signal);
  } catch (err) {
    await leaveQueue(client, entry).catch(() => undefined);
    throw err;
  }
  return new LockHandle(client, entry);
}

/** The token as text that sorts as the number does, so a value compare orders tokens. */
export function fenceText(token: number): string {
  return token.toString().padStart(16, '0');
}

/** What a fenced write did. */
export interface FencedWriteResult {
  /** Whether the resource took the write: no higher token had been accepted before. */
  accepted: boolean;
  /** The store's revision after the transaction. */
  revision: number;
  /** The highest token the resource had accepted, when it refused this one. */
  highestToken?: number;
}

/**
 * The resource's side of fencing, for a resource kept in this store: writes `ops` only if no token higher than
 * `token` was accepted before, and records `token` as the highest seen, in one transaction. `fenceKey` holds the
 * highest token as `fenceText`.
 *
 * The compare is phrased as a refusal: "the recorded token is greater than mine" selects the refusing branch.
 * A compare of a missing key's value fails whatever the operator, so the first write (no token recorded yet)
 * falls to the accepting branch too.
 */
export async function writeFenced(
  client: Client,
  fenceKey: string,
  token: number,
  ops: { op: 'put'; key: string; value: string }[],
): Promise<FencedWriteResult> {
  const mine = fenceText(token);
  const result = await client.txn({
    compares: [{ key: fenceKey, target: 'value', op: '>', value: mine }],
    success: [{ op: 'get', key: fenceKey }],
    failure: [{ op: 'put', key: fenceKey, value: mine }, ...ops],
  });
  if (!result.succeeded) return { accepted: true, revision: result.revision };
  const got = result.results[0];
  const highest = got !== undefined && got.op === 'get' && got.kv !== null ? Number(got.kv.value) : Number.NaN;
  if (!Number.isSafeInteger(highest)) throw new KvError('Internal', `Fence key "${fenceKey}" does not hold a token`);
  return { accepted: false, revision: result.revision, highestToken: highest };
}
