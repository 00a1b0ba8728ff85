// # Sending to one peer
//
// Each peer gets one long-lived stream from this member: an HTTP request upgraded to a plain byte stream
// (`GET /raft/stream`, `Upgrade: tsraft-stream/1`), into which the messages of each Ready for that peer go as frames
// (transport/framing.ts), in one write. Nothing is waited for per message: no request, no response, no new
// connection, so a message costs a few bytes in a write the Ready makes anyway.
//
// The stream is in one of three states:
//
// - `dialing`: a connection and its upgrade are under way. Messages wait in a bounded queue and go out, in order,
//   the moment the stream opens.
// - `open`: messages are written as the node hands them over. If the socket cannot take more (the peer reads too
//   slowly) they wait in the same bounded queue until it drains.
// - `waiting`: the last attempt failed; the next one starts after a backoff that doubles up to a ceiling. Messages
//   are dropped at once and the peer is reported unreachable.
//
// Dropping is always of the newest messages, and a stream carries what it was given in the order it was given: a
// peer may miss messages but never sees them reordered. Raft is built for exactly that network: a lost heartbeat is
// followed by the next, a lost MsgApp is found missing by the next one (its index does not follow on) and resent
// after a probe (§5.3), a lost vote request is retried by the next election. Reordering, on the other hand, would
// make a follower reject a pipelined append it would have accepted, and send the leader back to probing.
//
// A stream is alive as long as bytes arrive on it: the peer writes a keepalive frame every `keepaliveMs` and this
// side does the same when it has sent nothing else. A stream silent for `idleTimeoutMs` (a paused peer, a partition
// that drops packets without a word) is closed and dialled again; so is a dial that gets no answer in `dialTimeoutMs`.
//
// Snapshots (MsgSnap) travel separately, on their own request, so a large transfer never delays the heartbeats that
// keep the leader in charge; the outcome is reported back so the leader leaves StateSnapshot (§7; etcd's
// reportSnapshot).

import http from 'node:http';
import { Socket } from 'node:net';
import { Logger } from '../raft/logger';
import { Message, NodeId } from '../raft/types';
import { encodeMessage } from '../raft/codec';
import { STREAM_PATH, STREAM_PROTOCOL, headers } from './errors';
import { KEEPALIVE, encodeFrames } from './framing';

/** Timing of a peer stream, in milliseconds. */
export interface StreamTiming {
  /** Each end writes a keepalive frame when it has been quiet this long. */
  keepaliveMs: number;
  /** A stream nothing arrived on for this long is taken for dead. */
  idleTimeoutMs: number;
  /** A dial not answered within this is abandoned. */
  dialTimeoutMs: number;
  /** The first wait after a failure; it doubles with each further failure, up to `maxBackoffMs`. */
  minBackoffMs: number;
  maxBackoffMs: number;
}

/** Limits and callbacks of one peer's sender. */
export interface PeerSenderOptions {
  localId: NodeId;
  peerId: NodeId;
  /** The peer's peer URL, e.g. http://127.0.0.1:12380. */
  url: string;
  clusterId: string;
  logger: Logger;
  /** Messages waiting for the stream beyond this are dropped. */
  maxQueued: number;
  timing: StreamTiming;
  snapshotTimeoutMs: number;
  onUnreachable(peerId: NodeId): void;
  /**
   * A dial was refused: nothing listens at the peer's address, so its process is not running (killed, crashed, or
   * stopped). Stronger than unreachable, which a slow or cut-off peer also is.
   */
  onGone(peerId: NodeId): void;
  /** The stream opened again after failing: the peer is back. */
  onReachable(peerId: NodeId): void;
  onSnapshotResult(peerId: NodeId, ok: boolean): void;
  /** The peer answered that this member is no longer in the cluster. */
  onRemoved(): void;
}

/** Where the stream to a peer stands. */
export type StreamState = 'dialing' | 'open' | 'waiting' | 'stopped';

/** What a finished request said. */
interface Reply {
  status: number;
  body: string;
}

