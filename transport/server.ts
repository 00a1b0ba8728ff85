// # Receiving from peers
//
// The peer port is one HTTP server. Every other member keeps one stream open to it (`GET /raft/stream` with
// `Upgrade: tsraft-stream/1`) and writes its messages for this member into that stream as frames
// (transport/framing.ts). Snapshots, which may be large, come on a request of their own (`POST /raft/snapshot`) so
// they never hold up the heartbeats behind them, and `GET /health` answers anyone with curl; those plain routes are
// in transport/routes.ts. This file takes the streams.
//
// A stream is checked before it is accepted: its headers must name this cluster, this member, and a sender that is a
// current member; otherwise it is refused with a 4xx answer and no frame of it is read. A message from another
// cluster (a member pointed at the wrong address) or from a removed member (whose stale term must not disrupt the
// cluster) is thereby never stepped. Once accepted (101), every message must still say it is from the sender the
// headers named (a forwarded leadership transfer may name another member) and to this member, or the stream is closed.
//
// One accepted stream per sender: a new stream from a peer replaces the old one, whose remaining bytes are never
// delivered. The sender opens a new stream only after giving up on the old one, so this is what keeps the messages
// of one sender in order across a reconnection.

import http from 'node:http';
import { Duplex } from 'node:stream';
import { Logger } from '../raft/logger';
import { Message, MessageType, NodeId } from '../raft/types';
import { STREAM_PATH, STREAM_PROTOCOL, TransportError, headers } from './errors';
import { FrameDecoder, KEEPALIVE } from './framing';

/** The requests a follower hands on to its leader as they were made, with their maker as the sender. */
const relayedUnchanged: ReadonlySet<MessageType> = new Set([MessageType.MsgProp, MessageType.MsgReadIndex, MessageType.MsgTransferLeader]);

/** Whether an ID belongs to the cluster, as the node's applied membership says. */
export type MemberStatus = 'member' | 'removed' | 'unknown';

/** Identity, limits and callbacks of the peer endpoints. */
export interface PeerServerOptions {
  localId: NodeId;
  clusterId: string;
  logger: Logger;
  /** The largest frame a stream may carry. */
  maxMessageBytes: number;
  maxSnapshotBytes: number;
  memberStatus(id: NodeId): MemberStatus;
  /** Hands accepted messages to the node; they are stepped on its loop, not here. */
  deliver(msgs: Message[]): void;
  /** What `GET /health` reports beside the member's identity. */
  health(): unknown;
  /** A stream from `from` was accepted: that peer is up. */
  onAccepted(from: NodeId): void;
}

/** One accepted stream from a peer. */
interface InboundStream {
  from: NodeId;
  socket: Duplex;
  decoder: FrameDecoder;
  // When a byte last arrived, in ms (Date.now()).
  lastReadAt: number;
}

/** Keeps the accepted streams, at most one per sender, and feeds their frames to the node. */
export class StreamAcceptor {
  // Invariant: at most one stream per sender; a stream not in this map delivers nothing.
  private readonly streams = new Map<NodeId, InboundStream>();
  /** Messages delivered so far. */
  messagesReceived = 0;

  constructor(
    private readonly opts: PeerServerOptions,
    private readonly idleTimeoutMs: number,
  ) {}

