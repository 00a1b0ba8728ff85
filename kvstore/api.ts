// # The client API
//
// HTTP + JSON on the client port. Any member accepts any request: a write is proposed on the member that received
// it (Raft forwards the proposal to the leader) and answered once THIS member has applied it, so a read sent to the
// same member afterwards sees it. Reads are linearizable unless the client asks for `consistency=serializable`.
// Every error is `{ "error": { "code", "message" } }`; see docs/http-api.md.

import express, { NextFunction, Request, Response } from 'express';
import { ConfChangeType, NodeId, None } from '../raft/types';
import { isUtf8 } from 'node:buffer';
import { CommandOp, SessionId, encodeCompactValue, encodeTxnValue, parseSession } from './command';
import { KvError } from './errors';
import { ApplyResult, keyValueJSON } from './kv';
import { LeaseApi } from './lease-api';
import { Lessor } from './lessor';
import { parseLeaseId } from './lease';
import { revisionHeaders } from './hotpath';
import { Txn, parseTxn } from './txn';
import { checkWatchStart, streamWatch, watchStart } from './watch';
import { errorStatusAndBody } from './errorbody';
import { dashboardRouter, readableFromAnyOrigin } from './dashboard/route';
import { healthJSON, statusJSON } from './status';
import { Member, encodeMemberContext } from './members';
import { RaftNode } from './node';

/** Limits and identity the API enforces and reports. */
export interface ApiOptions {
  clusterId: string;
  maxKeyBytes: number;
  maxValueBytes: number;
  maxListLimit: number;
  /** The member's lease clock (kvstore/lessor.ts). */
  lessor: Lessor;
  /** How long a lease request forwarded to the leader may take. */
  forwardTimeoutMs: number;
}

