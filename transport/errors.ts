// # Errors of the peer transport

/** Why a peer stream or request was refused or had to be closed. */
export type TransportErrorCode =
  | 'ClusterMismatch'
  | 'UnknownMember'
  | 'RemovedMember'
  | 'WrongRecipient'
  | 'UpgradeRequired'
  | 'BadBody'
  | 'BodyTooLarge'
  | 'BadFrame'
  | 'FrameTooLarge';

const statusOf: Record<TransportErrorCode, number> = {
  ClusterMismatch: 412,
  UnknownMember: 403,
  RemovedMember: 410,
  WrongRecipient: 421,
  UpgradeRequired: 426,
  BadBody: 400,
  BodyTooLarge: 413,
  BadFrame: 400,
  FrameTooLarge: 413,
};

/**
 * A refused request or a broken stream. `status` is the HTTP status the receiving side answers with when it can
 * still answer (a refusal happens before a stream is accepted; a bad frame inside an accepted stream closes it).
 */
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

/** The header names every peer stream and request carries. */
export const headers = {
  clusterId: 'x-tsraft-cluster-id',
  from: 'x-tsraft-from',
  to: 'x-tsraft-to',
} as const;

/** The protocol named in `Upgrade:` when a peer stream is opened. */
export const STREAM_PROTOCOL = 'tsraft-stream/1';

/** The peer port's path for opening a stream. */
export const STREAM_PATH = '/raft/stream';
