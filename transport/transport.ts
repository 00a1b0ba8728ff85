// # The peer transport
//
// What a member uses to talk to the rest of the cluster: one HTTP server on the peer port, which accepts a stream from
// every peer (transport/server.ts), and one outgoing stream to every peer (transport/peer.ts). So between two members
// there are exactly two connections, one per direction, each carrying frames one way and keepalives the other
// (docs/transport.md). The node hands over the messages of each Ready in one call; every peer's share goes out in one
// write, and nothing waits for an answer.
//
// Peers come and go as configuration changes are applied; a restarted peer is dialled again with backoff until it
// answers, or at once when its own stream to this member arrives (it dials everyone as it starts). One timer, every
// `keepaliveMs`, keeps all the streams honest in both directions.

import http from 'node:http';
import { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Logger } from '../raft/logger';
import { Message, MessageType, NodeId } from '../raft/types';
import { PeerSender, StreamState, StreamTiming } from './peer';
import { MemberStatus, PeerServerOptions, StreamAcceptor } from './server';

/** Identity, callbacks into the node, and limits (each optional limit has a default in the code). */
export interface TransportOptions {
  localId: NodeId;
  clusterId: string;
  logger: Logger;
  memberStatus(id: NodeId): MemberStatus;
  /** Accepted messages, to be stepped on the node's loop. */
  deliver(msgs: Message[]): void;
  reportUnreachable(id: NodeId): void;
  /** Nothing listens at a peer's address: its process is not running (transport/peer.ts). */
  reportGone(id: NodeId): void;
  /** A peer reported unreachable has an open stream again. */
  reportReachable(id: NodeId): void;
  reportSnapshot(id: NodeId, ok: boolean): void;
  /** A peer said this node was removed from the cluster. */
  onRemoved(): void;
  /** Messages waiting for one peer's stream beyond this are dropped. */
  maxQueued?: number;
  /** The largest message a stream may carry. */
  maxMessageBytes?: number;
  maxSnapshotBytes?: number;
  snapshotTimeoutMs?: number;
  timing?: Partial<StreamTiming>;
}

/**
 * Stream timing unless told otherwise: a dead stream is noticed within 2 s, and a peer that is down is dialled every
 * 100 ms, as etcd's stream readers retry, so a restarted peer is reached as soon as it is up (its ports are bound
 * before it reads its data, so the dial waits there for it).
 */
export const defaultTiming: StreamTiming = {
  keepaliveMs: 500,
  idleTimeoutMs: 2_000,
  dialTimeoutMs: 1_000,
  minBackoffMs: 50,
  maxBackoffMs: 100,
};

/** Sends and receives Raft messages over streams on the peer port. */
export class Transport {
  private readonly peers = new Map<NodeId, PeerSender>();
  // Senders with queued messages in the `send` call under way.
  private readonly touched: PeerSender[] = [];
  private readonly timing: StreamTiming;
  private readonly acceptor: StreamAcceptor;
  private readonly livenessTimer: NodeJS.Timeout;
  private server: http.Server | null = null;
  // Counts of senders already removed, so the totals never go down.
  private readonly retired = { writes: 0, messages: 0 };

  constructor(private readonly opts: TransportOptions) {
    this.timing = { ...defaultTiming, ...opts.timing };
    this.acceptor = new StreamAcceptor(this.serverOptions(), this.timing.idleTimeoutMs);
    this.livenessTimer = setInterval(() => {
      // Checked after the loop has read the sockets, not before (timers run first in Node's loop): after a long
      // synchronous stretch the bytes that prove a stream alive may be waiting unread.
      setImmediate(() => {
        const now = Date.now();
        for (const peer of this.peers.values()) peer.checkLiveness(now);
        this.acceptor.checkLiveness(now);
      });
    }, this.timing.keepaliveMs);
    this.livenessTimer.unref();
  }

  /** Starts serving the peer port; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    const { request, upgrade } = this.handlers();
    return new Promise<number>((resolve, reject) => {
      const server = http.createServer(request);
      server.keepAliveTimeout = 60_000;
      server.on('upgrade', upgrade);
      server.once('error', reject);
      server.listen(port, host, () => {
        this.server = server;
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  /**
   * The peer port's handlers, for a server bound before the transport existed (a member binds its ports first, so
   * that peers dialling it while it starts wait rather than fail); `adopt` that server too, so `stop` closes it.
   */
  handlers(): { request: http.RequestListener; upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void } {
    // The plain routes load express on first use (transport/routes.ts): nothing a member needs to start does.
    let routes: http.RequestListener | undefined;
    const request: http.RequestListener = (req, res) => {
      routes ??= (require('./routes') as typeof import('./routes')).peerApp(this.serverOptions());
      routes(req, res);
    };
    return { request, upgrade: (req, socket, head) => this.acceptor.accept(req, socket, head) };
  }

