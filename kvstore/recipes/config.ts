// # A watched configuration value
//
// The commonest use of a watch: a process reads a setting at start and must learn of every later change. Reading
// then watching from "now" leaves a window where a change made between the read and the watch's start is never
// seen. Revisions close it: the read names the store revision it was taken at, R, and the watch starts at R + 1,
// so every change after the read arrives, and none before it does.
//
// The client's watch resumes by revision on any member when its stream breaks, so a member crash or restart costs
// no change and repeats none. One thing can take changes away: compaction. If the revisions the watch still needs
// are compacted (the watcher was cut off for long), the watch fails with `Compacted`; the changes in that gap are
// gone from every member, so the value is read again and the reader jumps to it. Updates stay in revision order
// and are never repeated, but the intermediate values of the gap are skipped: a configuration reader wants the
// latest value, which it still gets.
//
// Built on the public client alone (`tsraft/client`).

import { Client, KvError } from '../library-client';

/** A configuration value as of one revision. */
export interface ConfigValue {
  /** The value, or null while the key does not exist. */
  value: string | null;
  /**
   * The revision of the write that produced this value (the key's modRevision, or the revision that deleted it).
   * For a key found absent by a read (the first one, or the one after a compaction), the store's revision then.
   */
  revision: number;
}

export interface WatchConfigOptions {
  /** Ends the iteration. */
  signal?: AbortSignal;
}

/**
 * The value of `key` now, then each change of it, in revision order, each once. Ends when `signal` aborts; throws
 * what the client throws for anything but compaction (see the top of this file).
 */
export async function* watchConfig(client: Client, key: string, opts: WatchConfigOptions = {}): AsyncGenerator<ConfigValue> {
  let last: ConfigValue | undefined;
  while (opts.signal?.aborted !== true) {
    const read = await readConfig(client, key);
    // After a compaction the value read may be the one already delivered; deliver it only if it is news.
    const news = last === undefined || (read.current.revision > last.revision && !(read.current.value === null && last.value === null));
    if (news) {
      last = read.current;
      yield read.current;
    }
    try {
      for await (const batch of client.watch(key, { startRevision: read.storeRevision + 1, signal: opts.signal })) {
        // One key, and a transaction writes a key at most once, so a batch holds one event.
        for (const event of batch.events) {
          last = { value: event.type === 'put' ? event.value ?? '' : null, revision: batch.revision };
          yield last;
        }
      }
      return;
    } catch (err) {
      if (!(err instanceof KvError && err.code === 'Compacted')) throw err;
    }
  }
}

/** Reads `key` and the store revision of the read: a prefix listing of one key, since `key` sorts first under itself. */
async function readConfig(client: Client, key: string): Promise<{ current: ConfigValue; storeRevision: number }> {
  const { kvs, revision } = await client.listWithRevisions(key, { limit: 1 });
  const kv = kvs[0];
  const current = kv !== undefined && kv.key === key ? { value: kv.value, revision: kv.modRevision } : { value: null, revision };
  return { current, storeRevision: revision };
}

/**
 * A configuration value kept current in the background: `current` is the latest value seen, `onChange` hears each
 * update (the first read included), `close()` stops. `failed` resolves if the watch stops on an error (never for
 * a member crash, which the client rides out; for example a key the server refuses).
 */
export class WatchedConfig {
  private latest: ConfigValue;
  /** Resolves with the error that stopped the watch, if one does. */
  readonly failed: Promise<Error>;

  private constructor(first: ConfigValue, updates: AsyncGenerator<ConfigValue>, private readonly abort: AbortController, onChange: ((value: ConfigValue) => void) | undefined) {
    this.latest = first;
    this.failed = (async () => {
      try {
        for await (const update of updates) {
          this.latest = update;
          onChange?.(update);
        }
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
      // Closed: never resolve, so `failed` means failure only.
      return new Promise<Error>(() => undefined);
    })();
  }

  /** Reads `key` and starts following it; resolves once the first value is known. */
  static async open(client: Client, key: string, opts: { onChange?: (value: ConfigValue) => void } = {}): Promise<WatchedConfig> {
    const abort = new AbortController();
    const updates = watchConfig(client, key, { signal: abort.signal });
    const first = await updates.next();
    if (first.done === true) throw new KvError('Stopped', `The watch of configuration key "${key}" ended before its first read`);
    opts.onChange?.(first.value);
    return new WatchedConfig(first.value, updates, abort, opts.onChange);
  }

  /** The latest value seen. */
  get current(): ConfigValue {
    return this.latest;
  }

  /** Stops following the key. */
  close(): void {
    this.abort.abort();
  }
}
