// # Leader election
//
// An election is a lock whose holder announces itself. Candidates join the line under the election's prefix
// (kvstore/recipes/queue.ts) with their value (an address, a name) as the key's value; the candidate whose key
// has the lowest createRevision is the leader, and the others wait, each for its predecessor's key to go. The
// leader's createRevision numbers its term: it is higher for every later leader, so it serves as a fencing token
// exactly as the lock's does (kvstore/recipes/lock.ts).
//
// Anyone can ask who leads (`leader()`) or follow the leadership (`observe()`): a listing of the prefix, then a
// watch of it from the revision after the listing. The observer keeps the contenders' keys as the watch reports
// them and reports the head whenever it changes, so it sees every change of leader in order, and sees it at the
// revision where the store made it, not when a candidate noticed.
//
// Built on the public client alone (`tsraft/client`).

import { Client, KvError } from '../library-client';
import { RecipeError } from './errors';
import { JoinOptions, QueueEntry, contendersPrefix, headOf, joinQueue, leaveQueue, listContenders, waitForTurn } from './queue';

/** Who leads, as the store says. */
export interface LeaderInfo {
  /** The leader's key under the election's prefix. */
  key: string;
  /** What the leader announced. */
  value: string;
  /** The key's createRevision: higher for every later leader. */
  revision: number;
}

/** A won election, held until resigned or lost. */
export class Leadership {
  readonly key: string;
  readonly leaseId: number;
  /** The leadership's createRevision: the term's fencing token. */
  readonly revision: number;
  /**
   * Resolves when the leadership is lost or may be: the lease expired or was revoked, or no keepalive succeeded
   * within its TTL as the client counts it. Never resolves after `resign()`.
   */
  readonly lost: Promise<RecipeError>;
  private resigned = false;

  /** @internal Use `Election.campaign`. */
  constructor(
    private readonly client: Client,
    private readonly entry: QueueEntry,
  ) {
    this.key = entry.key;
    this.leaseId = entry.leaseId;
    this.revision = entry.createRevision;
    this.lost = entry.lost;
  }

  /** Announces a new value without giving up the leadership; throws RecipeError 'NotHeld' if it was lost. */
  async proclaim(value: string): Promise<void> {
    if (this.resigned) throw new RecipeError('NotHeld', `Leadership ${this.key} was resigned`);
    const result = await this.client.txn({
      compares: [{ key: this.key, target: 'createRevision', op: '=', value: this.revision }],
      success: [{ op: 'put', key: this.key, value, lease: this.leaseId }],
    });
    if (!result.succeeded) throw new RecipeError('NotHeld', `Leadership ${this.key} is gone: its lease expired or was revoked`);
  }

  /** Gives up the leadership (or the candidacy): revokes the lease, which deletes the key; the next in line leads. */
  async resign(): Promise<void> {
    if (this.resigned) return;
    this.resigned = true;
    await leaveQueue(this.client, this.entry);
  }
}

/** An election under a prefix of keys. */
export class Election {
  private readonly prefix: string;

  constructor(
    private readonly client: Client,
    prefix: string,
  ) {
    this.prefix = contendersPrefix(prefix);
  }

  /**
   * Stands for election with `value` and resolves once leading. Throws RecipeError 'Aborted' when `opts.signal`
   * fires and 'LeaseLost' when the lease goes while waiting; either way the candidacy is withdrawn.
   */
  async campaign(value: string, opts: JoinOptions = {}): Promise<Leadership> {
    const entry = await joinQueue(this.client, this.prefix, value, opts);
    try {
      await waitForTurn(this.client, this.prefix, entry, opts.signal);
    } catch (err) {
      await leaveQueue(this.client, entry).catch(() => undefined);
      throw err;
    }
    return new Leadership(this.client, entry);
  }

  /** The current leader, or null when nobody stands. */
  async leader(): Promise<LeaderInfo | null> {
    const head = headOf((await listContenders(this.client, this.prefix)).kvs);
    return head === undefined ? null : leaderInfo(head);
  }

  /**
   * The leader now, then every change of leader or of its value, in revision order (null while nobody stands).
   * Ends when `signal` aborts.
   */
  async *observe(opts: { signal?: AbortSignal } = {}): AsyncGenerator<LeaderInfo | null> {
    let reported: LeaderInfo | null | undefined;
    while (opts.signal?.aborted !== true) {
      const { kvs, revision } = await listContenders(this.client, this.prefix);
      const candidates = new Map<string, Candidate>(kvs.map((kv) => [kv.key, { key: kv.key, value: kv.value, createRevision: kv.createRevision }]));
      const changed = (): LeaderInfo | null | undefined => {
        const head = headOf(candidates.values());
        const now = head === undefined ? null : leaderInfo(head);
        const same = reported !== undefined && (reported === null ? now === null : now !== null && now.key === reported.key && now.value === reported.value);
        return same ? undefined : now;
      };
      const first = changed();
      if (first !== undefined) {
        reported = first;
        yield first;
      }
      try {
        for await (const batch of this.client.watch(this.prefix, { prefix: true, startRevision: revision + 1, signal: opts.signal })) {
          for (const e of batch.events) {
            if (e.type === 'delete') candidates.delete(e.key);
            else candidates.set(e.key, { key: e.key, value: e.value ?? '', createRevision: e.createRevision });
          }
          const next = changed();
          if (next !== undefined) {
            reported = next;
            yield next;
          }
        }
        return;
      } catch (err) {
        // The revisions the watch needed were compacted: list again and carry on from there.
        if (!(err instanceof KvError && err.code === 'Compacted')) throw err;
      }
    }
  }
}

/** A candidate's key as the observer keeps it. */
interface Candidate {
  key: string;
  value: string;
  createRevision: number;
}

function leaderInfo(kv: Candidate): LeaderInfo {
  return { key: kv.key, value: kv.value, revision: kv.createRevision };
}
