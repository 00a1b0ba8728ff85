// # Transactions
//
// A transaction is etcd's mini-language for coordination: a list of compares on keys, then one of two lists of
// operations, `success` if every compare holds and `failure` otherwise. The whole of it is one log entry and one
// revision, so no other write can fall between the compares and the operations: compare-and-swap is
// `compares: [{ key, target: "modRevision", op: "=", value: 7 }]` with a put in `success`, and create-if-absent is
// a compare of `createRevision = 0`.
//
// This module parses a transaction from JSON (the HTTP body and the log entry use the same shape) and evaluates
// compares. It refuses what could make two members disagree or make a result ambiguous, such as a key written twice
// in one branch, so the state machine only ever sees transactions it can apply.

import { KvError } from './errors';
import { parseLeaseId } from './lease';

export type CompareTarget = 'value' | 'version' | 'createRevision' | 'modRevision' | 'lease';
export type CompareOp = '=' | '!=' | '<' | '>';

/** One condition on the current state of a key. A missing key has version, createRevision, modRevision and lease 0. */
export interface Compare {
  key: string;
  target: CompareTarget;
  op: CompareOp;
  /** A string for `value`, a non-negative integer for the others. */
  value: string | number;
}

/** A put may attach its key to a lease (`lease`, 0 or absent: none; a key put without a lease is detached). */
export type TxnOp = { op: 'put'; key: string; value: string; lease?: number } | { op: 'delete'; key: string } | { op: 'get'; key: string };

export interface Txn {
  compares: Compare[];
  success: TxnOp[];
  failure: TxnOp[];
}

/** A key as a transaction's `get` or a read reports it. */
export interface KeyValueJSON {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** The lease the key is attached to; 0 for none. */
  lease: number;
}

export type TxnOpResult =
  | { op: 'put'; key: string; created: boolean }
  | { op: 'delete'; key: string; deleted: boolean }
  | { op: 'get'; key: string; kv: KeyValueJSON | null };

export interface TxnResult {
  succeeded: boolean;
  /** The store's revision after the transaction (unchanged when it wrote nothing). */
  revision: number;
  results: TxnOpResult[];
}

const targets: readonly CompareTarget[] = ['value', 'version', 'createRevision', 'modRevision', 'lease'];
const compareOps: readonly CompareOp[] = ['=', '!=', '<', '>'];
/** Keeps one log entry, and the time to apply it, small. */
export const maxTxnOps = 128;

/** Parses and checks a transaction; throws KvError('BadRequest') naming the first field at fault. */
export function parseTxn(body: unknown, maxKeyBytes = Number.MAX_SAFE_INTEGER): Txn {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('The transaction must be a JSON object');
  const comparesValue: unknown = Reflect.get(body, 'compares') ?? [];
  if (!Array.isArray(comparesValue)) throw bad('Field compares must be an array');
  const compares = comparesValue.map((c: unknown, i) => parseCompare(c, `compares[${i}]`, maxKeyBytes));
  const success = parseOps(Reflect.get(body, 'success'), 'success', maxKeyBytes);
  const failure = parseOps(Reflect.get(body, 'failure'), 'failure', maxKeyBytes);
  if (compares.length + success.length + failure.length > maxTxnOps) throw bad(`A transaction may hold at most ${maxTxnOps} compares and operations`);
  return { compares, success, failure };
}

function parseCompare(c: unknown, where: string, maxKeyBytes: number): Compare {
  if (typeof c !== 'object' || c === null) throw bad(`${where} must be an object`);
  const key = parseKey(Reflect.get(c, 'key'), where, maxKeyBytes);
  const target: unknown = Reflect.get(c, 'target');
  if (!targets.includes(target as CompareTarget)) throw bad(`${where}.target must be one of ${targets.join(', ')}`);
  const op: unknown = Reflect.get(c, 'op');
  if (!compareOps.includes(op as CompareOp)) throw bad(`${where}.op must be one of ${compareOps.join(' ')}`);
  const value: unknown = Reflect.get(c, 'value');
  if (target === 'value') {
    if (typeof value !== 'string') throw bad(`${where}.value must be a string when the target is value`);
  } else if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad(`${where}.value must be a non-negative integer when the target is ${String(target)}`);
  }
  return { key, target: target as CompareTarget, op: op as CompareOp, value };
}

function parseOps(list: unknown, where: string, maxKeyBytes: number): TxnOp[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw bad(`Field ${where} must be an array`);
  const written = new Set<string>();
  return list.map((o: unknown, i) => {
    const at = `${where}[${i}]`;
    if (typeof o !== 'object' || o === null) throw bad(`${at} must be an object`);
    const op: unknown = Reflect.get(o, 'op');
    const key = parseKey(Reflect.get(o, 'key'), at, maxKeyBytes);
    if (op === 'get') return { op, key };
    if (op !== 'put' && op !== 'delete') throw bad(`${at}.op must be put, delete or get`);
    // One revision per transaction: a key changed twice in it would have two states at the same revision.
    if (written.has(key)) throw bad(`${at} writes key "${key}" a second time in ${where}`);
    written.add(key);
    if (op === 'delete') return { op, key };
    const value: unknown = Reflect.get(o, 'value');
    if (typeof value !== 'string') throw bad(`${at}.value must be a string`);
    const lease = parseLeaseId(Reflect.get(o, 'lease') ?? 0, `${at}.lease`, true);
    return lease === 0 ? { op, key, value } : { op, key, value, lease };
  });
}

function parseKey(key: unknown, where: string, maxKeyBytes: number): string {
  if (typeof key !== 'string' || key === '') throw bad(`${where}.key must be a non-empty string`);
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > maxKeyBytes) throw new KvError('KeyTooLong', `${where}.key of ${bytes} bytes exceeds the limit of ${maxKeyBytes}`);
  return key;
}

function bad(message: string): KvError {
  return new KvError('BadRequest', message);
}

/** The state of a key a compare looks at; undefined when the key does not exist. */
export interface ComparedKey {
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: number;
}

/**
 * Whether a compare holds. As in etcd, a missing key counts as version, createRevision, modRevision and lease 0,
 * and a compare of its value fails whatever the operator (there is no value to compare).
 */
export function compareHolds(c: Compare, kv: ComparedKey | undefined): boolean {
  let order: number;
  if (c.target === 'value') {
    if (kv === undefined) return false;
    order = Buffer.compare(kv.value, Buffer.from(String(c.value), 'utf8'));
  } else {
    const actual = kv === undefined ? 0 : kv[c.target];
    const wanted = Number(c.value);
    order = actual === wanted ? 0 : actual < wanted ? -1 : 1;
  }
  switch (c.op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
  }
}
