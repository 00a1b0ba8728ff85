// # Membership changes, spelled briefly
//
// Builders for the two kinds of configuration change a simulation proposes: etcd's original one-node ConfChange
// (§6 as first implemented), and ConfChangeV2, which can change several nodes at once through a joint
// configuration (thesis §4.3).

import { ConfChange, ConfChangeTransition, ConfChangeType, ConfChangeV2, NodeId } from '../types';

/** A one-node change: add a voter, add a learner (or demote a voter), or remove a node. */
export function simpleChange(type: ConfChangeType, nodeId: NodeId): ConfChange {
  return { type, nodeId, context: new Uint8Array(0) };
}

/**
 * A change of several nodes at once. With the Auto transition a change of at most one voter is made directly and
 * anything larger goes through a joint configuration left automatically; JointImplicit always goes through one and
 * leaves it automatically; JointExplicit stays joint until `leaveJoint()` is proposed.
 */
export function jointChange(transition: ConfChangeTransition, changes: [ConfChangeType, NodeId][]): ConfChangeV2 {
  return { transition, changes: changes.map(([type, nodeId]) => ({ type, nodeId })), context: new Uint8Array(0) };
}

/** The empty ConfChangeV2 that leaves a joint configuration entered with JointExplicit. */
export function leaveJoint(): ConfChangeV2 {
  return jointChange(ConfChangeTransition.ConfChangeTransitionAuto, []);
}
