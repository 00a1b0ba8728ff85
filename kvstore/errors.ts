// # Errors of the key-value service
//
// Every failure a client can see has a `code` and an HTTP status, so the API layer answers
// `{ "error": { "code", "message" } }` without guessing, and the command line can tell "retry elsewhere" (no
// leader) from "the outcome is unknown" (a write that timed out after it was proposed).

/** The reasons a request to the key-value service fails. */
export type KvErrorCode =
  | 'KeyEmpty'
  | 'KeyTooLong'
  | 'ValueTooLarge'
  | 'BadRequest'
  | 'KeyNotFound'
  | 'MemberNotFound'
  | 'RouteNotFound'
  | 'MethodNotAllowed'
  | 'NoLeader'
  | 'Unavailable'
  | 'OutcomeUnknown'
  | 'Stopped'
  | 'Corrupt'
  | 'Internal'
  | 'Compacted'
  | 'FutureRevision'
  | 'SessionStale'
  | 'KeyExists'
  | 'LeaseNotFound'
  | 'LeaseExists';

const statusOf: Record<KvErrorCode, number> = {
  KeyEmpty: 400,
  KeyTooLong: 414,
  ValueTooLarge: 413,
  BadRequest: 400,
  KeyNotFound: 404,
  MemberNotFound: 404,
  RouteNotFound: 404,
  MethodNotAllowed: 405,
  NoLeader: 503,
  Unavailable: 503,
  OutcomeUnknown: 504,
  Stopped: 503,
  Corrupt: 500,
  Internal: 500,
  Compacted: 410,
  FutureRevision: 400,
  SessionStale: 409,
  KeyExists: 409,
  LeaseNotFound: 404,
  LeaseExists: 409,
};

/** A failure of the key-value service, carrying the HTTP status the API answers with. */
export class KvError extends Error {
  override name = 'KvError';
  readonly status: number;

  constructor(
    readonly code: KvErrorCode,
    message: string,
  ) {
    super(message);
    this.status = statusOf[code];
  }
}
