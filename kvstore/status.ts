// # What a member says about itself: `GET /status` and `GET /health`
//
// Both are polled: by the dashboard, by load balancers and health checks, by operators' scripts, by benchmarks that
// look for the leader. So they are answered by the client API's hot path (kvstore/hotpath.ts) as well as by the
// express app, from the bodies built here: a poll must not be what makes a member that just restarted load the
// framework (kvstore/serve.ts), and that is exactly when health checks poll hardest.
//
// `GET /status` also carries what the dashboard shows that the rest of the API does not: the tail of the log.

import { confChangeAsV2, decodeConfChange, decodeConfChangeV2 } from '../raft/index';
import { describeConfChanges } from '../raft/describe';
import { Entry, EntryType, None, StateType } from '../raft/types';
import { CommandOp, decodeCommand } from './command';
import { KvError } from './errors';
import { RaftNode } from './node';

/** One entry of the log tail in `GET /status`. */
export interface LogTailEntry {
  index: number;
  term: number;
  /**
   * `put k`, `delete k`, `publish 2` (member 2's client URL), `conf change v4` (etcd's compact form: v voter, l learner,
   * r remove), `leave joint`, or `empty` (a new leader's first entry, §8).
   */
  summary: string;
}

/** How many entries of the log `GET /status` shows. */
export const logTailLength = 8;

/** The JSON of `GET /status`. */
export function statusJSON(node: RaftNode, clusterId: string): Record<string, unknown> {
  const progress: Record<string, unknown> = {};
  for (const [id, p] of node.progress()) progress[String(id)] = p;
  const hs = node.hardState();
  return {
    id: node.id,
    clusterId,
    role: roleName(node.role),
    term: hs.term,
    vote: hs.vote,
    leader: node.leaderId,
    commit: hs.commit,
    applied: node.applied,
    snapshotIndex: node.lastSnapshotIndex,
    logTail: node.logTail(logTailLength).map(logTailEntry),
    keys: node.kv.size,
    leases: node.kv.leaseCount,
    revision: node.kv.revision,
    compactRevision: node.kv.compactRevision,
    members: node.members.list(),
    progress,
    counters: node.counters(),
  };
}

/** The JSON of `GET /health`, or the KvError (a 503) of a member that cannot serve: stopped, or no leader known. */
export function healthJSON(node: RaftNode): Record<string, unknown> {
  if (node.isStopped) throw new KvError('Stopped', `Member ${node.id} has stopped`);
  if (node.leaderId === None) throw new KvError('NoLeader', 'No leader is known yet');
  return { health: 'ok', id: node.id, leader: node.leaderId };
}

/** A one-line description of a log entry, without its value (values may be large or binary). */
export function logTailEntry(e: Entry): LogTailEntry {
  return { index: e.index, term: e.term, summary: summarize(e) };
}

function summarize(e: Entry): string {
  try {
    if (e.type !== EntryType.EntryNormal) {
      const cc = confChangeAsV2(e.type === EntryType.EntryConfChange ? decodeConfChange(e.data) : decodeConfChangeV2(e.data));
      return cc.changes.length === 0 ? 'leave joint' : `conf change ${describeConfChanges(cc.changes)}`;
    }
    if (e.data.length === 0) return 'empty';
    const cmd = decodeCommand(e.data);
    switch (cmd.op) {
      case CommandOp.Put:
        return `put ${cmd.key}`;
      case CommandOp.Delete:
        return `delete ${cmd.key}`;
      case CommandOp.PublishClientURL:
        return `publish ${cmd.key}`;
      case CommandOp.Txn:
        return 'transaction';
      case CommandOp.Compact:
        return 'compact';
      case CommandOp.LeaseGrant:
        return 'lease grant';
      case CommandOp.LeaseRevoke:
        return 'lease revoke';
    }
  } catch {
    return 'undecodable';
  }
}

function roleName(role: StateType): string {
  switch (role) {
    case StateType.StateLeader:
      return 'leader';
    case StateType.StateCandidate:
      return 'candidate';
    case StateType.StatePreCandidate:
      return 'pre-candidate';
    default:
      return 'follower';
  }
}
