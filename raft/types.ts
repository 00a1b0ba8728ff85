// # The vocabulary of Raft
//
// These are the values that cross the boundary between the pure core and the application: log entries, the
// persistent state of Figure 2, snapshots, and the messages peers exchange. They mirror etcd's `raftpb` package so a
// reader who knows one knows the other; the numeric values of the enums are etcd's, which keeps the wire and disk
// encodings (raft/codec.ts) stable.

/** A node ID. 0 means "none". */
export type NodeId = number;

/** The ID meaning "no node": no leader known, no vote cast. */
export const None: NodeId = 0;

/** What an entry's `data` holds. */
export enum EntryType {
  EntryNormal = 0,
  EntryConfChange = 1,
  EntryConfChangeV2 = 2,
}

/** One slot of the replicated log (§5.3). */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Opaque to Raft for EntryNormal; an encoded ConfChange / ConfChangeV2 otherwise. Empty encodes as absent. */
  data: Uint8Array;
  /**
   * Present only when nothing ever set `type`: it then reads as EntryNormal, but the encoding leaves the field out,
   * as proto2 does with a field that was never set. etcd leaves the type of a plain proposal and of a new leader's
   * empty entry unset, so its encoded size (which decides how entries are batched into messages and Ready structs)
   * is 2 bytes smaller than an entry that names its type. Decoding marks an entry whose bytes lack the field the
   * same way, so the size survives a trip through the WAL or the network.
   */
  typeUnset?: true;
}

/** The state of Figure 2 that must be on stable storage before a message depending on it is sent (rule S1). */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** Membership as of a snapshot or an applied configuration change (§6, thesis §4.3). */
export interface ConfState {
  /** Voters of the incoming (or only) configuration. */
  voters: NodeId[];
  learners: NodeId[];
  /** Voters of the outgoing configuration; non-empty only in a joint configuration. */
  votersOutgoing: NodeId[];
  /** Voters of the outgoing configuration that become learners when the joint configuration is left. */
  learnersNext: NodeId[];
  /** Leave the joint configuration automatically once the entry that entered it is committed. */
  autoLeave: boolean;
}

export interface SnapshotMetadata {
  confState: ConfState;
  index: number;
  term: number;
}

/** A compacted prefix of the log, as the application's state machine at `metadata.index` (§7). */
export interface Snapshot {
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

/** Every message the core sends, receives, or uses internally. Values match etcd's raftpb.MessageType. */
export enum MessageType {
  MsgHup = 0,
  MsgBeat = 1,
  MsgProp = 2,
  MsgApp = 3,
  MsgAppResp = 4,
  MsgVote = 5,
  MsgVoteResp = 6,
  MsgSnap = 7,
  MsgHeartbeat = 8,
  MsgHeartbeatResp = 9,
  MsgUnreachable = 10,
  MsgSnapStatus = 11,
  MsgCheckQuorum = 12,
  MsgTransferLeader = 13,
  MsgTimeoutNow = 14,
  MsgReadIndex = 15,
  MsgReadIndexResp = 16,
  MsgPreVote = 17,
  MsgPreVoteResp = 18,
  MsgStorageAppend = 19,
  MsgStorageAppendResp = 20,
  MsgStorageApply = 21,
  MsgStorageApplyResp = 22,
  MsgForgetLeader = 23,
}

/**
 * A message between peers, or between the core and the application. Which fields matter depends on `type`, as in
 * etcd: `index`/`logTerm` locate the entry preceding `entries` in MsgApp, `rejectHint` carries the conflict hint in a
 * rejecting MsgAppResp, `context` carries the ReadIndex request ID or the campaign type.
 */
export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  /** Used by MsgStorageAppend to carry the vote of the HardState to persist. */
  vote: NodeId;
  snapshot: Snapshot | null;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
  /** Used by MsgStorageAppend / MsgStorageApply: the messages to deliver once the work is done. */
  responses: Message[];
}

export enum ConfChangeType {
  ConfChangeAddNode = 0,
  ConfChangeRemoveNode = 1,
  ConfChangeUpdateNode = 2,
  ConfChangeAddLearnerNode = 3,
}

/** How a ConfChangeV2 moves between configurations (thesis §4.3). */
export enum ConfChangeTransition {
  /** Single step when possible, otherwise a joint configuration left automatically. */
  ConfChangeTransitionAuto = 0,
  /** Always joint, left automatically. */
  ConfChangeTransitionJointImplicit = 1,
  /** Always joint, left by an explicit empty ConfChangeV2. */
  ConfChangeTransitionJointExplicit = 2,
}

