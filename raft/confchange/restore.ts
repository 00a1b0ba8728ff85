// # Rebuilding a configuration from a ConfState
//
// A snapshot (or the storage of a restarting node) records only the resulting membership, a ConfState. To rebuild
// the tracker, tsraft replays it as a sequence of changes through the same Changer that validated the originals,
// so a restored configuration obeys exactly the invariants a live one does.
//
// For a joint ConfState, say voters=(1 2 3) outgoing=(1 2 4 6) learners=(5) learners_next=(4), the replay is:
//
// 1. simple changes adding each outgoing voter, one at a time: (1 2 4 6);
// 2. enterJoint with: remove 1 2 4 6; add 1 2 3; add learner 5; add learner 4 (demoted, so staged in
//    learners_next because 4 is an outgoing voter), giving (1 2 3)&&(1 2 4 6) learners=(5) learners_next=(4).
//
// Whether 5 was a learner before the joint change cannot be known and does not matter.

import { ProgressMap } from '../tracker/progress';
import { Config, ProgressTracker } from '../tracker/tracker';
import { ConfChangeSingle, ConfChangeType, ConfState, NodeId } from '../types';
import { Changer } from './confchange';

function changes(type: ConfChangeType, ids: readonly NodeId[]): ConfChangeSingle[] {
  return ids.map((nodeId) => ({ type, nodeId }));
}

/**
 * Builds the configuration and progress map described by `cs`, starting from the changer's tracker, which must hold
 * the empty configuration. Neither the changer nor its tracker is modified. Throws ConfChangeError if `cs` is not a
 * valid configuration.
 */
export function restore(changer: Changer, cs: ConfState): [Config, ProgressMap] {
  // Each step starts from the result of the previous one, on a tracker of our own.
  const scratch = new ProgressTracker(changer.tracker.maxInflight, changer.tracker.maxInflightBytes);
  scratch.config = changer.tracker.config;
  scratch.progress = changer.tracker.progress;
  const chg = new Changer(scratch, changer.lastIndex);
  const step = (result: [Config, ProgressMap]): void => {
    [scratch.config, scratch.progress] = result;
  };

  const incoming = [
    ...changes(ConfChangeType.ConfChangeRemoveNode, cs.votersOutgoing),
    ...changes(ConfChangeType.ConfChangeAddNode, cs.voters),
    ...changes(ConfChangeType.ConfChangeAddLearnerNode, cs.learners),
    ...changes(ConfChangeType.ConfChangeAddLearnerNode, cs.learnersNext),
  ];
  if (cs.votersOutgoing.length === 0) {
    // Not joint: the removals above are empty, and a single change never alters more than one voter.
    for (const cc of incoming) step(chg.simple(cc));
  } else {
    // First make the outgoing voters the whole configuration, then enter the joint configuration from there.
    for (const cc of changes(ConfChangeType.ConfChangeAddNode, cs.votersOutgoing)) step(chg.simple(cc));
    step(chg.enterJoint(cs.autoLeave, ...incoming));
  }
  return [scratch.config, scratch.progress];
}