/** The express app of the client port, serving `node`. */
export function clientApp(node: RaftNode, opts: ApiOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  const raw = express.raw({ type: () => true, limit: opts.maxValueBytes });
  const json = express.json({ type: () => true, limit: 64 * 1024 });

  app.get('/health', (_req, res) => {
    res.json(healthJSON(node));
  });

  app.get('/kv', async (req, res) => {
    const prefix = stringQuery(req, 'prefix') ?? '';
    const limitText = stringQuery(req, 'limit');
    let limit = opts.maxListLimit;
    if (limitText !== undefined) {
      limit = Number(limitText);
      if (!/^[0-9]+$/.test(limitText) || limit < 1 || limit > opts.maxListLimit) {
        throw new KvError('BadRequest', `Query parameter limit must be an integer from 1 to ${opts.maxListLimit}, not "${limitText}"`);
      }
    }
    checkKeySize(prefix, opts.maxKeyBytes, 'Prefix');
    const revision = revisionQuery(req);
    await readBarrier(node, req);
    const kvs = node.kv.list(prefix, limit, revision).map((kv) => keyValueJSON(kv.key, kv));
    res.json({ kvs, count: kvs.length, revision: node.kv.revision });
  });

  // Routing is not strict, so this also matches /kv; only a trailing slash means an empty key.
  app.all('/kv/', (req: Request, _res: Response, next: NextFunction) => {
    if (req.path.endsWith('/')) throw new KvError('KeyEmpty', 'Key must not be empty');
    next();
  });

  app.get('/kv/:key', async (req, res) => {
    const key = checkKey(req, opts.maxKeyBytes);
    const revision = revisionQuery(req);
    await readBarrier(node, req);
    const kv = node.kv.read(key, revision);
    if (kv === undefined) throw new KvError('KeyNotFound', `Key "${key}" not found${revision === 0 ? '' : ` at revision ${revision}`}`);
    res.set(revisionHeaders(node.kv.revision, kv));
    res.type('application/octet-stream').send(kv.value);
  });

  app.put('/kv/:key', raw, async (req, res) => {
    const key = checkKey(req, opts.maxKeyBytes);
    const body: unknown = req.body;
    const value = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
    const session = sessionQuery(req);
    const ifAbsent = flagQuery(req, 'ifAbsent');
    const leaseText = stringQuery(req, 'lease');
    const lease = leaseText === undefined ? 0 : parseLeaseId(leaseText, 'Query parameter lease', true);
    if (session === undefined && !ifAbsent && lease === 0) {
      const result = await node.propose(CommandOp.Put, key, value);
      res.status(result.existed ? 200 : 201).json({ key, created: !result.existed, revision: result.revision });
      return;
    }
    // A session write, a create-if-absent or a put with a lease is a one-operation transaction (values in
    // transactions are text).
    if (!isUtf8(value)) throw new KvError('BadRequest', 'The value of a session write, a create-if-absent or a put with a lease must be UTF-8 text');
    const compares: Txn['compares'] = ifAbsent ? [{ key, target: 'createRevision', op: '=', value: 0 }] : [];
    const put = { op: 'put' as const, key, value: value.toString('utf8'), ...(lease === 0 ? {} : { lease }) };
    const result = await proposeTxn(node, { compares, success: [put], failure: [] }, session);
    if (result.txn?.succeeded === false) throw new KvError('KeyExists', `Key "${key}" already exists`);
    res.status(result.existed ? 200 : 201).json({ key, created: !result.existed, revision: result.revision, ...duplicateField(result) });
  });

  app.delete('/kv/:key', async (req, res) => {
    const key = checkKey(req, opts.maxKeyBytes);
    const session = sessionQuery(req);
    const result =
      session === undefined
        ? await node.propose(CommandOp.Delete, key, new Uint8Array(0))
        : await proposeTxn(node, { compares: [], success: [{ op: 'delete', key }], failure: [] }, session);
    if (!result.existed) throw new KvError('KeyNotFound', `Key "${key}" not found`);
    res.json({ key, deleted: true, revision: result.revision, ...duplicateField(result) });
  });

  app.post('/txn', json, async (req, res) => {
    const body = objectBody(req);
    const txn = parseTxn(body, opts.maxKeyBytes);
    for (const o of [...txn.success, ...txn.failure]) {
      if (o.op === 'put' && Buffer.byteLength(o.value, 'utf8') > opts.maxValueBytes) {
        throw new KvError('ValueTooLarge', `The value for "${o.key}" exceeds the limit of ${opts.maxValueBytes} bytes`);
      }
    }
    const result = await proposeTxn(node, txn, parseSession(Reflect.get(body, 'session')));
    res.json({ ...result.txn, ...duplicateField(result) });
  });

  app.post('/compact', json, async (req, res) => {
    const value: unknown = Reflect.get(objectBody(req), 'revision');
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new KvError('BadRequest', 'Field revision must be a positive integer');
    // Refused here when it certainly would be, so bad input never reaches the log; the state machine checks again.
    if (value > node.kv.revision) throw new KvError('FutureRevision', `Cannot compact to revision ${value}: the store is at revision ${node.kv.revision}`);
    const result = await node.propose(CommandOp.Compact, '', encodeCompactValue(value));
    if (result.error !== undefined) throw new KvError(result.error.code, result.error.message);
    res.json({ compactRevision: node.kv.compactRevision, revision: result.revision });
  });

  app.get(['/watch', '/watch/:key'], (req, res) => {
    const keyParam: unknown = req.params.key;
    const key = typeof keyParam === 'string' ? keyParam : undefined;
    const prefix = stringQuery(req, 'prefix');
    if (key !== undefined && prefix !== undefined) throw new KvError('BadRequest', 'Watch a key or a prefix, not both');
    if (key !== undefined) checkKeySize(key, opts.maxKeyBytes, 'Key');
    if (prefix !== undefined) checkKeySize(prefix, opts.maxKeyBytes, 'Prefix');
    if (key === undefined && prefix === undefined) throw new KvError('BadRequest', 'Watch needs a key (/watch/:key) or a prefix (/watch?prefix=)');
    const startRevision = watchStart(stringQuery(req, 'startRevision'), req.get('last-event-id'));
    try {
      checkWatchStart(node.kv, startRevision);
    } catch (err) {
      if (err instanceof KvError && err.code === 'Compacted') {
        res.status(410).json({ error: { code: err.code, message: err.message, compactRevision: node.kv.compactRevision } });
        return;
      }
      throw err;
    }
    streamWatch(node.kv, key !== undefined ? { key, startRevision } : { prefix, startRevision }, req, res);
  });

  // Leases: kvstore/lease-api.ts.
  const leases = new LeaseApi(node, opts.lessor, opts.forwardTimeoutMs);
  app.post('/lease/grant', json, async (req, res) => {
    const body = objectBody(req);
    res.json(await leases.grant(body, parseSession(Reflect.get(body, 'session'))));
  });
  // Before /lease/:id, which would take "grant" for an ID.
  app.all('/lease/grant', methodNotAllowed('POST'));
  app.post('/lease/:id/keepalive', (req, res) => leases.keepAlive(req, res));
  app.get('/lease/:id', (req, res) => leases.timeToLive(req, res));
  app.delete('/lease/:id', async (req, res) => {
    res.json(await leases.revoke(req.params.id, sessionQuery(req)));
  });
  app.get('/leases', (req, res) => leases.list(req, res));

  app.get('/members', (_req, res) => {
    res.json({ clusterId: opts.clusterId, leader: node.leaderId, members: node.members.list() });
  });

  app.post('/members', json, async (req, res) => {
    const body = objectBody(req);
    const peerURL = checkURL(Reflect.get(body, 'peerURL'), 'peerURL');
    const clientURLValue: unknown = Reflect.get(body, 'clientURL');
    const clientURL = clientURLValue === undefined ? '' : checkURL(clientURLValue, 'clientURL');
    const learnerValue: unknown = Reflect.get(body, 'learner');
    if (learnerValue !== undefined && typeof learnerValue !== 'boolean') throw new KvError('BadRequest', 'Field learner must be true or false');
    const idValue: unknown = Reflect.get(body, 'id');
    // A member added earlier (e.g. a learner added with `member add`) that now starts with --join learns its ID.
    const existing = node.members.list().find((m) => m.peerURL === peerURL);
    if (existing !== undefined) {
      if (idValue !== undefined && checkId(idValue) !== existing.id) throw new KvError('BadRequest', `Peer URL ${peerURL} belongs to member ${existing.id}`);
      res.json({ id: existing.id, existing: true, clusterId: opts.clusterId, member: existing, members: node.members.list() });
      return;
    }
    const id = idValue === undefined ? node.members.nextId() : checkId(idValue);
    if (node.members.has(id) || node.members.isRemoved(id)) throw new KvError('BadRequest', `Member ID ${id} is or was already in use`);
    const request = node.nextRequestTag();
    const type = learnerValue === true ? ConfChangeType.ConfChangeAddLearnerNode : ConfChangeType.ConfChangeAddNode;
    await node.proposeConfChange({ type, nodeId: id, context: encodeMemberContext({ peerURL, clientURL, request }), id: 0 }, request);
    res.status(201).json({ id, clusterId: opts.clusterId, member: node.members.get(id) ?? null, members: node.members.list() });
  });

  app.post('/members/:id/promote', async (req, res) => {
    const member = existingMember(node, req);
    if (!member.learner) throw new KvError('BadRequest', `Member ${member.id} is already a voter`);
    const request = node.nextRequestTag();
    const context = encodeMemberContext({ peerURL: member.peerURL, clientURL: member.clientURL, request });
    await node.proposeConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: member.id, context, id: 0 }, request);
    res.json({ member: node.members.get(member.id) ?? null, members: node.members.list() });
  });

  app.delete('/members/:id', async (req, res) => {
    const member = existingMember(node, req);
    // A cluster without a voter can never form a quorum again. Refused here before anything is proposed; a race of
    // two removals is caught where the change is applied (kvstore/apply.ts).
    const voters = node.members.list().filter((m) => !m.learner);
    if (!member.learner && voters.length === 1) {
      throw new KvError('BadRequest', `Member ${member.id} is the only voter; add another voter before removing it`);
    }
    const request = node.nextRequestTag();
    const context = encodeMemberContext({ peerURL: '', clientURL: '', request });
    await node.proposeConfChange({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: member.id, context, id: 0 }, request);
    res.json({ removed: member.id, members: node.members.list() });
  });

  app.post('/leader/transfer', readableFromAnyOrigin, json, async (req, res) => {
    const toValue: unknown = Reflect.get(objectBody(req), 'to');
    const to = toValue === undefined ? pickTransferee(node) : checkId(toValue);
    const target = node.members.get(to);
    if (target === undefined || target.learner) throw new KvError('BadRequest', `Member ${to} is not a voter`);
    if (node.leaderId === None) throw new KvError('NoLeader', 'No leader is known to transfer leadership from');
    const leader = to === node.leaderId ? to : await node.transferLeader(to);
    res.json({ leader });
  });

  app.get('/status', readableFromAnyOrigin, (_req, res) => {
    res.json(statusJSON(node, opts.clusterId));
  });

  app.use('/dashboard', dashboardRouter());

  app.all('/txn', methodNotAllowed('POST'));
  app.all('/compact', methodNotAllowed('POST'));
  app.all('/lease/:id/keepalive', methodNotAllowed('POST'));
  app.all('/lease/:id', methodNotAllowed('GET, DELETE'));
  app.all('/leases', methodNotAllowed('GET'));
  app.all('/kv', methodNotAllowed('GET'));
  app.all('/kv/:key', methodNotAllowed('GET, PUT, DELETE'));
  app.use((req: Request) => {
    throw new KvError('RouteNotFound', `No route ${req.method} ${req.path}`);
  });
  app.use(errorHandler);
  return app;
}

