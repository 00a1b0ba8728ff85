// # Receiving from peers
//
// The peer port serves two endpoints: `POST /raft/messages` (a batch) and `POST /raft/snapshot` (one MsgSnap,
// whose body may be large). Before anything is decoded, the headers must name this cluster, this node, and a
// sender that is a current member; otherwise the request is refused with a 4xx and nothing reaches Raft. A
// message from another cluster (a node pointed at the wrong address) or from a removed member (which must not
// disrupt the cluster with its stale term) is thereby never stepped.

import express, { NextFunction, Request, Response } from 'express';
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

/** Builds the express app of the peer port. */
export function peerApp(opts: PeerServerOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.post('/raft/messages', (req, res, next) => receive(opts, req, opts.maxMessageBytes, decodeMessages).then(() => res.status(204).end(), next));
  app.post('/raft/snapshot', (req, res, next) =>
    receive(opts, req, opts.maxSnapshotBytes, (b) => [decodeMessage(b)]).then(() => res.status(204).end(), next),
  );
  app.use((req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'RouteNotFound', message: `No peer endpoint ${req.method} ${req.path}` } });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err instanceof TransportError ? err : new TransportError('BadBody', err instanceof Error ? err.message : String(err));
    res.status(e.status).json({ error: { code: e.code, message: e.message } });
  });
  return app;
}

async function receive(opts: PeerServerOptions, req: Request, limit: number, decode: (b: Buffer) => Message[]): Promise<void> {
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

function checkHeaders(opts: PeerServerOptions, req: Request): NodeId {
  const cluster = req.get(headers.clusterId);
  if (cluster !== opts.clusterId) {
    throw new TransportError('ClusterMismatch', `Request for cluster ${cluster ?? '(none)'} reached cluster ${opts.clusterId}`);
  }
  const to = Number(req.get(headers.to));
  if (to !== opts.localId) throw new TransportError('WrongRecipient', `Request for member ${req.get(headers.to) ?? '(none)'} reached member ${opts.localId}`);
  const fromHeader = req.get(headers.from);
  const from = Number(fromHeader);
  if (!Number.isSafeInteger(from) || from <= 0) throw new TransportError('UnknownMember', `Sender ID ${fromHeader ?? '(none)'} is not a member ID`);
  const status = opts.memberStatus(from);
  if (status === 'removed') throw new TransportError('RemovedMember', `Member ${from} was removed from the cluster`);
  if (status === 'unknown') throw new TransportError('UnknownMember', `Sender ${from} is not a member of this cluster`);
  return from;
}

function readBody(req: Request, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(req.get('content-length') ?? '0');
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
