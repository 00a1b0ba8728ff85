// # Configuring a Raft node
//
// The knobs of one node, as etcd names them, and the check that turns a user's Config into the complete one the core
// runs with. Also the two reserved IDs of the local storage threads used by asynchronous storage writes.

import { RaftError } from './errors';
import { Logger, discardLogger } from './logger';
import { Rand, SeededRand } from './rand';
import { ReadOnlyOption } from './read_only';
import { Storage } from './storage';
import { noLimit } from './util';
import { MessageType, None, NodeId, newMessage } from './types';

/** The target of MsgStorageAppend: the local thread that persists entries, HardState and snapshots. */
export const LocalAppendThread: NodeId = Number.MAX_SAFE_INTEGER;
/** The target of MsgStorageApply: the local thread that applies committed entries. */
export const LocalApplyThread: NodeId = Number.MAX_SAFE_INTEGER - 1;

// Performance: these IDs do not fit V8's small-integer fields, so the first message carrying one widens the layout
// of every message. Widened late (at the first Ready), it left `step` unoptimised for good on Node 20 and doubled
// the cost of a proposal; one such message built as this module loads settles the layout before any code runs.
newMessage({ type: MessageType.MsgStorageAppendResp, from: LocalAppendThread, to: LocalApplyThread });

/** Whether `id` names one of the local storage threads rather than a peer. */
export function isLocalMsgTarget(id: NodeId): boolean {
  return id === LocalAppendThread || id === LocalApplyThread;
}

/** The parameters of one Raft node; the camelCase of etcd's Config. Optional fields default to etcd's zero value. */
export interface Config {
  /** This node's ID; not 0. */
  id: NodeId;
  /** Ticks a follower waits without hearing from a leader before campaigning (randomized up to twice this). */
  electionTick: number;
  /** Ticks between a leader's heartbeats; must be smaller than electionTick. */
  heartbeatTick: number;
  /** The log and persistent state as of the last restart. */
  storage: Storage;
  /** The last index the application applied before a restart; entries up to it are not handed out again. */
  applied?: number;
  /** Persist and apply through MsgStorageAppend / MsgStorageApply messages instead of the Ready/advance loop. */
  asyncStorageWrites?: boolean;
  /** Byte limit of one MsgApp's entries; 0 means one entry per message, Infinity means no limit. */
  maxSizePerMsg?: number;
  /**
   * Byte limit of committed entries being applied at once; defaults to maxSizePerMsg, and to no limit when that is
   * 0 too.
   */
  maxCommittedSizePerReady?: number;
  /** Byte limit of the leader's uncommitted log tail; proposals beyond it are dropped. 0 means no limit. */
  maxUncommittedEntriesSize?: number;
  /** In-flight MsgApp limit per follower while replicating optimistically; must be positive. */
  maxInflightMsgs: number;
  /** In-flight byte limit per follower; 0 means no limit. */
  maxInflightBytes?: number;
  /** A leader steps down when it has not heard from a quorum for an election timeout (thesis §6.2). */
  checkQuorum?: boolean;
  /** Run a pre-election before incrementing the term (thesis §9.6). */
  preVote?: boolean;
  /** How ReadIndex confirms leadership (§8). */
  readOnlyOption?: ReadOnlyOption;
  logger?: Logger;
  /** Followers drop proposals instead of forwarding them to the leader. */
  disableProposalForwarding?: boolean;
  /** Skip the propose-time checks of configuration changes against the active configuration. */
  disableConfChangeValidation?: boolean;
  /** A leader removed from the configuration (or demoted) steps down. */
  stepDownOnRemoval?: boolean;
  /** The source of randomized election timeouts; defaults to a generator seeded from the ID. */
  rand?: Rand;
}

/** A Config with every default filled in, as the core uses it. */
export type ValidConfig = Required<Config>;

/** Checks `c` and fills in defaults; throws RaftError('ConfigInvalid') with etcd's text otherwise. */
export function validateConfig(c: Config): ValidConfig {
  const invalid = (text: string): never => {
    throw new RaftError('ConfigInvalid', text);
  };
  if (c.id === None) {
    invalid('cannot use none as id');
  }
  if (isLocalMsgTarget(c.id)) {
    invalid('cannot use local target as id');
  }
  if (c.heartbeatTick <= 0) {
    invalid('heartbeat tick must be greater than 0');
  }
  if (c.electionTick <= c.heartbeatTick) {
    invalid('election tick must be greater than heartbeat tick');
  }
  if (c.storage === undefined || c.storage === null) {
    invalid('storage cannot be nil');
  }
  const maxSizePerMsg = c.maxSizePerMsg ?? 0;
  const maxUncommittedEntriesSize = c.maxUncommittedEntriesSize || noLimit;
  // The two limits were once one parameter; an unset apply limit keeps the message limit. With neither set there
  // is no budget to keep, and a zero budget would stall application, so committed entries flow without a limit.
  const maxCommittedSizePerReady = c.maxCommittedSizePerReady || maxSizePerMsg || noLimit;
  if (!(c.maxInflightMsgs > 0)) {
    invalid('max inflight messages must be greater than 0');
  }
  let maxInflightBytes = c.maxInflightBytes ?? 0;
  if (maxInflightBytes === 0) {
    maxInflightBytes = noLimit;
  } else if (maxInflightBytes < maxSizePerMsg) {
    invalid('max inflight bytes must be >= max message size');
  }
  const readOnlyOption = c.readOnlyOption ?? ReadOnlyOption.ReadOnlySafe;
  const checkQuorum = c.checkQuorum ?? false;
  if (readOnlyOption === ReadOnlyOption.ReadOnlyLeaseBased && !checkQuorum) {
    invalid('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
  }
  return {
    id: c.id,
    electionTick: c.electionTick,
    heartbeatTick: c.heartbeatTick,
    storage: c.storage,
    applied: c.applied ?? 0,
    asyncStorageWrites: c.asyncStorageWrites ?? false,
    maxSizePerMsg,
    maxCommittedSizePerReady,
    maxUncommittedEntriesSize,
    maxInflightMsgs: c.maxInflightMsgs,
    maxInflightBytes,
    checkQuorum,
    preVote: c.preVote ?? false,
    readOnlyOption,
    logger: c.logger ?? discardLogger,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    disableConfChangeValidation: c.disableConfChangeValidation ?? false,
    stepDownOnRemoval: c.stepDownOnRemoval ?? false,
    rand: c.rand ?? new SeededRand(c.id),
  };
}
