// # Cluster membership as the application sees it
//
// Raft's configuration (thesis §4) says WHO votes; it does not say where a member listens. tsraft replicates the
// addresses too: every ConfChange carries the member's URLs in its `context`, so applying the log (or a snapshot,
// which embeds this registry) tells every node every peer's address, after any restart and in any start order.

import { ConfChange, ConfChangeType, ConfState, NodeId } from '../raft/types';
import { KvError } from './errors';

/** One member of the cluster. */
export interface Member {
  id: NodeId;
  /** Where its peer transport listens, e.g. http://127.0.0.1:2380. */
  peerURL: string;
  /** Where its client API listens; empty when not yet known. */
  clientURL: string;
  learner: boolean;
}

/** What a ConfChange's `context` carries. */
export interface MemberContext {
  peerURL: string;
  clientURL: string;
  /** Names the API request that proposed the change, so the proposer knows when it is applied. */
  request?: string;
}

/** The JSON form stored in snapshots and returned by the API. */
export interface MembershipJSON {
  members: Member[];
  removed: NodeId[];
}

/** Encodes what a ConfChange's `context` carries. */
export function encodeMemberContext(ctx: MemberContext): Uint8Array {
  return Buffer.from(JSON.stringify(ctx), 'utf8');
}

/** Decodes a ConfChange context; an empty context (a removal) gives empty URLs. */
export function decodeMemberContext(bytes: Uint8Array): MemberContext {
  if (bytes.length === 0) return { peerURL: '', clientURL: '' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new KvError('Corrupt', 'ConfChange context is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new KvError('Corrupt', 'ConfChange context is not an object');
  const peerURL: unknown = Reflect.get(parsed, 'peerURL');
  const clientURL: unknown = Reflect.get(parsed, 'clientURL');
  const request: unknown = Reflect.get(parsed, 'request');
  return {
    peerURL: typeof peerURL === 'string' ? peerURL : '',
    clientURL: typeof clientURL === 'string' ? clientURL : '',
    ...(typeof request === 'string' ? { request } : {}),
  };
}

/** Members and the IDs removed from the cluster, changed only by applying configuration changes in log order. */
export class Membership {
  private readonly members = new Map<NodeId, Member>();
  // Invariant: an ID in `removed` is never in `members` again; etcd never reuses a removed member's ID.
  private readonly removed = new Set<NodeId>();

  constructor(initial: Member[] = []) {
    for (const m of initial) this.members.set(m.id, { ...m });
  }

  get(id: NodeId): Member | undefined {
    return this.members.get(id);
  }

  has(id: NodeId): boolean {
    return this.members.has(id);
  }

  isRemoved(id: NodeId): boolean {
    return this.removed.has(id);
  }

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id).map((m) => ({ ...m }));
  }

  /** An ID no current or removed member has, for a node that joins without choosing one. */
  nextId(): NodeId {
    let max = 0;
    for (const id of this.members.keys()) max = Math.max(max, id);
    for (const id of this.removed) max = Math.max(max, id);
    return max + 1;
  }

  /**
   * Applies a committed ConfChange, then takes the learner flags from the ConfState raft returned, which is the
   * authority on who votes.
   */
  applyConfChange(cc: ConfChange, cs: ConfState): void {
    const ctx = decodeMemberContext(cc.context);
    const existing = this.members.get(cc.nodeId);
    switch (cc.type) {
      case ConfChangeType.ConfChangeAddNode:
      case ConfChangeType.ConfChangeAddLearnerNode:
      case ConfChangeType.ConfChangeUpdateNode:
        if (this.removed.has(cc.nodeId)) break;
        this.members.set(cc.nodeId, {
          id: cc.nodeId,
          peerURL: ctx.peerURL !== '' ? ctx.peerURL : (existing?.peerURL ?? ''),
          clientURL: ctx.clientURL !== '' ? ctx.clientURL : (existing?.clientURL ?? ''),
          learner: false,
        });
        break;
      case ConfChangeType.ConfChangeRemoveNode:
        this.members.delete(cc.nodeId);
        this.removed.add(cc.nodeId);
        break;
    }
    this.syncRoles(cs);
  }

  /** Records a member's client URL; returns whether the member exists. */
  setClientURL(id: NodeId, clientURL: string): boolean {
    const m = this.members.get(id);
    if (m === undefined) return false;
    m.clientURL = clientURL;
    return true;
  }

  /** Marks learners as the ConfState says. */
  syncRoles(cs: ConfState): void {
    const learners = new Set([...cs.learners, ...cs.learnersNext]);
    for (const m of this.members.values()) m.learner = learners.has(m.id);
  }

  toJSON(): MembershipJSON {
    return { members: this.list(), removed: [...this.removed].sort((a, b) => a - b) };
  }

  /** Replaces the registry with one from a snapshot. */
  restore(json: MembershipJSON): void {
    this.members.clear();
    this.removed.clear();
    for (const m of json.members) this.members.set(m.id, { ...m });
    for (const id of json.removed) this.removed.add(id);
  }
}

/** Checks that an unknown value is a MembershipJSON, as read from a snapshot. */
export function parseMembershipJSON(value: unknown): MembershipJSON {
  const fail = (what: string): never => {
    throw new KvError('Corrupt', `Snapshot membership ${what}`);
  };
  if (typeof value !== 'object' || value === null) return fail('is not an object');
  const members: unknown = Reflect.get(value, 'members');
  const removed: unknown = Reflect.get(value, 'removed');
  if (!Array.isArray(members) || !Array.isArray(removed)) return fail('lacks members or removed');
  const out: MembershipJSON = { members: [], removed: [] };
  for (const m of members as unknown[]) {
    if (typeof m !== 'object' || m === null) return fail('has a member that is not an object');
    const id: unknown = Reflect.get(m, 'id');
    const peerURL: unknown = Reflect.get(m, 'peerURL');
    const clientURL: unknown = Reflect.get(m, 'clientURL');
    const learner: unknown = Reflect.get(m, 'learner');
    if (typeof id !== 'number' || typeof peerURL !== 'string' || typeof clientURL !== 'string') {
      return fail('has a malformed member');
    }
    out.members.push({ id, peerURL, clientURL, learner: learner === true });
  }
  for (const id of removed as unknown[]) {
    if (typeof id !== 'number') return fail('has a removed ID that is not a number');
    out.removed.push(id);
  }
  return out;
}
