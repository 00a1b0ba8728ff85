// # Commands in the replicated log
//
// A client write becomes one `EntryNormal` whose data is a command (so does a member announcing its client URL). Every node applies the same commands in the
// same order (§5.3, the State Machine Safety property of Figure 3), so the encoding must be exact and stable: a
// small binary layout, because commands sit in the WAL and cross the network many times.
//
//   op u8 | epoch u32 | seq u48 | keyLength u32 | key (UTF-8) | value (the rest)
//
// `epoch` and `seq` name the request. The proposing node waits for the entry that carries its own name; the epoch
// is drawn at random when the process starts, so an entry proposed before a restart never completes a request
// made after it.
//
// A transaction and a compaction carry JSON in the value (their key is empty): `{ "txn": {...}, "session":
// { "client", "seq" } }` (kvstore/txn.ts; the session is optional) and `{ "revision": n }`. So do the lease
// commands: `{ "id", "ttl", "session"? }` grants (id 0: the state machine chooses) and `{ "id", "expiredInTerm"?,
// "session"? }` revokes, where `expiredInTerm` marks a revoke the leader of that term proposed because the lease
// expired (kvstore/lessor.ts).

import { KvError } from './errors';
import { parseLeaseId, parseLeaseTtl } from './lease';
import { Txn, parseTxn } from './txn';

/** What a command does. */
export enum CommandOp {
  Put = 1,
  Delete = 2,
  /** A member announces its client URL: key = the member ID in decimal, value = the URL. */
  PublishClientURL = 3,
  /** A transaction (kvstore/txn.ts), optionally within a client session. */
  Txn = 4,
  /** Forget the history below a revision. */
  Compact = 5,
  /** Grant a lease (kvstore/lease.ts). */
  LeaseGrant = 6,
  /** Revoke a lease: delete its keys in one revision, then forget it. */
  LeaseRevoke = 7,
}

/** A client's name for one of its writes: the state machine applies each (client, seq) once. */
export interface SessionId {
  client: string;
  seq: number;
}

/** The value of a Txn command. */
export function encodeTxnValue(txn: Txn, session?: SessionId): Buffer {
  return Buffer.from(JSON.stringify(session === undefined ? { txn } : { txn, session }), 'utf8');
}

/** The transaction in a Txn command's value, or the error that refuses it (deterministically, on every member). */
export function decodeTxnValue(value: Uint8Array): { txn: Txn; session?: SessionId } | KvError {
  try {
    const body: unknown = JSON.parse(Buffer.from(value).toString('utf8'));
    if (typeof body !== 'object' || body === null) return new KvError('BadRequest', 'Transaction command is not a JSON object');
    const txn = parseTxn(Reflect.get(body, 'txn'));
    const session = parseSession(Reflect.get(body, 'session'));
    return session === undefined ? { txn } : { txn, session };
  } catch (err) {
    if (err instanceof KvError) return err;
    return new KvError('BadRequest', 'Transaction command is not JSON');
  }
}

/** Checks a session id from a request or a command; undefined when absent. */
export function parseSession(value: unknown): SessionId | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new KvError('BadRequest', 'Field session must be an object { client, seq }');
  const client: unknown = Reflect.get(value, 'client');
  const seq: unknown = Reflect.get(value, 'seq');
  if (typeof client !== 'string' || client === '' || client.length > 128) throw new KvError('BadRequest', 'Field session.client must be a string of 1 to 128 characters');
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new KvError('BadRequest', 'Field session.seq must be a positive integer');
  return { client, seq };
}

/** The value of a Compact command. */
export function encodeCompactValue(revision: number): Buffer {
  return Buffer.from(JSON.stringify({ revision }), 'utf8');
}

/** The revision in a Compact command's value, or the error that refuses it. */
export function decodeCompactValue(value: Uint8Array): number | KvError {
  try {
    const body: unknown = JSON.parse(Buffer.from(value).toString('utf8'));
    const revision: unknown = typeof body === 'object' && body !== null ? Reflect.get(body, 'revision') : undefined;
    if (typeof revision === 'number' && Number.isSafeInteger(revision) && revision >= 1) return revision;
  } catch {
    // Falls through to the refusal below.
  }
  return new KvError('BadRequest', 'Compact command has no revision');
}

