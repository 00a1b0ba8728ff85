// # The safety properties of Figure 3, checked as the simulation runs
//
// Raft's paper proves five properties that hold "at all times" (Figure 3). The simulator does not trust the proof
// of this implementation: it watches what every node writes to stable storage and applies to its state machine,
// and checks each property after every step.
//
// The checker sees only what an application sees: the Ready batches a node handles and the storage it writes them
// to. It keeps a history across crashes, so "at most one leader per term" means across the whole run, and an
// entry applied at index 7 by a node that later crashed still constrains every other node's index 7.
//
// Entries are compared by a fingerprint (term, type and data), built by the caller: two entries are "the same
// entry" when their fingerprints are equal.

import { HardState, NodeId, None } from '../types';

/** Which property was broken. */
export type InvariantCode =
  /** §5.2: two leaders in one term. */
  | 'ElectionSafety'
  /** §5.3: a leader overwrote or deleted entries of its own log. */
  | 'LeaderAppendOnly'
  /** §5.3: two logs hold the same (index, term) with different entries or different predecessors. */
  | 'LogMatching'
  /** §5.4: a leader lacks an entry committed in an earlier term. */
  | 'LeaderCompleteness'
  /** §5.4.3: two nodes applied different entries at one index, or two committed entries disagree. */
  | 'StateMachineSafety'
  /** Figure 2, S1: a node's persisted term went backwards. */
  | 'TermRegression'
  /** Figure 2, S1: a node's persisted vote changed within one term. */
  | 'VoteChanged'
  /** A node's persisted commit index went backwards. */
  | 'CommitRegression'
  /** §8: a ReadIndex answer came from before a write that had completed when the read began. */
  | 'LinearizableRead'
  /** The core's own consistency check failed. */
  | 'CoreInvariant';

/** A broken safety property: what broke, on which node, in a sentence naming the indexes and terms. */
export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
  readonly code: InvariantCode;
  readonly nodeId: NodeId;

  constructor(code: InvariantCode, nodeId: NodeId, message: string) {
    super(`${code} violated on node ${nodeId}: ${message}`);
    this.code = code;
    this.nodeId = nodeId;
  }
}

/**
 * A read-only view of one node's log as persisted: `term(i)` answers for firstIndex()-1 (the term of the entry a
 * snapshot ends with) through lastIndex(). MemoryStorage is such a view.
 */
export interface LogView {
  firstIndex(): number;
  lastIndex(): number;
  term(i: number): number;
}

/** An entry as the checker needs it: where it sits, its term, and its fingerprint. */
export interface CheckedEntry {
  index: number;
  term: number;
  fingerprint: string;
}

interface CommittedRecord {
  term: number;
  // Invariant: the entry was committed in a term no later than `bound` (the term of a node that knew it committed).
  bound: number;
  by: NodeId;
}

interface LeaderRecord {
  term: number;
  log: LogView;
}

interface AppendRecord {
  fingerprint: string;
  prevTerm: number;
  by: NodeId;
}

/** Watches every node's persisted state and applied entries, and throws InvariantViolation at the first breach. */
export class SafetyChecker {
  // Invariant: leaderOf.get(t) is the only node that was ever leader in term t.
  private readonly leaderOf = new Map<number, NodeId>();
  // Nodes that are leaders now, as last observed, with the log they lead from.
  private readonly leaders = new Map<NodeId, LeaderRecord>();
  private readonly hardStates = new Map<NodeId, HardState>();
  // (index, term) → the entry and its predecessor's term, as first persisted by any node.
  private readonly appended = new Map<number, Map<number, AppendRecord>>();
  private readonly committed = new Map<number, CommittedRecord>();
  // The highest index each node has reported committed, so each report checks only what is new.
  private readonly commitSeen = new Map<NodeId, number>();
  private readonly appliedAt = new Map<number, { fingerprint: string; by: NodeId }>();

  /** How many leaders were ever elected (one per term at most). */
  get electedLeaders(): number {
    return this.leaderOf.size;
  }

  /** The highest index known committed by any node. */
  get highestCommitted(): number {
    let max = 0;
    for (const c of this.commitSeen.values()) {
      max = Math.max(max, c);
    }
    return max;
  }

  /** A node persisted a HardState: term and commit only grow, and the vote changes only with the term. */
  persistHardState(id: NodeId, hs: HardState): void {
    const prev = this.hardStates.get(id);
    if (prev !== undefined) {
      if (hs.term < prev.term) {
        throw new InvariantViolation('TermRegression', id, `term went from ${prev.term} to ${hs.term}`);
      }
      if (hs.term === prev.term && prev.vote !== None && hs.vote !== prev.vote) {
        throw new InvariantViolation('VoteChanged', id, `vote went from ${prev.vote} to ${hs.vote} in term ${hs.term}`);
      }
      if (hs.commit < prev.commit) {
        throw new InvariantViolation('CommitRegression', id, `commit went from ${prev.commit} to ${hs.commit}`);
      }
    }
    this.hardStates.set(id, { ...hs });
  }

  /**
   * A node reported its role. A leader must be the only one of its term (Election Safety), and on taking office
   * must hold every entry committed in an earlier term (Leader Completeness).
   */
  observeRole(id: NodeId, term: number, isLeader: boolean, log: LogView): void {
    if (!isLeader) {
      this.leaders.delete(id);
      return;
    }
    const other = this.leaderOf.get(term);
    if (other !== undefined && other !== id) {
      throw new InvariantViolation('ElectionSafety', id, `node ${other} was already leader in term ${term}`);
    }
    const current = this.leaders.get(id);
    if (current !== undefined && current.term === term) {
      return;
    }
    this.leaderOf.set(term, id);
    this.leaders.set(id, { term, log });
    for (const [index, c] of this.committed) {
      if (c.bound < term) {
        this.checkLeaderHas(id, term, log, index, c);
      }
    }
  }

