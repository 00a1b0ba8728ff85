// # Membership changes
//
// A membership change must never let two disjoint majorities decide at once (§6). Raft offers two safe ways:
//
// - a *simple* change alters the voters by at most one node, so every majority of the old configuration intersects
//   every majority of the new one and no intermediate state is needed (thesis §4.1);
// - a *joint* change passes through C_old,new, in which decisions need a majority of both (§6, thesis §4.3); it can
//   change any number of voters at once. `enterJoint` moves from C_old to C_old,new, `leaveJoint` from C_old,new to
//   C_new once the joint configuration is committed.
//
// The Changer validates a change and computes the resulting configuration and progress map without touching the
// tracker it was given, so an invalid change is refused before it affects anything.
//
// Public API of raft/confchange:
// - `class Changer(tracker: ProgressTracker, lastIndex: number)`, fields `tracker`, `lastIndex`, and methods
//   `enterJoint(autoLeave: boolean, ...ccs: ConfChangeSingle[]): [Config, ProgressMap]`,
//   `leaveJoint(): [Config, ProgressMap]`, `simple(...ccs: ConfChangeSingle[]): [Config, ProgressMap]`;
//   all throw ConfChangeError
// - `class ConfChangeError` with `code: ConfChangeErrorCode`; messages are etcd's ("config is already joint", ...)
// - `describeChanges(ccs: ConfChangeSingle[]): string`, e.g. "ConfChangeAddNode(2) ConfChangeRemoveNode(3)"
// - restore.ts: `restore(changer: Changer, cs: ConfState): [Config, ProgressMap]`

import { Inflights } from '../tracker/inflights';
import { Progress, ProgressMap } from '../tracker/progress';
import { Config, ProgressTracker } from '../tracker/tracker';
import { ConfChangeSingle, ConfChangeType, NodeId } from '../types';

export type ConfChangeErrorCode =
  | 'AlreadyJoint'
  | 'ZeroVoterJoint'
  | 'NotJoint'
  | 'SimpleInJoint'
  | 'RemovedAllVoters'
  | 'TooManyVoterChanges'
  | 'UnexpectedType'
  | 'InvalidConfig';

/** A refused configuration change. Messages are etcd's, as its scenario files print them. */
export class ConfChangeError extends Error {
  override name = 'ConfChangeError';

