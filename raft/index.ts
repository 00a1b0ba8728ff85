// # tsraft's public surface
//
// What an application needs to run Raft: the RawNode and its Config, the Storage it reads from, the values that
// cross the boundary, and the errors it may see. Everything else under raft/ is the machinery behind them.

export * from './types';
export type { Logger } from './logger';
export { RaftPanic, discardLogger } from './logger';
export type { Rand } from './rand';
export { SeededRand } from './rand';
export type { RaftErrorCode } from './errors';
export { RaftError } from './errors';
export type { CampaignType } from './raft';
export { Raft } from './raft';
export type { Config, ValidConfig } from './config';
export { LocalAppendThread, LocalApplyThread, isLocalMsgTarget, validateConfig } from './config';
export { confChangeAsV2, confChangeEnterJoint, confChangeLeaveJoint, confChangeToMsg } from './confchange/convert';
export { describeConfChange } from './describe';
export { ReadOnlyOption } from './read_only';
export type { Ready } from './rawnode';
export { ProgressType, RawNode, SnapshotStatus, mustSync } from './rawnode';
export type { Peer } from './bootstrap';
export type { BasicStatus, Status } from './status';
export { getBasicStatus, getStatus, statusToJSON } from './status';
export type { Storage, StorageErrorCode } from './storage';
export { MemoryStorage, StorageError } from './storage';
export { noLimit } from './util';
export * from './codec';