/** The sending side of this member's stream to one peer. */
export class PeerSender {
  private state: StreamState = 'waiting';
  // Invariant: non-null exactly when `state` is 'open'.
  private socket: Socket | null = null;
  // Invariant: non-null exactly when `state` is 'dialing'.
  private dialing: http.ClientRequest | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  // Invariant: messages in the order the node gave them, none written yet; at most `maxQueued`.
  private queue: Message[] = [];
  // Invariant: true while the socket's buffer is over its high-water mark; nothing is written until it drains.
  private blocked = false;
  private lastReadAt = 0;
  private wroteSinceCheck = false;
  // Invariant: `reachable` is false after a failure until a stream opens; used so a down peer is logged once.
  private reachable_ = true;
  private snapshotInFlight = false;
  private readonly snapshotAgent = new http.Agent({ keepAlive: false, maxSockets: 1 });
  private url: string;
  /** Writes to the stream so far, and the messages they carried (for the node's counters). */
  writes = 0;
  messagesSent = 0;

  constructor(private readonly opts: PeerSenderOptions) {
    this.url = opts.url;
    this.backoffMs = opts.timing.minBackoffMs;
    this.dial();
  }

  /** False after a failed stream until a new one opens (true before the first attempt ends). */
  get reachable(): boolean {
    return this.reachable_;
  }

  get streamState(): StreamState {
    return this.state;
  }

  /** Points the sender at a new address (a member's URL was updated); the stream is dialled again. */
  setURL(url: string): void {
    if (url === this.url) return;
    this.url = url;
    if (this.state === 'open' || this.state === 'dialing') this.fail(`peer ${this.opts.peerId} moved to ${url}`);
  }

  /**
   * Queues a message for the next `flush`; returns false when it was dropped (no stream, or the queue is full), in
   * which case the peer has been reported unreachable. Never blocks.
   */
  enqueue(m: Message): boolean {
    if (this.state === 'waiting' || this.state === 'stopped' || this.queue.length >= this.opts.maxQueued) {
      this.opts.onUnreachable(this.opts.peerId);
      return false;
    }
    this.queue.push(m);
    return true;
  }

