// # Errors of the peer transport

/** Why a peer request was refused or failed. */
export type TransportErrorCode =
  | 'ClusterMismatch'
  | 'UnknownMember'
  | 'RemovedMember'
  | 'WrongRecipient'
  | 'BadBody'
  | 'BodyTooLarge'
  | 'QueueFull'
  | 'RequestFailed';

const statusOf: Record<TransportErrorCode, number> = {
  ClusterMismatch: 412,
  UnknownMember: 403,
  RemovedMember: 410,
  WrongRecipient: 421,
  BadBody: 400,
  BodyTooLarge: 413,
  QueueFull: 503,
  RequestFailed: 502,
};

/** A refused or failed peer request; `status` is the HTTP status the receiving side answers with. */
export class TransportError extends Error {
  override name = 'TransportError';
  readonly status: number;

  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
    this.status = statusOf[code];
  }
}

/** The header names every peer request carries. */
export const headers = {
  clusterId: 'x-tsraft-cluster-id',
  from: 'x-tsraft-from',
  to: 'x-tsraft-to',
} as const;