async function proposeTxn(node: RaftNode, txn: Txn, session: SessionId | undefined): Promise<ApplyResult> {
  const result = await node.propose(CommandOp.Txn, '', encodeTxnValue(txn, session));
  if (result.error !== undefined) throw new KvError(result.error.code, result.error.message);
  return result;
}

function duplicateField(result: ApplyResult): { duplicate?: true } {
  return result.duplicate === true ? { duplicate: true } : {};
}

function revisionQuery(req: Request): number {
  const text = stringQuery(req, 'revision');
  if (text === undefined) return 0;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new KvError('BadRequest', `Query parameter revision must be a positive integer, not "${text}"`);
  return n;
}

function flagQuery(req: Request, name: string): boolean {
  const text = stringQuery(req, name);
  if (text === undefined || text === 'false') return false;
  if (text === 'true' || text === '') return true;
  throw new KvError('BadRequest', `Query parameter ${name} must be true or false, not "${text}"`);
}

// A session write names its client and sequence number: `?client=<id>&seq=<n>`.
function sessionQuery(req: Request): SessionId | undefined {
  const client = stringQuery(req, 'client');
  const seq = stringQuery(req, 'seq');
  if (client === undefined && seq === undefined) return undefined;
  if (client === undefined || seq === undefined) throw new KvError('BadRequest', 'A session write needs both client and seq');
  if (!/^[0-9]+$/.test(seq)) throw new KvError('BadRequest', `Query parameter seq must be a positive integer, not "${seq}"`);
  return parseSession({ client, seq: Number(seq) });
}

