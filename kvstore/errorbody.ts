// # The answer to a failed request
//
// One mapping from whatever a request handler threw to an HTTP status and the `{ "error": { "code", "message" } }`
// body, shared by the express app (kvstore/api.ts) and the hot path (kvstore/hotpath.ts). It lives apart from the
// express app so the hot path can answer errors without loading express.

import { KvError } from './errors';

/** The status and JSON body answering `err`; logs internal errors. */
export function errorStatusAndBody(err: unknown): { status: number; body: { error: { code: string; message: string } } } {
  const e = toKvError(err);
  if (e.status >= 500 && e.code === 'Internal') process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return { status: e.status, body: { error: { code: e.code, message: e.message } } };
}

function toKvError(err: unknown): KvError {
  if (err instanceof KvError) return err;
  if (err instanceof URIError) return new KvError('BadRequest', 'The URL is not valid percent-encoded UTF-8');
  if (typeof err === 'object' && err !== null) {
    const type: unknown = Reflect.get(err, 'type');
    const status: unknown = Reflect.get(err, 'status');
    if (type === 'entity.too.large') return new KvError('ValueTooLarge', 'The request body exceeds the size limit');
    if (type === 'entity.parse.failed') return new KvError('BadRequest', 'The request body is not valid JSON');
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return new KvError('BadRequest', err instanceof Error ? err.message : 'Bad request');
    }
  }
  return new KvError('Internal', err instanceof Error ? err.message : String(err));
}
