// # The client API's hot path
//
// Almost every request a busy member serves is a single-key `GET`, `PUT` or `DELETE /kv/:key`. Routing those
// through the framework (router, middleware chain, body parser, response helpers) costs more CPU than the Raft
// work behind them, and on a member that shares its cores that CPU is the limit on throughput. So they are
// answered here with `node:http` alone, with the same status codes, headers and bodies as kvstore/api.ts.
//
// Only the plain forms take this path: a key without `/`, within the size limit, that decodes cleanly; a GET with no
// query or just `consistency=`; a PUT with a `content-length` within the limit and no content or transfer encoding;
// a DELETE with no query; and the monitoring routes, `GET /status` and `GET /health`. Everything else (errors of the
// request itself, every other route) goes to the express app, which stays the one definition of the API and of its
// error answers.
//
// A member loads express only when the first request needs it (kvstore/serve.ts), and that load holds its thread
// for 60 to 150 ms. A restarted member whose clients only read, write and delete keys, and whose monitors only
// poll its status and health, never pays it: under a fault schedule, where members restart every few seconds, a
// DELETE or a status poll through express stalled each restarted member just as it caught up, and every client
// that picked it waited.

import http from 'node:http';
import { CommandOp } from './command';
import { errorStatusAndBody } from './errorbody';
import { KvError } from './errors';
import { KeyMeta } from './kv';
import { RaftNode } from './node';
import { healthJSON, statusJSON } from './status';

/** Limits the hot path must enforce exactly as the full API does. */
export interface HotPathOptions {
  maxKeyBytes: number;
  maxValueBytes: number;
}

/** A request listener serving the plain single-key requests and the monitoring routes itself, the rest by `fallback`. */
export function clientHandler(node: RaftNode, clusterId: string, opts: HotPathOptions, fallback: http.RequestListener): http.RequestListener {
  return (req, res) => {
    const monitoring = req.method === 'GET' ? monitoringRoutes.get(req.url ?? '') : undefined;
    if (monitoring !== undefined) {
      try {
        monitoring(node, clusterId, res);
      } catch (err) {
        sendError(res, err);
      }
      return;
    }
    const route = plainKeyRoute(req, opts);
    if (route === undefined) {
      fallback(req, res);
      return;
    }
    const answer =
      route.method === 'GET' ? get(node, route.key, route.serializable, res) : route.method === 'PUT' ? put(node, route.key, req, res) : del(node, route.key, res);
    answer.catch((err: unknown) => sendError(res, err));
  };
}

function sendError(res: http.ServerResponse, err: unknown): void {
  const { status, body } = errorStatusAndBody(err);
  const text = JSON.stringify(body);
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) };
  if (status === 503) headers['retry-after'] = '1';
  if (!res.headersSent) res.writeHead(status, headers);
  res.end(text);
}

// The monitoring routes, without a query (kvstore/status.ts). A dashboard page of another member's origin reads
// `/status`, as the express route allows.
const monitoringRoutes = new Map<string, (node: RaftNode, clusterId: string, res: http.ServerResponse) => void>([
  ['/status', (node, clusterId, res) => sendJSON(res, 200, statusJSON(node, clusterId), { 'access-control-allow-origin': '*' })],
  ['/health', (node, _clusterId, res) => sendJSON(res, 200, healthJSON(node))],
]);

/** A request the hot path serves: its method, its decoded key, and for a GET whether it may be answered locally. */
export interface KeyRoute {
  method: 'GET' | 'PUT' | 'DELETE';
  key: string;
  serializable: boolean;
}

/** The route if the request is in a plain form the hot path serves; undefined sends it to the full API. */
export function plainKeyRoute(req: http.IncomingMessage, opts: HotPathOptions): KeyRoute | undefined {
  const method = req.method;
  if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE') return undefined;
  const url = req.url ?? '';
  if (!url.startsWith('/kv/')) return undefined;
  const q = url.indexOf('?');
  const encoded = url.slice(4, q < 0 ? url.length : q);
  if (encoded === '' || encoded.includes('/')) return undefined;
  let serializable = false;
  if (q >= 0) {
    const query = url.slice(q + 1);
    if (method !== 'GET') return undefined;
    if (query === 'consistency=serializable') serializable = true;
    else if (query !== 'consistency=linearizable') return undefined;
  }
  let key: string;
  try {
    key = decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
  if (Buffer.byteLength(key, 'utf8') > opts.maxKeyBytes) return undefined;
  if (method === 'PUT') {
    const length = req.headers['content-length'];
    if (length === undefined || !/^[0-9]+$/.test(length) || Number(length) > opts.maxValueBytes) return undefined;
    if (req.headers['transfer-encoding'] !== undefined || req.headers['content-encoding'] !== undefined) return undefined;
  }
  return { method, key, serializable };
}

async function get(node: RaftNode, key: string, serializable: boolean, res: http.ServerResponse): Promise<void> {
  if (!serializable) await node.readBarrier();
  else if (!node.replayed) await node.localReadBarrier();
  const kv = node.kv.read(key);
  if (kv === undefined) throw new KvError('KeyNotFound', `Key "${key}" not found`);
  res.writeHead(200, {
    ...revisionHeaders(node.kv.revision, kv),
    'content-type': 'application/octet-stream',
    'content-length': kv.value.length,
  });
  res.end(kv.value);
}

/** The headers a key read carries: the store's revision and the key's own revisions. */
export function revisionHeaders(storeRevision: number, kv: KeyMeta): Record<string, string> {
  return {
    'x-tsraft-revision': String(storeRevision),
    'x-tsraft-create-revision': String(kv.createRevision),
    'x-tsraft-mod-revision': String(kv.modRevision),
    'x-tsraft-version': String(kv.version),
    'x-tsraft-lease': String(kv.lease),
  };
}

async function put(node: RaftNode, key: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const value = await readBody(req);
  const result = await node.propose(CommandOp.Put, key, value);
  sendJSON(res, result.existed ? 200 : 201, { key, created: !result.existed, revision: result.revision });
}

async function del(node: RaftNode, key: string, res: http.ServerResponse): Promise<void> {
  const result = await node.propose(CommandOp.Delete, key, new Uint8Array(0));
  if (!result.existed) throw new KvError('KeyNotFound', `Key "${key}" not found`);
  sendJSON(res, 200, { key, deleted: true, revision: result.revision });
}

function sendJSON(res: http.ServerResponse, status: number, body: object, extraHeaders?: http.OutgoingHttpHeaders): void {
  const text = JSON.stringify(body);
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) };
  res.writeHead(status, extraHeaders === undefined ? headers : { ...extraHeaders, ...headers });
  res.end(text);
}

// The length was checked against the limit before: the body is at most `content-length` bytes.
function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
