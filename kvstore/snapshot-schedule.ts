// # When a member takes its snapshot
//
// Every member of a cluster applies the same entries, so with a plain "every `snapshotCount` entries since the
// last one" they all take their snapshots at the same index, at the same moment: three members encoding and writing
// megabytes at once on the same cores, while every client waits, because a write needs the leader and one follower.
// Measured beside etcd (docs/operations.md, "Snapshots at different indexes"), that one moment was most of the p99
// of puts from 16 clients.
//
// So each member takes its snapshots on a grid of its own: at the indexes `phase + k × snapshotCount`, where the
// phase comes from the member's ID (the fractional parts of multiples of the golden ratio spread evenly for any
// number of members: IDs 1, 2 and 3 get 0.62, 0.24 and 0.85 of the count). The fraction is taken in 32-bit integer
// arithmetic (Knuth's multiplicative hash), which stays exact for an ID of any size, where a floating-point product
// past 2^52 has no fractional part left. A member takes a snapshot at the first
// point of its grid at least half the count after its last one. The snapshot is of the state as applied when the
// point is reached, which a busy member may have passed by a batch; the grid does not move with it, and the half
// count of slack keeps such a snapshot from pushing the next one to the point after. So snapshots come the count
// apart, on every member at its own indexes, and the log a member holds between two is at most one and a half
// times the count.
//
// Only the timing is the member's own, as §7 allows: each server takes its snapshots independently. What a snapshot
// holds, and the history the store forgets, are still rules of the log (kvstore/kv.ts), the same on every member.

/** Where on the grid of `snapshotCount` entries member `id` takes its snapshots (0 <= phase < snapshotCount). */
export function snapshotPhase(id: number, snapshotCount: number): number {
  const goldenFraction = Math.imul(id >>> 0, 0x9e3779b9) >>> 0;
  return Math.floor((goldenFraction / 2 ** 32) * snapshotCount);
}

/** The index from which member `id`, whose last snapshot is at `lastSnapshot`, takes its next one. */
export function nextSnapshotAt(id: number, lastSnapshot: number, snapshotCount: number): number {
  const earliest = lastSnapshot + Math.ceil(snapshotCount / 2);
  const phase = snapshotPhase(id, snapshotCount);
  const offset = (((phase - earliest) % snapshotCount) + snapshotCount) % snapshotCount;
  return earliest + offset;
}