  /** Writes every queued message in one write, if the stream is open and can take it; otherwise they wait. */
  flush(): void {
    if (this.socket === null || this.blocked || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.writes++;
    this.messagesSent += batch.length;
    this.wroteSinceCheck = true;
    if (!this.socket.write(encodeFrames(batch))) this.blocked = true;
  }

  /** Sends a MsgSnap on a request of its own; the outcome goes to `onSnapshotResult`. */
  sendSnapshot(m: Message): void {
    if (this.state === 'stopped' || this.snapshotInFlight) {
      this.opts.onSnapshotResult(this.opts.peerId, false);
      return;
    }
    this.snapshotInFlight = true;
    const size = m.snapshot?.data.length ?? 0;
    this.opts.logger.info(`sending snapshot at index ${m.snapshot?.metadata.index ?? 0} (${size} bytes) to peer ${this.opts.peerId}`);
    const bytes = encodeMessage(m);
    this.post('/raft/snapshot', Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).then(
      (reply) => {
        this.snapshotInFlight = false;
        const ok = reply.status >= 200 && reply.status < 300;
        if (reply.status === 410) this.opts.onRemoved();
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

  /**
   * Dials at once if the stream is waiting out a backoff: the peer just opened a stream to this member, so it is up
   * again (a restarted member dials everyone as it starts), and waiting would only delay its first heartbeat.
   */
  peerIsUp(): void {
    if (this.state !== 'waiting' || this.retryTimer === null) return;
    clearTimeout(this.retryTimer);
    this.backoffMs = this.opts.timing.minBackoffMs;
    this.dial();
  }

  /** Called every `keepaliveMs` by the transport: closes a silent stream, keeps a quiet one visibly alive. */
  checkLiveness(now: number): void {
    if (this.socket === null) return;
    if (now - this.lastReadAt > this.opts.timing.idleTimeoutMs) {
      this.fail(`nothing arrived for ${now - this.lastReadAt} ms`);
      return;
    }
    if (!this.wroteSinceCheck && !this.blocked) this.socket.write(KEEPALIVE);
    this.wroteSinceCheck = false;
  }

  stop(): void {
    this.state = 'stopped';
    this.queue = [];
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.dialing?.destroy();
    this.dialing = null;
    this.socket?.destroy();
    this.socket = null;
    this.snapshotAgent.destroy();
  }

  private dial(): void {
    this.retryTimer = null;
    if (this.state === 'stopped') return;
    this.state = 'dialing';
    const target = new URL(STREAM_PATH, this.url);
    const req = http.request(target, {
      method: 'GET',
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: STREAM_PROTOCOL,
        [headers.clusterId]: this.opts.clusterId,
        [headers.from]: String(this.opts.localId),
        [headers.to]: String(this.opts.peerId),
      },
    });
    this.dialing = req;
    const current = (): boolean => this.dialing === req;
    const timer = setTimeout(() => {
      // Node runs timers before it reads sockets: after a long synchronous stretch (a WAL replay, a GC pause) the
      // answer may be waiting unread. Decide only after the loop has read what arrived.
      setImmediate(() => {
        if (current()) this.fail(`no answer to the stream request within ${this.opts.timing.dialTimeoutMs} ms`);
      });
    }, this.opts.timing.dialTimeoutMs);
    req.on('upgrade', (_res, socket) => {
      clearTimeout(timer);
      if (!current()) {
        socket.destroy();
        return;
      }
      this.opened(socket);
    });
    req.on('response', (res) => {
      clearTimeout(timer);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => undefined);
      res.on('end', () => {
        if (!current()) return;
        const status = res.statusCode ?? 0;
        if (status === 410) this.opts.onRemoved();
        this.fail(`stream refused with ${status}: ${Buffer.concat(chunks).toString('utf8')}`);
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!current()) return;
      this.fail(err.message);
      if (err.code === 'ECONNREFUSED') this.opts.onGone(this.opts.peerId);
    });
    req.end();
  }

  private opened(socket: Socket): void {
    this.dialing = null;
    this.socket = socket;
    this.state = 'open';
    this.blocked = false;
    this.backoffMs = this.opts.timing.minBackoffMs;
    this.lastReadAt = Date.now();
    // Raft messages are small and latency-bound: never let Nagle's algorithm hold one back.
    socket.setNoDelay(true);
    // The peer only ever writes keepalives; their arrival is what says the stream is alive.
    socket.on('data', () => {
      this.lastReadAt = Date.now();
    });
    socket.on('drain', () => {
      if (this.socket !== socket) return;
      this.blocked = false;
      this.flush();
    });
    socket.on('error', (err) => {
      if (this.socket === socket) this.fail(err.message);
    });
    socket.on('close', () => {
      if (this.socket === socket) this.fail('the peer closed the stream');
    });
    if (!this.reachable_) {
      this.reachable_ = true;
      this.opts.logger.info(`peer ${this.opts.peerId} at ${this.url} is reachable again`);
      this.opts.onReachable(this.opts.peerId);
    }
    this.flush();
  }

  // Gives up on the current stream or dial: what was queued is dropped (stale by the time a new stream opens; Raft
  // resends what still matters), the core hears the peer is unreachable, and the next dial waits for the backoff.
  private fail(reason: string): void {
    if (this.state === 'stopped') return;
    const socket = this.socket;
    const req = this.dialing;
    this.socket = null;
    this.dialing = null;
    socket?.destroy();
    req?.destroy();
    this.queue = [];
    this.blocked = false;
    this.state = 'waiting';
    if (this.reachable_) {
      this.reachable_ = false;
      this.opts.logger.warning(`stream to peer ${this.opts.peerId} at ${this.url} failed: ${reason}`);
    } else {
      this.opts.logger.debug(`stream to peer ${this.opts.peerId} failed again: ${reason}`);
    }
    this.opts.onUnreachable(this.opts.peerId);
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.timing.maxBackoffMs);
    this.retryTimer = setTimeout(() => this.dial(), wait);
  }

  private post(path: string, body: Buffer): Promise<Reply> {
    const timeoutMs = this.opts.snapshotTimeoutMs;
    return new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        new URL(path, this.url),
        {
          method: 'POST',
          agent: this.snapshotAgent,
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
      req.on('timeout', () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
