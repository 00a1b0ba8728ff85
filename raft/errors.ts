// # Errors the core returns to the application
//
// Most of what goes wrong inside Raft is normal (a proposal without a leader, a message from a stale term) and is
// handled by dropping or logging. What the application must hear about is listed here, with etcd's texts, so that
// an operator reading tsraft's logs sees the sentences etcd users know.

/** Why a call into the core was refused. */
export type RaftErrorCode =
  /** A proposal was not appended: no leader, a leadership transfer, the uncommitted-size limit, or forwarding off. */
  | 'ProposalDropped'
  /** A message type that only the node itself may generate arrived from outside. */
  | 'StepLocalMsg'
  /** A response arrived from a node that is not in the configuration. */
  | 'StepPeerNotFound'
  /** `Config` failed validation. */
  | 'ConfigInvalid'
  /** `bootstrap` was called without peers or on a Storage that already holds entries. */
  | 'BootstrapInvalid';

const messages: Record<RaftErrorCode, string> = {
  ProposalDropped: 'raft proposal dropped',
  StepLocalMsg: 'raft: cannot step raft local message',
  StepPeerNotFound: 'raft: cannot step as peer not found',
  ConfigInvalid: 'raft: invalid configuration',
  BootstrapInvalid: 'raft: cannot bootstrap',
};

/** The one error class of the core; `code` says what happened, `message` is etcd's text. */
export class RaftError extends Error {
  override name = 'RaftError';
  readonly code: RaftErrorCode;

  constructor(code: RaftErrorCode, message?: string) {
    super(message ?? messages[code]);
    this.code = code;
  }
}

/** Shared instance for the hot path: dropping a proposal must not allocate a stack trace each time. */
export const errProposalDropped = new RaftError('ProposalDropped');
