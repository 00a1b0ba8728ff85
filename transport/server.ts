// # Receiving from peers
//
// The peer port serves two endpoints: `POST /raft/messages` (a batch) and `POST /raft/snapshot` (one MsgSnap,
// whose body may be large). Before anything is decoded, the headers must name this cluster, this node, and a
// sender that is a current member; otherwise the request is refused with a 4xx and nothing reaches Raft. A
// message from another cluster (a node pointed at the wrong address) or from a removed member (which must not
// disrupt the cluster with its stale term) is thereby never stepped.

import http from 'node:http';
import express, { Request, Response } from 'express';
import { decodeMessage, decodeMessages } from '../raft/codec';
import { Message, NodeId } from '../raft/types';
import { TransportError, headers } from './errors';

/** Whether an ID belongs to the cluster, as the node's applied membership says. */
export type MemberStatus = 'member' | 'removed' | 'unknown';

/** Identity, limits and callbacks of the peer endpoints. */
export interface PeerServerOptions {
  localId: NodeId;
  clusterId: string;
  maxMessageBytes: number;
  maxSnapshotBytes: number;
  memberStatus(id: NodeId): MemberStatus;
  /** Hands accepted messages to the node; they are stepped on its loop, not here. */
  deliver(msgs: Message[]): void;
}

/**
 * The express app of the peer port. Its two routes read the body themselves, with no body-parsing middleware: the
 * handler runs for every batch of Raft messages, several times per client write, so it does nothing it need not.
 */
export function peerApp(opts: PeerServerOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const route = (limit: number, decode: (b: Buffer) => Message[]) => (req: Request, res: Response): void => {
    receive(opts, req, limit, decode).then(
      () => {
        res.statusCode = 204;
        res.end();
      },
      (err: unknown) => {
        const e = err instanceof TransportError ? err : new TransportError('BadBody', err instanceof Error ? err.message : String(err));
        reply(res, e.status, { error: { code: e.code, message: e.message } });
      },
    );
  };
  app.post('/raft/messages', route(opts.maxMessageBytes, decodeMessages));
  app.post('/raft/snapshot', route(opts.maxSnapshotBytes, (b) => [decodeMessage(b)]));
  app.use((req: Request, res: Response) => {
    req.resume();
    reply(res, 404, { error: { code: 'RouteNotFound', message: `No peer endpoint ${req.method} ${req.path}` } });
  });
  return app;
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function receive(opts: PeerServerOptions, req: http.IncomingMessage, limit: number, decode: (b: Buffer) => Message[]): Promise<void> {
  const from = checkHeaders(opts, req);
  const body = await readBody(req, limit);
  let msgs: Message[];
  try {
    msgs = decode(body);
  } catch (err) {
    throw new TransportError('BadBody', `Undecodable body from peer ${from}: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const m of msgs) {
    if (m.from !== from || m.to !== opts.localId) {
      throw new TransportError('BadBody', `Message from ${m.from} to ${m.to} does not match the headers (from ${from} to ${opts.localId})`);
    }
  }
  opts.deliver(msgs);
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

// Checked before the body is read. A refused request's body is left unread: node:http discards it once the answer
// is sent, keeping the connection usable.
function checkHeaders(opts: PeerServerOptions, req: http.IncomingMessage): NodeId {
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

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(header(req, 'content-length') ?? '0');
    if (declared > limit) {
      req.resume();
      reject(new TransportError('BodyTooLarge', `Body of ${declared} bytes exceeds the limit of ${limit}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.destroy();
        reject(new TransportError('BodyTooLarge', `Body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
