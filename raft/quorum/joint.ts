// # Joint quorums
//
// During a membership change Raft passes through the joint configuration C_old,new (§6, thesis §4.3): every
// decision, elections and commitment alike, needs a majority of the old voters AND a majority of the new ones.
// Neither configuration can then decide alone, so no two leaders can appear, one per configuration, in the same
// term. tsraft, like etcd, calls the new voters "incoming" and the old ones "outgoing"; outside a membership change
// the outgoing half is empty and the joint configuration acts exactly as its incoming majority.

import type { NodeId } from '../types';
import { MajorityConfig } from './majority';
import { AckedIndexer, VoteResult } from './quorum';

/** Two majority configurations that must both agree. */
export class JointConfig {
  /** The configuration being moved to (C_new); the only one outside a membership change. */
  incoming: MajorityConfig;
  /** The configuration being left (C_old). Invariant: empty unless a joint membership change is in progress. */
  outgoing: MajorityConfig;

  constructor(incoming: Iterable<NodeId> = [], outgoing: Iterable<NodeId> = []) {
    this.incoming = new MajorityConfig(incoming);
    this.outgoing = new MajorityConfig(outgoing);
  }

  /** Whether a membership change is in progress, i.e. the outgoing half is non-empty. */
  isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  /** A copy sharing no sets with this one. */
  clone(): JointConfig {
    return new JointConfig(this.incoming, this.outgoing);
  }

  /** Every voter of either half, once. */
  ids(): MajorityConfig {
    return new MajorityConfig([...this.incoming, ...this.outgoing]);
  }

  /** etcd's rendering: "(1 2 3)" outside a change, "(incoming)&&(outgoing)" during one. */
  toString(): string {
    return this.isJoint() ? `${this.incoming.toString()}&&${this.outgoing.toString()}` : this.incoming.toString();
  }

  /** The acknowledgement table of all voters of both halves (see MajorityConfig.describe). */
  describe(l: AckedIndexer): string {
    return this.ids().describe(l);
  }

  /** An index is committed jointly once both majorities have it: the smaller of the two halves' answers. */
  committedIndex(l: AckedIndexer): number {
    return Math.min(this.incoming.committedIndex(l), this.outgoing.committedIndex(l));
  }

  /**
   * Both halves must win. A loss in either half loses; if the halves disagree otherwise, one is still pending and
   * so is the whole.
   */
  voteResult(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    const r1 = this.incoming.voteResult(votes);
    const r2 = this.outgoing.voteResult(votes);
    if (r1 === r2) return r1;
    if (r1 === VoteResult.VoteLost || r2 === VoteResult.VoteLost) return VoteResult.VoteLost;
    return VoteResult.VotePending;
  }
}