/** The original, one-node-at-a-time configuration change (§6 as etcd first implemented it). */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  context: Uint8Array;
  /**
   * Deprecated in etcd and kept for wire compatibility. Absent means never set, and is not encoded (etcd's own
   * proposals leave it unset); a value set explicitly is encoded even when it is 0.
   */
  id?: number;
}

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: NodeId;
}

/** A configuration change of any number of nodes, possibly through a joint configuration. */
export interface ConfChangeV2 {
  transition: ConfChangeTransition;
  changes: ConfChangeSingle[];
  context: Uint8Array;
}

/** The role a node plays (§5.1, plus the PreCandidate of thesis §9.6). Values match etcd's StateType. */
export enum StateType {
  StateFollower = 0,
  StateCandidate = 1,
  StateLeader = 2,
  StatePreCandidate = 3,
}

/** Volatile state worth reporting to the application; need not be persisted. */
export interface SoftState {
  lead: NodeId;
  raftState: StateType;
}

/** The answer to a ReadIndex request: once `index` is applied, a read tagged `requestCtx` is linearizable (§8). */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/** Constructors that fill every field, so call sites name only what they mean. */
export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

export function emptySnapshot(): Snapshot {
  return { data: new Uint8Array(0), metadata: { confState: emptyConfState(), index: 0, term: 0 } };
}

export function emptyHardState(): HardState {
  return { term: 0, vote: None, commit: 0 };
}

/**
 * A zero-length byte array shared by every empty field: it has no elements to change, so sharing it is safe, and it
 * keeps the hot path from allocating one per message.
 */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

// The constructors below assign every field in one fixed order instead of spreading defaults, so each message and
// entry gets the same hidden class and the leader's hot loop stays monomorphic.
export function newMessage(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    type: fields.type,
    to: fields.to ?? None,
    from: fields.from ?? None,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    vote: fields.vote ?? None,
    snapshot: fields.snapshot ?? null,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? EMPTY_BYTES,
    responses: fields.responses ?? [],
  };
}

/** An entry whose type is EntryNormal unless given; it counts as set (and is encoded) unless `typeUnset` says not. */
export function newEntry(fields: Partial<Entry> & Pick<Entry, 'term' | 'index'>): Entry {
  const term = fields.term;
  const index = fields.index;
  const type = fields.type ?? EntryType.EntryNormal;
  const data = fields.data ?? EMPTY_BYTES;
  return fields.typeUnset === true ? { term, index, type, data, typeUnset: true } : { term, index, type, data };
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === None && hs.commit === 0;
}

export function isEmptySnapshot(snap: Snapshot | null): boolean {
  return snap === null || snap.metadata.index === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Messages a node sends to itself or that never leave it. */
export function isLocalMessage(type: MessageType): boolean {
  switch (type) {
    case MessageType.MsgHup:
    case MessageType.MsgBeat:
    case MessageType.MsgUnreachable:
    case MessageType.MsgSnapStatus:
    case MessageType.MsgCheckQuorum:
    case MessageType.MsgStorageAppend:
    case MessageType.MsgStorageAppendResp:
    case MessageType.MsgStorageApply:
    case MessageType.MsgStorageApplyResp:
      return true;
    default:
      return false;
  }
}

/** Responses to a request, which are stepped even from an older term in some cases. */
export function isResponseMessage(type: MessageType): boolean {
  switch (type) {
    case MessageType.MsgAppResp:
    case MessageType.MsgVoteResp:
    case MessageType.MsgHeartbeatResp:
    case MessageType.MsgUnreachable:
    case MessageType.MsgReadIndexResp:
    case MessageType.MsgPreVoteResp:
    case MessageType.MsgStorageAppendResp:
    case MessageType.MsgStorageApplyResp:
      return true;
    default:
      return false;
  }
}

/** The response type a vote request expects (MsgVote → MsgVoteResp, MsgPreVote → MsgPreVoteResp). */
export function voteResponseType(type: MessageType): MessageType {
  switch (type) {
    case MessageType.MsgVote:
      return MessageType.MsgVoteResp;
    case MessageType.MsgPreVote:
      return MessageType.MsgPreVoteResp;
    default:
      throw new Error(`Not a vote message: ${MessageType[type]}`);
  }
}
