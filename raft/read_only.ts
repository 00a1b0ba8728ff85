// # Linearizable reads without writing to the log (§8, thesis §6.4)
//
// A leader answers a read at its commit index only once it knows it is still the leader. With ReadOnlySafe it
// proves this by a round of heartbeats acknowledged by a quorum, each heartbeat carrying the request's context;
// with ReadOnlyLeaseBased it trusts its lease (CheckQuorum guarantees no other leader can have been elected within
// an election timeout), which is faster but assumes bounded clock drift.

import { Message, NodeId } from './types';

/** How a leader confirms its leadership before serving a read. Values match etcd's ReadOnlyOption. */
export enum ReadOnlyOption {
  /** Confirm with a quorum of heartbeat acknowledgements (the default). */
  ReadOnlySafe = 0,
  /** Rely on the leader lease; needs CheckQuorum. */
  ReadOnlyLeaseBased = 1,
}

/** One pending read: the request and the commit index it will be answered with. */
export interface ReadIndexStatus {
  req: Message;
  index: number;
  /** Voters that acknowledged a heartbeat carrying this request's context (the leader acks itself). */
  acks: Map<NodeId, boolean>;
}

/** The context bytes as a Map key. Contexts are short request IDs, so a char-per-byte string is cheap. */
function contextKey(ctx: Uint8Array): string {
  let s = '';
  for (let i = 0; i < ctx.length; i++) {
    s += String.fromCharCode(ctx[i]);
  }
  return s;
}

/** The queue of reads a leader has not yet confirmed, in arrival order. */
export class ReadOnly {
  readonly option: ReadOnlyOption;
  /** Pending reads by context. Invariant: holds exactly the reads in `queue`. */
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: { key: string; status: ReadIndexStatus }[] = [];

  constructor(option: ReadOnlyOption) {
    this.option = option;
  }

  /**
   * Queues a read received when the commit index was `index`. A repeated context is ignored: the first request
   * with it is already waiting.
   */
  addRequest(index: number, m: Message): void {
    const key = contextKey(m.entries[0].data);
    if (this.pending.has(key)) {
      return;
    }
    const status: ReadIndexStatus = { req: m, index, acks: new Map() };
    this.pending.set(key, status);
    this.queue.push({ key, status });
  }

  /** Records `id`'s heartbeat acknowledgement for the read tagged `context`; returns its acks, if it is pending. */
  recvAck(id: NodeId, context: Uint8Array): Map<NodeId, boolean> | null {
    const rs = this.pending.get(contextKey(context));
    if (rs === undefined) {
      return null;
    }
    rs.acks.set(id, true);
    return rs.acks;
  }

  /**
   * Dequeues the read acknowledged by `m` and every read queued before it: a quorum confirming leadership after
   * the later read also confirms it after the earlier ones.
   */
  advance(m: Message): ReadIndexStatus[] {
    const key = contextKey(m.context);
    const at = this.queue.findIndex((p) => p.key === key);
    if (at < 0) {
      return [];
    }
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    for (const p of done) {
      this.pending.delete(p.key);
    }
    return done.map((p) => p.status);
  }

  /** The context of the newest pending read, which heartbeats carry so that one round confirms all reads. */
  lastPendingRequestCtx(): Uint8Array | null {
    const last = this.queue[this.queue.length - 1];
    return last === undefined ? null : last.status.req.entries[0].data;
  }

  /** The number of reads waiting for confirmation. */
  pendingCount(): number {
    return this.queue.length;
  }
}