function methodNotAllowed(allow: string) {
  return (req: Request, res: Response) => {
    res.set('Allow', allow);
    throw new KvError('MethodNotAllowed', `Method ${req.method} is not allowed on ${req.path}`);
  };
}

function errorHandler(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  const { status, body } = errorStatusAndBody(err);
  if (status === 503) res.set('Retry-After', '1');
  res.status(status).json(body);
}

function readBarrier(node: RaftNode, req: Request): Promise<void> {
  const consistency = stringQuery(req, 'consistency') ?? 'linearizable';
  if (consistency === 'serializable') return node.localReadBarrier();
  if (consistency !== 'linearizable') {
    throw new KvError('BadRequest', `Query parameter consistency must be linearizable or serializable, not "${consistency}"`);
  }
  return node.readBarrier();
}

function stringQuery(req: Request, name: string): string | undefined {
  const value: unknown = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new KvError('BadRequest', `Query parameter ${name} must be given once`);
  return value;
}

function checkKey(req: Request, maxKeyBytes: number): string {
  const key: unknown = req.params.key;
  if (typeof key !== 'string' || key === '') throw new KvError('KeyEmpty', 'Key must not be empty');
  checkKeySize(key, maxKeyBytes, 'Key');
  return key;
}

function checkKeySize(key: string, maxKeyBytes: number, what: string): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > maxKeyBytes) throw new KvError('KeyTooLong', `${what} of ${bytes} bytes exceeds the limit of ${maxKeyBytes}`);
}

function objectBody(req: Request): object {
  const body: unknown = req.body;
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new KvError('BadRequest', 'The request body must be a JSON object');
  return body;
}

function checkURL(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new KvError('BadRequest', `Field ${field} must be a URL string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new KvError('BadRequest', `Field ${field} is not a URL: "${value}"`);
  }
  if (url.protocol !== 'http:') throw new KvError('BadRequest', `Field ${field} must be an http:// URL`);
  return url.origin;
}

function checkId(value: unknown): NodeId {
  const id = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw new KvError('BadRequest', `Member ID must be a positive integer, not ${JSON.stringify(value)}`);
  return id;
}

function existingMember(node: RaftNode, req: Request): Member {
  const id = checkId(req.params.id);
  const member = node.members.get(id);
  if (member === undefined) throw new KvError('MemberNotFound', `Member ${id} is not in the cluster`);
  return member;
}

// Prefer the most caught-up voter (only the leader tracks that); any other voter otherwise.
function pickTransferee(node: RaftNode): NodeId {
  const voters = node.members.list().filter((m) => !m.learner && m.id !== node.leaderId);
  const progress = node.progress();
  voters.sort((a, b) => (progress.get(b.id)?.match ?? 0) - (progress.get(a.id)?.match ?? 0));
  const first = voters[0];
  if (first === undefined) throw new KvError('BadRequest', 'No other voter to transfer leadership to');
  return first.id;
}
