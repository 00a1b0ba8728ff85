// # The peer transport
//
// What a node uses to talk to the rest of the cluster: an HTTP server on the peer port (transport/server.ts) and
// one sender per peer (transport/peer.ts). The node hands it the messages of each Ready; it never waits for them.
// Peers come and go as configuration changes are applied; a restarted peer is simply reached again by the next
// request, because every request opens (or reuses) a connection on its own.

import http from 'node:http';
import { AddressInfo } from 'node:net';
import { Logger } from '../raft/logger';
import { Message, NodeId } from '../raft/types';
import { PeerSender } from './peer';
import { MemberStatus, peerApp } from './server';

/** Identity, callbacks into the node, and limits (each optional limit has a default in the code). */
export interface TransportOptions {
  localId: NodeId;
  clusterId: string;
  logger: Logger;
  memberStatus(id: NodeId): MemberStatus;
  /** Accepted messages, to be stepped on the node's loop. */
  deliver(msgs: Message[]): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, ok: boolean): void;
  /** A peer said this node was removed from the cluster. */
  onRemoved(): void;
  maxQueued?: number;
  maxBatchBytes?: number;
  maxMessageBytes?: number;
  maxSnapshotBytes?: number;
  requestTimeoutMs?: number;
  snapshotTimeoutMs?: number;
}

/** Sends and receives Raft messages over HTTP. */
export class Transport {
  private readonly peers = new Map<NodeId, PeerSender>();
  private server: http.Server | null = null;
  // Counts of senders already removed, so the totals never go down.
  private readonly retired = { requests: 0, messages: 0 };

  constructor(private readonly opts: TransportOptions) {}

  /** Starts serving the peer endpoints; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    const app = peerApp({
      localId: this.opts.localId,
      clusterId: this.opts.clusterId,
      maxMessageBytes: this.opts.maxMessageBytes ?? 64 * 1024 * 1024,
      maxSnapshotBytes: this.opts.maxSnapshotBytes ?? 1024 * 1024 * 1024,
      memberStatus: this.opts.memberStatus,
      deliver: this.opts.deliver,
    });
    return new Promise<number>((resolve, reject) => {
      const server = http.createServer(app);
      server.keepAliveTimeout = 60_000;
      server.once('error', reject);
      server.listen(port, host, () => {
        this.server = server;
        resolve((server.address() as AddressInfo).port);
      });
    });
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
        maxBatchBytes: this.opts.maxBatchBytes ?? 4 * 1024 * 1024,
        requestTimeoutMs: this.opts.requestTimeoutMs ?? 5_000,
        snapshotTimeoutMs: this.opts.snapshotTimeoutMs ?? 60_000,
        onUnreachable: this.opts.reportUnreachable,
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
    if (peer !== undefined) {
      this.retired.requests += peer.requestsSent;
      this.retired.messages += peer.messagesSent;
    }
    peer?.stop();
    this.peers.delete(id);
  }

  /** Whether the last request to peer `id` succeeded (false for an unknown peer). */
  isReachable(id: NodeId): boolean {
    return this.peers.get(id)?.reachable ?? false;
  }

  /** Queues messages for their peers. A message to an unknown peer is dropped and reported unreachable. */
  send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      const peer = this.peers.get(m.to);
      if (peer === undefined) {
        this.opts.reportUnreachable(m.to);
        continue;
      }
      peer.send(m);
    }
  }

  /** Message requests sent and messages they carried, over every peer this transport ever had. */
  counters(): { peerRequests: number; peerMessages: number } {
    let peerRequests = this.retired.requests;
    let peerMessages = this.retired.messages;
    for (const peer of this.peers.values()) {
      peerRequests += peer.requestsSent;
      peerMessages += peer.messagesSent;
    }
    return { peerRequests, peerMessages };
  }

  /** Stops every sender and the server. */
  async stop(): Promise<void> {
    for (const peer of this.peers.values()) peer.stop();
    this.peers.clear();
    const server = this.server;
    this.server = null;
    if (server === null) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
