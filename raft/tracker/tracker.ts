// # The progress tracker
//
// Everything a node knows about the membership and its peers: the active configuration (possibly joint, §6),
// each peer's Progress, and the votes of the current election. The leader derives its commit index here (rule L4:
// the highest index a majority has matched) and a candidate counts its votes here (rule C2).
//
// Public API of raft/tracker:
// - state.ts: `enum StateType { StateProbe, StateReplicate, StateSnapshot }`
// - inflights.ts: `class Inflights(size, maxBytes)`: `add(index, bytes)`, `freeLE(to)`, `full()`, `count()`,
//   `bytes()`, `reset()`, `clone()`
// - progress.ts: `class Progress({ match?, next, inflights, isLearner?, recentActive? })` with fields `match`,
//   `next`, `state`, `pendingSnapshot`, `recentActive`, `msgAppFlowPaused`, `inflights`, `isLearner` and methods
//   `resetState(s)`, `becomeProbe()`, `becomeReplicate()`, `becomeSnapshot(i)`, `sentEntries(n, bytes)`,
//   `canBumpCommit(i)`, `sentCommit(i)`, `maybeUpdate(n)`, `maybeDecrTo(rejected, matchHint)`, `isPaused()`,
//   `clone()`, `toString()`; `class ProgressMap extends Map<NodeId, Progress>` with `toString()`
// - this file: `class Config { voters, autoLeave, learners, learnersNext }` with `clone()`, `toString()`;
//   `class ProgressTracker(maxInflight, maxInflightBytes)` with fields `config`, `progress`, `votes`,
//   `maxInflight`, `maxInflightBytes` and methods `confState()`, `isSingleton()`, `committed()`, `visit(f)`,
//   `quorumActive()`, `voterNodes()`, `learnerNodes()`, `resetVotes()`, `recordVote(id, v)`, `tallyVotes()`

import { JointConfig } from '../quorum/joint';
import { MajorityConfig } from '../quorum/majority';
import { AckedIndexer, VoteResult } from '../quorum/quorum';
import type { ConfState, NodeId } from '../types';
import { Progress, ProgressMap } from './progress';

function sortedIds(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort((a, b) => a - b);
}

/** The membership: who votes (in one or two majorities) and who only learns. */
export class Config {
  voters: JointConfig;
  /**
   * Leave the joint configuration automatically once it is committed, rather than waiting for the application to
   * propose the transition. Invariant: false unless joint.
   */
  autoLeave: boolean;
  /** Peers that replicate the log without voting. Invariant: disjoint from both halves of `voters`. */
  learners: Set<NodeId>;
  /**
   * Voters being demoted to learners by the current joint change. They stay voters of the outgoing half until the
   * joint configuration is left, since a peer cannot be both voter and learner; then they become learners.
   * Invariant: a subset of `voters.outgoing`, and empty unless joint.
   */
  learnersNext: Set<NodeId>;

  constructor(init: Partial<Pick<Config, 'voters' | 'autoLeave' | 'learners' | 'learnersNext'>> = {}) {
    this.voters = init.voters ?? new JointConfig();
    this.autoLeave = init.autoLeave ?? false;
    this.learners = init.learners ?? new Set();
    this.learnersNext = init.learnersNext ?? new Set();
  }

  /** A copy sharing no sets with this one. */
  clone(): Config {
    return new Config({
      voters: this.voters.clone(),
      autoLeave: this.autoLeave,
      learners: new Set(this.learners),
      learnersNext: new Set(this.learnersNext),
    });
  }

  /** etcd's rendering, e.g. "voters=(1 2)&&(1) learners=(3) learners_next=(4) autoleave". */
  toString(): string {
    let s = `voters=${this.voters.toString()}`;
    if (this.learners.size > 0) s += ` learners=${new MajorityConfig(this.learners).toString()}`;
    if (this.learnersNext.size > 0) s += ` learners_next=${new MajorityConfig(this.learnersNext).toString()}`;
    if (this.autoLeave) s += ' autoleave';
    return s;
  }
}

/** The outcome of counting votes: informational counts among current voters, and the decision. */
export interface VoteTally {
  granted: number;
  rejected: number;
  result: VoteResult;
}

/** The active configuration, every peer's Progress, and the votes of the current election. */
export class ProgressTracker {
  config = new Config();
  /** Invariant: holds a Progress for exactly the voters and learners of `config`. */
  progress = new ProgressMap();
  /** The votes received in the current election, by voter. */
  votes = new Map<NodeId, boolean>();

  /**
   * @param maxInflight the inflight message limit for each new Progress.
   * @param maxInflightBytes the inflight byte limit for each new Progress (0: none).
   */
  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {}

  /** The active configuration as the ConfState that snapshots and conf-change results carry (IDs sorted). */
  confState(): ConfState {
    return {
      voters: this.config.voters.incoming.slice(),
      votersOutgoing: this.config.voters.outgoing.slice(),
      learners: sortedIds(this.config.learners),
      learnersNext: sortedIds(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  /** Whether this is a one-voter cluster (the voter can decide everything alone). */
  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && !this.config.voters.isJoint();
  }

  /** The highest index that a quorum of voters has matched (rule L4, in both halves when joint). */
  committed(): number {
    return this.config.voters.committedIndex(this.matchIndexer);
  }

  /** Each voter's match index, for the quorum; one shared object, since the leader asks on every acknowledgement. */
  private readonly matchIndexer: AckedIndexer = { ackedIndex: (id) => this.progress.get(id)?.match };

  /** Calls `f` for every tracked peer in ascending ID order, so that output and message order are stable. */
  visit(f: (id: NodeId, pr: Progress) => void): void {
    for (const id of sortedIds(this.progress.keys())) {
      const pr = this.progress.get(id);
      if (pr !== undefined) f(id, pr);
    }
  }

  /** Whether a quorum of voters was recently active (thesis §6.2: otherwise the leader steps down). */
  quorumActive(): boolean {
    const active = new Map<NodeId, boolean>();
    this.visit((id, pr) => {
      if (!pr.isLearner) active.set(id, pr.recentActive);
    });
    return this.config.voters.voteResult(active) === VoteResult.VoteWon;
  }

  /** The voters of both halves, sorted. */
  voterNodes(): NodeId[] {
    return this.config.voters.ids().slice();
  }

  /** The learners, sorted. */
  learnerNodes(): NodeId[] {
    return sortedIds(this.config.learners);
  }

  /** Forgets all votes, for a new election. */
  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records `id`'s vote; only the first vote of each peer counts (a voter votes once per term, rule RV2). */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** Counts the votes of current voters and decides the election (rule C2: a majority of each half wins). */
  tallyVotes(): VoteTally {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: this.config.voters.voteResult(this.votes) };
  }
}