/** The value of a LeaseGrant command: `id` 0 lets the state machine choose. */
export interface LeaseGrantValue {
  id: number;
  ttl: number;
  session?: SessionId;
}

/** The value of a LeaseRevoke command; `expiredInTerm` is set when the leader of that term found it expired. */
export interface LeaseRevokeValue {
  id: number;
  expiredInTerm?: number;
  session?: SessionId;
}

export function encodeLeaseValue(value: LeaseGrantValue | LeaseRevokeValue): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** The grant in a LeaseGrant command's value, or the error that refuses it. */
export function decodeLeaseGrantValue(value: Uint8Array): LeaseGrantValue | KvError {
  return decodeJSONValue(value, 'Lease grant', (body) => {
    const id = parseLeaseId(Reflect.get(body, 'id') ?? 0, 'Field id', true);
    const ttl = parseLeaseTtl(Reflect.get(body, 'ttl'));
    const session = parseSession(Reflect.get(body, 'session'));
    return session === undefined ? { id, ttl } : { id, ttl, session };
  });
}

/** The revoke in a LeaseRevoke command's value, or the error that refuses it. */
export function decodeLeaseRevokeValue(value: Uint8Array): LeaseRevokeValue | KvError {
  return decodeJSONValue(value, 'Lease revoke', (body) => {
    const id = parseLeaseId(Reflect.get(body, 'id'), 'Field id', false);
    const term: unknown = Reflect.get(body, 'expiredInTerm');
    if (term !== undefined && (typeof term !== 'number' || !Number.isSafeInteger(term) || term < 1)) {
      throw new KvError('BadRequest', 'Field expiredInTerm must be a positive integer');
    }
    const session = parseSession(Reflect.get(body, 'session'));
    return { id, ...(term === undefined ? {} : { expiredInTerm: term }), ...(session === undefined ? {} : { session }) };
  });
}

function decodeJSONValue<T>(value: Uint8Array, what: string, parse: (body: object) => T): T | KvError {
  try {
    const body: unknown = JSON.parse(Buffer.from(value).toString('utf8'));
    if (typeof body !== 'object' || body === null) return new KvError('BadRequest', `${what} command is not a JSON object`);
    return parse(body);
  } catch (err) {
    if (err instanceof KvError) return err;
    return new KvError('BadRequest', `${what} command is not JSON`);
  }
}

/** A write to apply to the key-value map. */
export interface Command {
  op: CommandOp;
  /** The proposing process. */
  epoch: number;
  /** The request within that process. */
  seq: number;
  key: string;
  /** Empty for Delete. */
  value: Uint8Array;
}

const headerSize = 1 + 4 + 6 + 4;

/** Encodes a command as the data of a log entry. */
export function encodeCommand(cmd: Command): Uint8Array {
  const key = Buffer.from(cmd.key, 'utf8');
  const out = Buffer.allocUnsafe(headerSize + key.length + cmd.value.length);
  out.writeUInt8(cmd.op, 0);
  out.writeUInt32BE(cmd.epoch, 1);
  out.writeUIntBE(cmd.seq, 5, 6);
  out.writeUInt32BE(key.length, 11);
  key.copy(out, headerSize);
  out.set(cmd.value, headerSize + key.length);
  return out;
}

/** Decodes the data of a log entry; throws KvError('Corrupt') when it is not a command. */
export function decodeCommand(data: Uint8Array): Command {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < headerSize) {
    throw new KvError('Corrupt', `Command of ${buf.length} bytes is shorter than its ${headerSize}-byte header`);
  }
  const op = buf.readUInt8(0);
  if (op < CommandOp.Put || op > CommandOp.LeaseRevoke) {
    throw new KvError('Corrupt', `Command has unknown operation ${op}`);
  }
  const keyLength = buf.readUInt32BE(11);
  if (headerSize + keyLength > buf.length) {
    throw new KvError('Corrupt', `Command key of ${keyLength} bytes runs past the end of the entry`);
  }
  return {
    op,
    epoch: buf.readUInt32BE(1),
    seq: buf.readUIntBE(5, 6),
    key: buf.toString('utf8', headerSize, headerSize + keyLength),
    value: buf.subarray(headerSize + keyLength),
  };
}