  /** A node stopped (crashed or was shut down): it leads nothing any more. */
  nodeDown(id: NodeId): void {
    this.leaders.delete(id);
  }

  /**
   * A node is about to append `entries` to its stable log, whose last index is `prevLast`. When the node has been
   * leader of `leaderTerm` since before this batch (null otherwise), it may only append past its last entry.
   */
  checkLeaderAppend(id: NodeId, leaderTerm: number | null, firstIndex: number, prevLast: number): void {
    if (leaderTerm !== null && firstIndex <= prevLast) {
      throw new InvariantViolation(
        'LeaderAppendOnly',
        id,
        `leader of term ${leaderTerm} rewrote its log from index ${firstIndex} (last index was ${prevLast})`,
      );
    }
  }

  /**
   * A node appended `entries` to its stable log (`log` already includes them). Log Matching holds iff every
   * (index, term) pair ever persisted names one entry with one predecessor term: by induction the logs agree on
   * the whole prefix.
   */
  persistEntries(id: NodeId, entries: readonly CheckedEntry[], log: LogView): void {
    if (entries.length === 0) {
      return;
    }
    const first = entries[0].index;
    let prevTerm = first - 1 >= log.firstIndex() - 1 ? log.term(first - 1) : -1;
    for (const e of entries) {
      let byTerm = this.appended.get(e.index);
      if (byTerm === undefined) {
        byTerm = new Map();
        this.appended.set(e.index, byTerm);
      }
      const seen = byTerm.get(e.term);
      if (seen === undefined) {
        byTerm.set(e.term, { fingerprint: e.fingerprint, prevTerm, by: id });
      } else if (seen.fingerprint !== e.fingerprint) {
        throw new InvariantViolation(
          'LogMatching',
          id,
          `entry ${e.term}/${e.index} is ${e.fingerprint} here but ${seen.fingerprint} on node ${seen.by}`,
        );
      } else if (prevTerm !== -1 && seen.prevTerm !== -1 && seen.prevTerm !== prevTerm) {
        throw new InvariantViolation(
          'LogMatching',
          id,
          `entry ${e.term}/${e.index} follows term ${prevTerm} here but term ${seen.prevTerm} on node ${seen.by}`,
        );
      }
      prevTerm = e.term;
    }
  }

  /**
   * A node, in term `term`, knows its log is committed through `commit`. Committed entries must agree across
   * nodes, and every current leader of a later term must hold them.
   */
  observeCommit(id: NodeId, commit: number, term: number, log: LogView): void {
    const seen = this.commitSeen.get(id) ?? 0;
    if (commit <= seen) {
      return;
    }
    this.commitSeen.set(id, commit);
    const from = Math.max(seen + 1, log.firstIndex() - 1);
    for (let index = from; index <= commit; index++) {
      const t = log.term(index);
      const c = this.committed.get(index);
      if (c === undefined) {
        const rec = { term: t, bound: term, by: id };
        this.committed.set(index, rec);
        this.checkCurrentLeaders(index, rec);
      } else if (c.term !== t) {
        throw new InvariantViolation(
          'StateMachineSafety',
          id,
          `index ${index} committed with term ${t} here but with term ${c.term} on node ${c.by}`,
        );
      } else if (term < c.bound) {
        c.bound = term;
        this.checkCurrentLeaders(index, c);
      }
    }
  }

  /** A node applied the entry `fingerprint` at `index`: no node ever applies another entry there. */
  observeApply(id: NodeId, index: number, fingerprint: string): void {
    const seen = this.appliedAt.get(index);
    if (seen === undefined) {
      this.appliedAt.set(index, { fingerprint, by: id });
    } else if (seen.fingerprint !== fingerprint) {
      throw new InvariantViolation(
        'StateMachineSafety',
        id,
        `applied ${fingerprint} at index ${index} but node ${seen.by} applied ${seen.fingerprint}`,
      );
    }
  }

  /**
   * A ReadIndex request `ctx` was answered with `index`. A write acknowledged at `mustSee` completed before the read
   * began, so a linearizable read must be served from at least that index (§8).
   */
  observeRead(id: NodeId, ctx: string, index: number, mustSee: number): void {
    if (index < mustSee) {
      throw new InvariantViolation(
        'LinearizableRead',
        id,
        `read ${ctx} was given index ${index}, but a write acknowledged at ${mustSee} preceded it`,
      );
    }
  }

  /** The core's own consistency check threw: report it as a violation of this node. */
  coreInvariant(id: NodeId, err: unknown): never {
    throw new InvariantViolation('CoreInvariant', id, err instanceof Error ? err.message : String(err));
  }

  private checkCurrentLeaders(index: number, c: CommittedRecord): void {
    for (const [lid, l] of this.leaders) {
      if (l.term > c.bound) {
        this.checkLeaderHas(lid, l.term, l.log, index, c);
      }
    }
  }

  private checkLeaderHas(id: NodeId, term: number, log: LogView, index: number, c: CommittedRecord): void {
    // An index inside the leader's snapshot is committed there by construction.
    if (index < log.firstIndex() - 1) {
      return;
    }
    const has = index <= log.lastIndex() ? log.term(index) : -1;
    if (has !== c.term) {
      throw new InvariantViolation(
        'LeaderCompleteness',
        id,
        `leader of term ${term} lacks entry ${c.term}/${index}, committed by term ${c.bound} (seen by node ${c.by})`,
      );
    }
  }
}
