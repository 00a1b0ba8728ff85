// # How a leader replicates to one follower
//
// The leader keeps a small state machine per follower (etcd's flow control, beyond Figure 2): while it does not know
// where the follower's log ends it probes with one append at a time; once an append is acknowledged it streams
// appends optimistically; when the entries the follower needs were compacted away it sends a snapshot (§7) and
// waits.

/** The replication state of one follower, as the leader sees it. Values and names (`StateType[s]`) are etcd's. */
export enum StateType {
  /** Unsure where the follower's log ends: send at most one append per heartbeat interval and wait for the answer. */
  StateProbe = 0,
  /** The follower is known to match the leader up to `match`: pipeline appends, within the inflight limits. */
  StateReplicate,
  /** A snapshot is on its way to the follower: send no appends until it reports back. */
  StateSnapshot,
}
