// # Majority quorums
//
// A set of voters decides by simple majority: ⌊n/2⌋+1 of them. Any two majorities of the same set intersect, which
// is what makes a committed entry survive leader changes (§5.4.1 the Election Restriction relies on it) and what
// stops two leaders winning the same term (§5.2).

import type { NodeId } from '../types';
import { AckedIndexer, VoteResult, formatIndex } from './quorum';

function byNumber(a: number, b: number): number {
  return a - b;
}

/** A set of voter IDs deciding by majority. Iteration order is insertion order; `slice()` gives sorted IDs. */
export class MajorityConfig extends Set<NodeId> {
  /** Working space of committedIndex; holds nothing between calls. */
  private readonly scratch: number[] = [];

  /** The IDs in ascending order. */
  slice(): NodeId[] {
    return [...this].sort(byNumber);
  }

  /** etcd's rendering: sorted IDs in parentheses, e.g. "(1 2 3)"; "()" when empty. */
  override toString(): string {
    return `(${this.slice().join(' ')})`;
  }

  /**
   * The highest index acknowledged by a majority: sort the acknowledged indexes (unknown counting as 0) and take
   * the one that a quorum of ⌊n/2⌋+1 voters has reached or passed. An empty configuration returns Infinity, so
   * that in a joint configuration whose outgoing half is empty the other half alone decides.
   */
  committedIndex(l: AckedIndexer): number {
    const n = this.size;
    if (n === 0) return Number.POSITIVE_INFINITY;
    // Performance: the leader asks on every acknowledgement, so a lone voter skips the sorting and larger
    // configurations sort into one reused array (insertion sort: clusters have a handful of voters).
    if (n === 1) {
      for (const id of this) return l.ackedIndex(id) ?? 0;
    }
    const acked = this.scratch;
    if (acked.length !== n) acked.length = n;
    let i = 0;
    for (const id of this) {
      const idx = l.ackedIndex(id) ?? 0;
      let j = i++;
      for (; j > 0 && acked[j - 1] > idx; j--) acked[j] = acked[j - 1];
      acked[j] = idx;
    }
    // Counting from the highest index, the (⌊n/2⌋+1)-th value is acknowledged by a majority.
    return acked[n - (Math.floor(n / 2) + 1)];
  }

  /**
   * Counts the votes of this configuration's members (votes of others are ignored). Won once a majority voted yes,
   * lost once a majority can no longer be reached even if every missing vote is yes, pending in between. An empty
   * configuration wins, so that a joint configuration with an empty outgoing half behaves like its incoming half.
   */
  voteResult(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    if (this.size === 0) return VoteResult.VoteWon;
    let granted = 0;
    let missing = 0;
    for (const id of this) {
      const v = votes.get(id);
      if (v === undefined) missing++;
      else if (v) granted++;
    }
    const quorum = Math.floor(this.size / 2) + 1;
    if (granted >= quorum) return VoteResult.VoteWon;
    if (granted + missing >= quorum) return VoteResult.VotePending;
    return VoteResult.VoteLost;
  }

  /**
   * A table of each voter's acknowledged index, as etcd prints it in its quorum tests: one row per voter in ID
   * order, with a bar whose length is the number of voters below it (equal indexes get equal bars), "?" for a
   * voter with no known index.
   */
  describe(l: AckedIndexer): string {
    const n = this.size;
    if (n === 0) return '<empty majority quorum>';
    const rows = [...this].map((id) => {
      const idx = l.ackedIndex(id);
      return { id, idx: idx ?? 0, known: idx !== undefined, bar: 0 };
    });
    rows.sort((a, b) => a.idx - b.idx || a.id - b.id);
    rows.forEach((row, i) => {
      if (i > 0) row.bar = rows[i - 1].idx < row.idx ? i : rows[i - 1].bar;
    });
    rows.sort((a, b) => a.id - b.id);

    let out = `${' '.repeat(n)}    idx\n`;
    for (const row of rows) {
      out += row.known ? `${'x'.repeat(row.bar)}>${' '.repeat(n - row.bar)}` : `?${' '.repeat(n)}`;
      out += ` ${formatIndex(row.idx).padStart(5)}    (id=${row.id})\n`;
    }
    return out;
  }
}
