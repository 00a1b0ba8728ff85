// # What a node can tell about itself
//
// A snapshot of one node's view, for operators, tests and the node's HTTP endpoint. The progress of peers is known
// only on the leader (Figure 2's nextIndex/matchIndex, rule S3), so it is empty elsewhere.

import type { Raft } from './raft';
import { Progress } from './tracker/progress';
import { Config as TrackerConfig } from './tracker/tracker';
import { NodeId, StateType } from './types';

/** The scalar part of a node's state; cheap to take. */
export interface BasicStatus {
  id: NodeId;
  /** HardState (S1, and the commit index of S2). */
  term: number;
  vote: NodeId;
  commit: number;
  /** SoftState. */
  lead: NodeId;
  raftState: StateType;
  /** The last index the application acknowledged as applied (S2). */
  applied: number;
  leadTransferee: NodeId;
}

/** The full status: BasicStatus, the active configuration, and (on a leader) each peer's progress. */
export interface Status extends BasicStatus {
  config: TrackerConfig;
  /** Copies of the leader's progress records, by peer ID; empty unless this node leads. */
  progress: Map<NodeId, Progress>;
}

export function getBasicStatus(r: Raft): BasicStatus {
  return {
    id: r.id,
    term: r.term,
    vote: r.vote,
    commit: r.raftLog.committed,
    lead: r.lead,
    raftState: r.state,
    applied: r.raftLog.applied,
    leadTransferee: r.leadTransferee,
  };
}

/** A copy of the status that shares nothing mutable with the node. */
export function getStatus(r: Raft): Status {
  const progress = new Map<NodeId, Progress>();
  if (r.state === StateType.StateLeader) {
    for (const [id, pr] of r.trk.progress) {
      progress.set(id, pr.clone());
    }
  }
  return { ...getBasicStatus(r), config: r.trk.config.clone(), progress };
}

/** The status as JSON, in the shape etcd's Status.MarshalJSON produces (IDs in hexadecimal strings). */
export function statusToJSON(s: Status): string {
  const progress: Record<string, { match: number; next: number; state: string }> = {};
  for (const id of [...s.progress.keys()].sort((a, b) => a - b)) {
    const pr = s.progress.get(id);
    if (pr !== undefined) {
      progress[id.toString(16)] = { match: pr.match, next: pr.next, state: pr.state.toString() };
    }
  }
  return JSON.stringify({
    id: s.id.toString(16),
    term: s.term,
    vote: s.vote.toString(16),
    commit: s.commit,
    lead: s.lead.toString(16),
    raftState: StateType[s.raftState],
    applied: s.applied,
    progress,
    leadtransferee: s.leadTransferee.toString(16),
  });
}