  /** The server's `upgrade` listener: accepts or refuses one stream. */
  accept(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    let from: NodeId;
    try {
      from = checkStreamRequest(this.opts, req);
    } catch (err) {
      const e = err instanceof TransportError ? err : new TransportError('BadBody', String(err));
      if (e.code !== 'UpgradeRequired') this.opts.logger.debug(`refused a peer stream with ${e.status}: ${e.message}`);
      refuse(socket, e);
      return;
    }
    const previous = this.streams.get(from);
    if (previous !== undefined) {
      this.streams.delete(from);
      previous.socket.destroy();
    }
    const stream: InboundStream = { from, socket, decoder: new FrameDecoder(this.opts.maxMessageBytes), lastReadAt: Date.now() };
    this.streams.set(from, stream);
    setNoDelay(socket);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${STREAM_PROTOCOL}\r\n\r\n`);
    socket.on('data', (piece: Buffer) => this.receive(stream, piece));
    socket.on('close', () => {
      if (this.streams.get(from) === stream) this.streams.delete(from);
    });
    if (head.length > 0) this.receive(stream, head);
    this.opts.onAccepted(from);
  }

  /** Closes streams nothing arrived on for too long (the sender keeps them busy with keepalives); answers keepalives. */
  checkLiveness(now: number): void {
    for (const stream of this.streams.values()) {
      if (now - stream.lastReadAt > this.idleTimeoutMs) {
        this.opts.logger.warning(`closing the stream from peer ${stream.from}: nothing arrived for ${now - stream.lastReadAt} ms`);
        this.close(stream);
      } else {
        stream.socket.write(KEEPALIVE);
      }
    }
  }

  /** The peers with an accepted stream to this member. */
  senders(): NodeId[] {
    return [...this.streams.keys()];
  }

  /** Closes the stream from `id`, if any (the peer was removed). */
  closeFrom(id: NodeId): void {
    const stream = this.streams.get(id);
    if (stream !== undefined) this.close(stream);
  }

  closeAll(): void {
    for (const stream of [...this.streams.values()]) this.close(stream);
  }

  private close(stream: InboundStream): void {
    if (this.streams.get(stream.from) === stream) this.streams.delete(stream.from);
    stream.socket.destroy();
  }

  // Whether `m` may arrive on the stream from `sender`: addressed to this member, and from the sender itself. The
  // exceptions are the requests a follower relays to its leader unchanged, still naming the member that made them
  // (etcd's convention): a proposal or a read index request that reached a member which is not the leader (one that
  // sent it to a leader just deposed, or to a leader that was paused and has just stepped down on waking), and a
  // leadership transfer, which names the member that is to lead (thesis §3.10). Those may name any current member.
  // Refusing them cost more than the one message: the stream closed, with every message behind it in the same read.
  private sentBy(m: Message, sender: NodeId): boolean {
    if (m.to !== this.opts.localId) return false;
    if (m.from === sender) return true;
    return relayedUnchanged.has(m.type) && this.opts.memberStatus(m.from) === 'member';
  }

  private receive(stream: InboundStream, piece: Buffer): void {
    if (this.streams.get(stream.from) !== stream) return;
    stream.lastReadAt = Date.now();
    let msgs: Message[];
    try {
      msgs = stream.decoder.push(piece);
    } catch (err) {
      this.opts.logger.warning(`closing the stream from peer ${stream.from}: ${err instanceof Error ? err.message : String(err)}`);
      this.close(stream);
      return;
    }
    if (msgs.length === 0) return;
    for (const m of msgs) {
      if (!this.sentBy(m, stream.from)) {
        this.opts.logger.warning(`closing the stream from peer ${stream.from}: it carried a message from ${m.from} to ${m.to}`);
        this.close(stream);
        return;
      }
    }
    // A member removed while its stream was open: it hears why when it reconnects (410).
    if (this.opts.memberStatus(stream.from) !== 'member') {
      this.close(stream);
      return;
    }
    this.messagesReceived += msgs.length;
    this.opts.deliver(msgs);
  }
}

function setNoDelay(socket: Duplex): void {
  const s: unknown = socket;
  if (typeof s === 'object' && s !== null && 'setNoDelay' in s && typeof s.setNoDelay === 'function') s.setNoDelay(true);
}

// An answer written straight onto the socket: after an `upgrade` event no ServerResponse exists.
function refuse(socket: Duplex, e: TransportError): void {
  const text = JSON.stringify({ error: { code: e.code, message: e.message } });
  const extra = e.code === 'UpgradeRequired' ? `upgrade: ${STREAM_PROTOCOL}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\n${extra}connection: close\r\n\r\n${text}`,
  );
}

export function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function checkStreamRequest(opts: PeerServerOptions, req: http.IncomingMessage): NodeId {
  const path = (req.url ?? '').split('?')[0];
  if (path !== STREAM_PATH || req.method !== 'GET' || header(req, 'upgrade')?.toLowerCase() !== STREAM_PROTOCOL) {
    throw new TransportError('UpgradeRequired', `Only GET ${STREAM_PATH} with Upgrade: ${STREAM_PROTOCOL} opens a peer stream`);
  }
  return checkSender(opts, req);
}

/** The identity checks shared by streams and snapshot requests, made before any of the body is read; returns the sender. */
export function checkSender(opts: PeerServerOptions, req: http.IncomingMessage): NodeId {
  const cluster = header(req, headers.clusterId);
  if (cluster !== opts.clusterId) {
    throw new TransportError('ClusterMismatch', `Request for cluster ${cluster ?? '(none)'} reached cluster ${opts.clusterId}`);
  }
  const to = Number(header(req, headers.to));
  if (to !== opts.localId) throw new TransportError('WrongRecipient', `Request for member ${header(req, headers.to) ?? '(none)'} reached member ${opts.localId}`);
  const fromHeader = header(req, headers.from);
  const from = Number(fromHeader);
  if (!Number.isSafeInteger(from) || from <= 0) throw new TransportError('UnknownMember', `Sender ID ${fromHeader ?? '(none)'} is not a member ID`);
  const status = opts.memberStatus(from);
  if (status === 'removed') throw new TransportError('RemovedMember', `Member ${from} was removed from the cluster`);
  if (status === 'unknown') throw new TransportError('UnknownMember', `Sender ${from} is not a member of this cluster`);
  return from;
}
