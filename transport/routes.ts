// # The peer port's plain HTTP routes
//
// Everything on the peer port that is not a stream: the snapshot request, health, and a clear answer to anything
// else. An express app, loaded by the transport on the first such request rather than at start: a restarting member
// reaches its peers through streams, which never pass through here, before anyone asks for a snapshot or its health.

import http from 'node:http';
import express, { Request, Response } from 'express';
import { decodeMessage } from '../raft/codec';
import { Message } from '../raft/types';
import { STREAM_PATH, STREAM_PROTOCOL, TransportError } from './errors';
import { PeerServerOptions, checkSender, header } from './server';

/** The express app of the peer port's plain routes. Streams never reach it: `StreamAcceptor` takes them first. */
export function peerApp(opts: PeerServerOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/health', (_req: Request, res: Response) => {
    reply(res, 200, { health: 'ok', id: opts.localId, clusterId: opts.clusterId, ...asObject(opts.health()) });
  });
  app.post('/raft/snapshot', (req: Request, res: Response) => {
    receiveSnapshot(opts, req).then(
      () => {
        res.statusCode = 204;
        res.end();
      },
      (err: unknown) => {
        const e = err instanceof TransportError ? err : new TransportError('BadBody', err instanceof Error ? err.message : String(err));
        reply(res, e.status, { error: { code: e.code, message: e.message } });
      },
    );
  });
  app.all(STREAM_PATH, (req: Request, res: Response) => {
    req.resume();
    res.setHeader('upgrade', STREAM_PROTOCOL);
    reply(res, 426, { error: { code: 'UpgradeRequired', message: `A peer stream needs Connection: Upgrade and Upgrade: ${STREAM_PROTOCOL}` } });
  });
  app.use((req: Request, res: Response) => {
    req.resume();
    reply(res, 404, { error: { code: 'RouteNotFound', message: `No peer endpoint ${req.method} ${req.path}` } });
  });
  return app;
}

function asObject(v: unknown): object {
  return typeof v === 'object' && v !== null ? v : {};
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function receiveSnapshot(opts: PeerServerOptions, req: http.IncomingMessage): Promise<void> {
  const from = checkSender(opts, req);
  const body = await readBody(req, opts.maxSnapshotBytes);
  let m: Message;
  try {
    m = decodeMessage(body);
  } catch (err) {
    throw new TransportError('BadBody', `Undecodable snapshot message from peer ${from}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (m.from !== from || m.to !== opts.localId) {
    throw new TransportError('BadBody', `Message from ${m.from} to ${m.to} does not match the headers (from ${from} to ${opts.localId})`);
  }
  opts.deliver([m]);
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