  /** Takes over `server`, already bound and given `handlers()`, as the peer port. */
  adopt(server: http.Server): void {
    this.server = server;
  }

  /** Adds a peer, or points an existing one at a new URL. */
  addPeer(id: NodeId, url: string): void {
    if (id === this.opts.localId || url === '') return;
    const existing = this.peers.get(id);
    if (existing !== undefined) {
      existing.setURL(url);
      return;
    }
    this.peers.set(
      id,
      new PeerSender({
        localId: this.opts.localId,
        peerId: id,
        url,
        clusterId: this.opts.clusterId,
        logger: this.opts.logger,
        maxQueued: this.opts.maxQueued ?? 4096,
        timing: this.timing,
        snapshotTimeoutMs: this.opts.snapshotTimeoutMs ?? 60_000,
        onUnreachable: this.opts.reportUnreachable,
        onGone: this.opts.reportGone,
        onReachable: this.opts.reportReachable,
        onSnapshotResult: this.opts.reportSnapshot,
        onRemoved: this.opts.onRemoved,
      }),
    );
  }

  /** Makes the peer set exactly `peers` (by ID), adding, re-pointing and removing senders as needed. */
  syncPeers(peers: readonly { id: NodeId; peerURL: string }[]): void {
    const keep = new Set(peers.map((p) => p.id));
    for (const id of [...this.peers.keys()]) if (!keep.has(id)) this.removePeer(id);
    for (const p of peers) this.addPeer(p.id, p.peerURL);
  }

  removePeer(id: NodeId): void {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.retired.writes += peer.writes;
    this.retired.messages += peer.messagesSent;
    peer.stop();
    this.peers.delete(id);
    this.acceptor.closeFrom(id);
  }

  /** False once the stream to peer `id` has failed, until it opens again (false for an unknown peer). */
  isReachable(id: NodeId): boolean {
    return this.peers.get(id)?.reachable ?? false;
  }

  /**
   * Sends a Ready's messages: each peer's share in one write to its stream, in the order given. A message to an
   * unknown peer, or one its stream cannot take, is dropped and the peer reported unreachable.
   */
  send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      const peer = this.peers.get(m.to);
      if (peer === undefined) {
        this.opts.reportUnreachable(m.to);
      } else if (m.type === MessageType.MsgSnap) {
        peer.sendSnapshot(m);
      } else if (peer.enqueue(m) && !this.touched.includes(peer)) {
        this.touched.push(peer);
      }
    }
    for (const peer of this.touched) peer.flush();
    this.touched.length = 0;
  }

  /** Stream writes made and messages they carried, over every peer this transport ever had. */
  counters(): { peerRequests: number; peerMessages: number } {
    let peerRequests = this.retired.writes;
    let peerMessages = this.retired.messages;
    for (const peer of this.peers.values()) {
      peerRequests += peer.writes;
      peerMessages += peer.messagesSent;
    }
    return { peerRequests, peerMessages };
  }

  /** Where each stream stands: outgoing by peer, and the peers whose streams to this member are open. */
  streams(): { outgoing: Record<string, StreamState>; incoming: NodeId[] } {
    const outgoing: Record<string, StreamState> = {};
    for (const [id, peer] of this.peers) outgoing[String(id)] = peer.streamState;
    return { outgoing, incoming: this.acceptor.senders() };
  }

  /** Stops every stream and the server. */
  async stop(): Promise<void> {
    clearInterval(this.livenessTimer);
    for (const peer of this.peers.values()) peer.stop();
    this.peers.clear();
    this.acceptor.closeAll();
    const server = this.server;
    this.server = null;
    if (server === null) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private serverOptions(): PeerServerOptions {
    return {
      localId: this.opts.localId,
      clusterId: this.opts.clusterId,
      logger: this.opts.logger,
      maxMessageBytes: this.opts.maxMessageBytes ?? 64 * 1024 * 1024,
      maxSnapshotBytes: this.opts.maxSnapshotBytes ?? 1024 * 1024 * 1024,
      memberStatus: this.opts.memberStatus,
      deliver: this.opts.deliver,
      health: () => ({ streams: this.streams() }),
      onAccepted: (from) => this.peers.get(from)?.peerIsUp(),
    };
  }
}
