// # Sending to one peer
//
// Each peer has its own bounded queue and at most one message request in flight, over a keep-alive connection.
// Whatever piles up while a request is in flight goes out together in the next one, so under load one request
// carries many messages. A down or slow peer only fills its own queue: when it is full, new messages to that
// peer are dropped (Raft retransmits: a lost MsgApp is resent after the probe, a lost heartbeat is the next
// heartbeat) and the node is told the peer is unreachable, which puts its progress back into probing (§5.3).
//
// Snapshots (MsgSnap) travel separately, on their own endpoint and connection, so a large transfer never delays
// the heartbeats that keep the leader in charge; the outcome is reported back so the leader leaves
// StateSnapshot (§7; etcd's reportSnapshot).

import http from 'node:http';
import { Logger } from '../raft/logger';
import { Message, MessageType, NodeId } from '../raft/types';
import { encodeMessage, encodeMessages } from '../raft/codec';
import { entsSize } from '../raft/util';
import { headers } from './errors';

/** Limits and callbacks of one peer's sender. */
export interface PeerSenderOptions {
  localId: NodeId;
  peerId: NodeId;
  /** The peer's peer URL, e.g. http://127.0.0.1:12380. */
  url: string;
  clusterId: string;
  logger: Logger;
  /** Messages waiting beyond this are dropped. */
  maxQueued: number;
  /** A request carries messages up to about this many bytes (at least one message). */
  maxBatchBytes: number;
  requestTimeoutMs: number;
  snapshotTimeoutMs: number;
  onUnreachable(peerId: NodeId): void;
  onSnapshotResult(peerId: NodeId, ok: boolean): void;
  /** The peer answered that this node is no longer a member. */
  onRemoved(): void;
}

/** What a finished request said. */
interface Reply {
  status: number;
  body: string;
}

/** The sending side of the connection to one peer. */
export class PeerSender {
  private readonly queue: Message[] = [];
  private inFlight = false;
  private snapshotInFlight = false;
  // Invariant: `active` is false after a failed request until one succeeds; used so a down peer is logged once.
  private active = true;
  private stopped = false;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly snapshotAgent = new http.Agent({ keepAlive: false, maxSockets: 1 });
  private url: string;
  /** Message requests sent so far, and the messages they carried (for the node's counters). */
  requestsSent = 0;
  messagesSent = 0;

  constructor(private readonly opts: PeerSenderOptions) {
    this.url = opts.url;
  }

  /** Whether the last request succeeded (true until one fails). */
  get reachable(): boolean {
    return this.active;
  }

  /** Points the sender at a new address (a member's URL was updated). */
  setURL(url: string): void {
    this.url = url;
  }

  /** Queues a message; returns false when it was dropped. Never blocks. */
  send(m: Message): boolean {
    if (this.stopped) return false;
    if (m.type === MessageType.MsgSnap) {
      this.sendSnapshot(m);
      return true;
    }
    if (this.queue.length >= this.opts.maxQueued) {
      this.opts.onUnreachable(this.opts.peerId);
      return false;
    }
    this.queue.push(m);
    this.pump();
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.agent.destroy();
    this.snapshotAgent.destroy();
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0 || this.stopped) return;
    let bytes = 0;
    let count = 0;
    for (const m of this.queue) {
      // The entries dominate a message's size; 64 bytes cover the other fields.
      const size = 64 + entsSize(m.entries);
      if (count > 0 && bytes + size > this.opts.maxBatchBytes) break;
      bytes += size;
      count++;
    }
    const batch = this.queue.splice(0, count);
    this.inFlight = true;
    this.requestsSent++;
    this.messagesSent += batch.length;
    this.post('/raft/messages', toBuffer(encodeMessages(batch)), this.agent, this.opts.requestTimeoutMs).then(
      (reply) => {
        this.inFlight = false;
        if (this.handleReply(reply)) {
          this.markActive();
          this.pump();
        } else {
          this.fail(`refused with ${reply.status}: ${reply.body}`);
        }
      },
      (err: unknown) => {
        this.inFlight = false;
        this.fail(err instanceof Error ? err.message : String(err));
      },
    );
  }

  // A failed request drops what was queued: those messages are stale by the time the peer is back, and Raft
  // re-sends what still matters once the peer answers again.
  private fail(reason: string): void {
    this.queue.length = 0;
    if (this.active) {
      this.active = false;
      this.opts.logger.warning(`peer ${this.opts.peerId} at ${this.url} became unreachable: ${reason}`);
    }
    this.opts.onUnreachable(this.opts.peerId);
  }

  private markActive(): void {
    if (!this.active) {
      this.active = true;
      this.opts.logger.info(`peer ${this.opts.peerId} at ${this.url} became reachable`);
    }
  }

  /** Returns whether the peer accepted; acts on a refusal that concerns this whole node. */
  private handleReply(reply: Reply): boolean {
    if (reply.status >= 200 && reply.status < 300) return true;
    if (reply.status === 410) this.opts.onRemoved();
    return false;
  }

  private sendSnapshot(m: Message): void {
    if (this.snapshotInFlight) {
      this.opts.onSnapshotResult(this.opts.peerId, false);
      return;
    }
    this.snapshotInFlight = true;
    const size = m.snapshot?.data.length ?? 0;
    this.opts.logger.info(`sending snapshot at index ${m.snapshot?.metadata.index ?? 0} (${size} bytes) to peer ${this.opts.peerId}`);
    const body = encodeMessage(m);
    this.post('/raft/snapshot', toBuffer(body), this.snapshotAgent, this.opts.snapshotTimeoutMs).then(
      (reply) => {
        this.snapshotInFlight = false;
        const ok = this.handleReply(reply);
        if (!ok) this.opts.logger.warning(`peer ${this.opts.peerId} refused a snapshot with ${reply.status}: ${reply.body}`);
        else this.opts.logger.info(`snapshot sent to peer ${this.opts.peerId}`);
        this.opts.onSnapshotResult(this.opts.peerId, ok);
      },
      (err: unknown) => {
        this.snapshotInFlight = false;
        this.opts.logger.warning(`snapshot to peer ${this.opts.peerId} failed: ${err instanceof Error ? err.message : String(err)}`);
        this.opts.onUnreachable(this.opts.peerId);
        this.opts.onSnapshotResult(this.opts.peerId, false);
      },
    );
  }

  private post(path: string, body: Buffer, agent: http.Agent, timeoutMs: number): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const target = new URL(path, this.url);
      const req = http.request(
        target,
        {
          method: 'POST',
          agent,
          timeout: timeoutMs,
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': body.length,
            [headers.clusterId]: this.opts.clusterId,
            [headers.from]: String(this.opts.localId),
            [headers.to]: String(this.opts.peerId),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      // Raft messages are small and latency-bound: never let Nagle's algorithm hold one back.
      req.on('socket', (socket) => socket.setNoDelay(true));
      req.on('timeout', () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
