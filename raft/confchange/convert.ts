// # Configuration changes as values
//
// The conversions between etcd's two kinds of configuration change (the one-node ConfChange and the any-size
// ConfChangeV2), how a change says whether it enters a joint configuration (thesis §4.3), and the proposal that
// carries it. etcd keeps these beside its wire types (raftpb); their text forms are in raft/describe.ts.

import { encodeConfChange, encodeConfChangeV2 } from '../codec';
import {
  ConfChange,
  ConfChangeTransition,
  ConfChangeV2,
  EMPTY_BYTES,
  EntryType,
  Message,
  MessageType,
  newMessage,
} from '../types';

/** The V2 form of any configuration change: a V1 change is a single-step V2 change. */
export function confChangeAsV2(cc: ConfChange | ConfChangeV2): ConfChangeV2 {
  if ('changes' in cc) {
    return cc;
  }
  return {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [{ type: cc.type, nodeId: cc.nodeId }],
    context: cc.context,
  };
}

/**
 * Whether `cc` enters a joint configuration, and if so whether it is left automatically. Auto transitions are
 * joint only when more than one change is made at once (thesis §4.3: single changes are safe on their own).
 */
export function confChangeEnterJoint(cc: ConfChangeV2): { autoLeave: boolean; ok: boolean } {
  if (cc.transition !== ConfChangeTransition.ConfChangeTransitionAuto || cc.changes.length > 1) {
    switch (cc.transition) {
      case ConfChangeTransition.ConfChangeTransitionAuto:
      case ConfChangeTransition.ConfChangeTransitionJointImplicit:
        return { autoLeave: true, ok: true };
      case ConfChangeTransition.ConfChangeTransitionJointExplicit:
        return { autoLeave: false, ok: true };
      default:
        throw new Error(`Unknown conf change transition ${String(cc.transition)}`);
    }
  }
  return { autoLeave: false, ok: false };
}

/** Whether `cc` is the empty change that leaves a joint configuration (its context does not matter). */
export function confChangeLeaveJoint(cc: ConfChangeV2): boolean {
  return cc.transition === ConfChangeTransition.ConfChangeTransitionAuto && cc.changes.length === 0;
}

/** The MsgProp that proposes `cc`; `null` is the empty ConfChangeV2 (leave the joint configuration). */
export function confChangeToMsg(cc: ConfChange | ConfChangeV2 | null): Message {
  const m = newMessage({ type: MessageType.MsgProp });
  if (cc === null) {
    m.entries = [{ term: 0, index: 0, type: EntryType.EntryConfChangeV2, data: EMPTY_BYTES }];
  } else if ('changes' in cc) {
    m.entries = [{ term: 0, index: 0, type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2(cc) }];
  } else {
    m.entries = [{ term: 0, index: 0, type: EntryType.EntryConfChange, data: encodeConfChange(cc) }];
  }
  return m;
}
