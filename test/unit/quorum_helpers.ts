// Definitions of the quorum rules written the slow, obvious way, to check the real code against.

import { MajorityConfig } from '../../raft/quorum/majority';
import { AckedIndexer } from '../../raft/quorum/quorum';

/**
 * The committed index by definition: the largest index that at least a majority of voters have acknowledged
 * (a voter with no known index counts as having acknowledged 0).
 */
export function bruteForceCommittedIndex(c: MajorityConfig, l: AckedIndexer): number {
  if (c.size === 0) return Number.POSITIVE_INFINITY;
  const acked = [...c].map((id) => l.ackedIndex(id) ?? 0);
  const quorum = Math.floor(c.size / 2) + 1;
  let best = 0;
  for (const candidate of acked) {
    if (acked.filter((a) => a >= candidate).length >= quorum) best = Math.max(best, candidate);
  }
  return best;
}