  constructor(
    readonly code: ConfChangeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Computes validated configuration changes on top of a tracker's configuration and progress. */
export class Changer {
  /**
   * @param tracker supplies the current configuration and progress (never modified) and the inflight limits for
   *   new peers.
   * @param lastIndex the leader's last log index: a new peer is probed from there.
   */
  constructor(
    public tracker: ProgressTracker,
    public lastIndex: number,
  ) {}

  /**
   * Enters the joint configuration C_old,new: the current voters become the outgoing half and the changes apply
   * to the incoming half. With `autoLeave`, Raft leaves the joint configuration by itself once it is committed.
   */
  enterJoint(autoLeave: boolean, ...ccs: ConfChangeSingle[]): [Config, ProgressMap] {
    const [cfg, trk] = this.checkAndCopy();
    if (cfg.voters.isJoint()) throw new ConfChangeError('AlreadyJoint', 'config is already joint');
    if (cfg.voters.incoming.size === 0) {
      // An empty configuration may be filled by simple changes (bootstrap and tests), but a joint configuration
      // needs an outgoing majority to exist.
      throw new ConfChangeError('ZeroVoterJoint', "can't make a zero-voter config joint");
    }
    for (const id of cfg.voters.incoming) cfg.voters.outgoing.add(id);
    this.apply(cfg, trk, ccs);
    cfg.autoLeave = autoLeave;
    return checkAndReturn(cfg, trk);
  }

  /**
   * Leaves the joint configuration for C_new: the outgoing half is dropped, staged demotions (learnersNext) become
   * learners, and peers that are neither voters nor learners any more lose their progress.
   */
  leaveJoint(): [Config, ProgressMap] {
    const [cfg, trk] = this.checkAndCopy();
    if (!cfg.voters.isJoint()) throw new ConfChangeError('NotJoint', "can't leave a non-joint config");
    for (const id of cfg.learnersNext) {
      cfg.learners.add(id);
      mustGet(trk, id).isLearner = true;
    }
    cfg.learnersNext.clear();
    for (const id of cfg.voters.outgoing) {
      if (!cfg.voters.incoming.has(id) && !cfg.learners.has(id)) trk.delete(id);
    }
    cfg.voters.outgoing.clear();
    cfg.autoLeave = false;
    return checkAndReturn(cfg, trk);
  }

  /**
   * Applies changes that, taken together, add or remove at most one voter (thesis §4.1), outside a joint
   * configuration. Any number of learners may change.
   */
  simple(...ccs: ConfChangeSingle[]): [Config, ProgressMap] {
    const [cfg, trk] = this.checkAndCopy();
    if (cfg.voters.isJoint()) {
      throw new ConfChangeError('SimpleInJoint', "can't apply simple config change in joint config");
    }
    this.apply(cfg, trk, ccs);
    if (symmetricDifference(this.tracker.config.voters.incoming, cfg.voters.incoming) > 1) {
      throw new ConfChangeError('TooManyVoterChanges', 'more than one voter changed without entering joint config');
    }
    return checkAndReturn(cfg, trk);
  }

  // Applies the changes to the incoming half; the outgoing half, while joint, stays as it was entered.
  private apply(cfg: Config, trk: ProgressMap, ccs: ConfChangeSingle[]): void {
    for (const cc of ccs) {
      // etcd's server zeroes the node ID of a change it decided not to apply; such changes are no-ops.
      if (cc.nodeId === 0) continue;
      switch (cc.type) {
        case ConfChangeType.ConfChangeAddNode:
          this.makeVoter(cfg, trk, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeAddLearnerNode:
          this.makeLearner(cfg, trk, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeRemoveNode:
          remove(cfg, trk, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeUpdateNode:
          // Carries application data through the log; the membership is unchanged.
          break;
        default:
          throw new ConfChangeError('UnexpectedType', `unexpected conf type ${String(cc.type)}`);
      }
    }
    if (cfg.voters.incoming.size === 0) throw new ConfChangeError('RemovedAllVoters', 'removed all voters');
  }

  // Adds `id` as a voter of the incoming half, promoting it if it is a learner.
  private makeVoter(cfg: Config, trk: ProgressMap, id: NodeId): void {
    const pr = trk.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, trk, id, false);
      return;
    }
    pr.isLearner = false;
    cfg.learners.delete(id);
    cfg.learnersNext.delete(id);
    cfg.voters.incoming.add(id);
  }

  // Makes `id` a learner. A voter of the outgoing half cannot also be a learner (the two sets stay disjoint), so
  // its demotion is staged in learnersNext and completed by leaveJoint.
  private makeLearner(cfg: Config, trk: ProgressMap, id: NodeId): void {
    const pr = trk.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, trk, id, true);
      return;
    }
    if (pr.isLearner) return;
    // Drop it as a voter of the incoming half, but keep its progress: it stays a replica.
    remove(cfg, trk, id);
    trk.set(id, pr);
    if (cfg.voters.outgoing.has(id)) {
      cfg.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      cfg.learners.add(id);
    }
  }

  // Tracks a new peer. It is probed from the leader's last index, and counts as recently active so that a
  // check-quorum round right after the change does not depose the leader before the peer could answer.
  private initProgress(cfg: Config, trk: ProgressMap, id: NodeId, isLearner: boolean): void {
    if (isLearner) cfg.learners.add(id);
    else cfg.voters.incoming.add(id);
    trk.set(
      id,
      new Progress({
        match: 0,
        next: Math.max(this.lastIndex, 1),
        inflights: new Inflights(this.tracker.maxInflight, this.tracker.maxInflightBytes),
        isLearner,
        recentActive: true,
      }),
    );
  }

  // Copies the tracker's configuration and progress after checking that they are consistent.
  private checkAndCopy(): [Config, ProgressMap] {
    const trk = new ProgressMap();
    for (const [id, pr] of this.tracker.progress) trk.set(id, pr.clone());
    return checkAndReturn(this.tracker.config.clone(), trk);
  }
}

// Removes `id` as a voter of the incoming half or as a learner. Its progress stays while it is still a voter of the
// outgoing half.
function remove(cfg: Config, trk: ProgressMap, id: NodeId): void {
  if (!trk.has(id)) return;
  cfg.voters.incoming.delete(id);
  cfg.learners.delete(id);
  cfg.learnersNext.delete(id);
  if (!cfg.voters.outgoing.has(id)) trk.delete(id);
}

function mustGet(trk: ProgressMap, id: NodeId): Progress {
  const pr = trk.get(id);
  if (pr === undefined) throw new ConfChangeError('InvalidConfig', `no progress for ${id}`);
  return pr;
}

function invalid(message: string): ConfChangeError {
  return new ConfChangeError('InvalidConfig', message);
}

// The configuration invariants (see Config): every member has a progress, learners and voters are disjoint, staged
// demotions are outgoing voters, and nothing joint-only lingers outside a joint configuration. The empty
// configuration is allowed, as the starting point of bootstrap.
function checkInvariants(cfg: Config, trk: ProgressMap): void {
  for (const ids of [cfg.voters.ids(), cfg.learners, cfg.learnersNext]) {
    for (const id of ids) mustGet(trk, id);
  }
  for (const id of cfg.learnersNext) {
    if (!cfg.voters.outgoing.has(id)) throw invalid(`${id} is in LearnersNext, but not Voters[1]`);
    if (mustGet(trk, id).isLearner) throw invalid(`${id} is in LearnersNext, but is already marked as learner`);
  }
  for (const id of cfg.learners) {
    if (cfg.voters.outgoing.has(id)) throw invalid(`${id} is in Learners and Voters[1]`);
    if (cfg.voters.incoming.has(id)) throw invalid(`${id} is in Learners and Voters[0]`);
    if (!mustGet(trk, id).isLearner) throw invalid(`${id} is in Learners, but is not marked as learner`);
  }
  if (!cfg.voters.isJoint()) {
    if (cfg.learnersNext.size > 0) throw invalid('cfg.LearnersNext must be nil when not joint');
    if (cfg.autoLeave) throw invalid('AutoLeave must be false when not joint');
  }
}

function checkAndReturn(cfg: Config, trk: ProgressMap): [Config, ProgressMap] {
  checkInvariants(cfg, trk);
  return [cfg, trk];
}

// The number of IDs in exactly one of the two sets.
function symmetricDifference(a: ReadonlySet<NodeId>, b: ReadonlySet<NodeId>): number {
  let n = 0;
  for (const id of a) if (!b.has(id)) n++;
  for (const id of b) if (!a.has(id)) n++;
  return n;
}

/** The changes as etcd's confchange.Describe prints them: "ConfChangeAddNode(2) ConfChangeRemoveNode(3)". */
export function describeChanges(ccs: readonly ConfChangeSingle[]): string {
  return ccs.map((cc) => `${ConfChangeType[cc.type]}(${cc.nodeId})`).join(' ');
}
