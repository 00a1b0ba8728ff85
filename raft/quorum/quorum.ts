// # Quorum vocabulary
//
// Raft makes two kinds of decisions by counting nodes: an election is won when a majority grants its vote (§5.2,
// rule RV/C2), and an entry is committed once a majority stores it (§5.3, rule L4). The quorum package answers both
// questions for a plain majority configuration and for the joint configuration of a membership change (§6,
// thesis §4.3), without knowing anything else about Raft.
//
// Public API of raft/quorum (this file, majority.ts, joint.ts):
// - `enum VoteResult { VotePending = 1, VoteLost, VoteWon }`; `VoteResult[r]` is etcd's name ("VoteWon")
// - `interface AckedIndexer { ackedIndex(id: NodeId): number | undefined }`
// - `mapAckedIndexer(m: ReadonlyMap<NodeId, number>): AckedIndexer`
// - `formatIndex(i: number): string` ("∞" for the committed index of an empty configuration)
// - `class MajorityConfig extends Set<NodeId>`: `committedIndex(l)`, `voteResult(votes)`, `describe(l)`,
//   `slice()`, `toString()` ("(1 2 3)")
// - `class JointConfig { incoming; outgoing }`: `isJoint()`, `ids()`, `committedIndex(l)`, `voteResult(votes)`,
//   `describe(l)`, `clone()`, `toString()` ("(1 2 3)&&(1 2)")

import type { NodeId } from '../types';

/** The outcome of an election as far as the votes seen so far decide it. Values and names are etcd's. */
export enum VoteResult {
  /** Neither a quorum of yes nor a quorum of no votes yet; missing votes could still decide either way. */
  VotePending = 1,
  /** A quorum can no longer vote yes. */
  VoteLost,
  /** A quorum voted yes. */
  VoteWon,
}

/**
 * Looks up the highest log index a node is known to have acknowledged (its match index, for the leader). Returns
 * undefined for a node about which nothing is known, which is not the same as index 0.
 */
export interface AckedIndexer {
  ackedIndex(id: NodeId): number | undefined;
}

/** An AckedIndexer reading a map of node ID to acknowledged index. */
export function mapAckedIndexer(m: ReadonlyMap<NodeId, number>): AckedIndexer {
  return { ackedIndex: (id) => m.get(id) };
}

/**
 * Prints an index as etcd's quorum.Index does. The empty configuration commits "everything", which tsraft
 * represents as Infinity and prints as ∞.
 */
export function formatIndex(i: number): string {
  return i === Number.POSITIVE_INFINITY ? '∞' : String(i);
}
