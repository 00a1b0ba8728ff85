// # Applying the committed log
//
// Rule A1 of Figure 2: committed entries are applied to the state machine in log order, and a snapshot received
// from the leader replaces the state it stands for (§7). The state machine of a tsraft member has two parts that
// change only this way: the key-value map (kvstore/kv.ts) and the membership registry (kvstore/members.ts), whose
// peer URLs ride in configuration changes. This module applies entries and snapshots to both, hands configuration
// changes back to the core (thesis §4.1: a configuration takes effect when applied), and tells a listener what
// happened so waiting requests can be answered and the transport can follow the membership.

import { decodeConfChange, decodeConfChangeV2 } from '../raft/codec';
import { confChangeAsV2 } from '../raft/confchange/convert';
import { ConfChange, ConfChangeType, ConfChangeV2, ConfState, Entry, EntryType, NodeId, None, Snapshot, isEmptySnapshot } from '../raft/types';
import { Command, CommandOp, decodeCommand } from './command';
import { ApplyResult, KvStore } from './kv';
import { Membership, decodeMemberContext } from './members';
import { SnapshotEncoding, restoreSnapshotData } from './snapshot';

/** The core's half of a configuration change: RawNode.applyConfChange. */
export interface ConfChangeCore {
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState;
}

/** Told what applying changed. */
export interface ApplyListener {
  /** A command was applied, with its result. */
  commandApplied(cmd: Command, result: ApplyResult): void;
  /**
   * A configuration change whose context names request `tag` was applied, or, when `refusal` is given, was committed
   * but refused (it would have left the cluster without a voter) and applied as a change that changes nothing.
   */
  confChangeApplied(tag: string, refusal?: string): void;
  /** The membership registry changed (a configuration change or a snapshot). */
  membersChanged(members: Membership): void;
}

/** The map and the registry, and how far into the log they reach. */
export class KvApplier {
  readonly kv = new KvStore();
  // Invariant: every entry up to `appliedIndex`, and nothing after it, is reflected in `kv` and `members`.
  private appliedIndex: number;
  private confState: ConfState;
  /** Whether a configuration change was applied since the last `snapshotData()`. */
  private confChangedSinceSnapshot = false;
  private removed = false;

  constructor(
    private readonly selfId: NodeId,
    readonly members: Membership,
    snapshot: Snapshot,
    private readonly core: ConfChangeCore,
    private readonly listener: ApplyListener,
  ) {
    this.appliedIndex = snapshot.metadata.index;
    this.confState = snapshot.metadata.confState;
    if (!isEmptySnapshot(snapshot)) restoreSnapshotData(snapshot.data, this.kv, this.members);
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get currentConfState(): ConfState {
    return this.confState;
  }

  /** Whether this member has applied its own removal from the cluster. */
  get isRemoved(): boolean {
    return this.removed;
  }

  /** Whether a configuration change was applied since the state was last snapshotted. */
  get confChangedSinceLastSnapshot(): boolean {
    return this.confChangedSinceSnapshot;
  }

  /** Replaces the map and the registry with a snapshot's, unless they already reach past it; says whether it did. */
  applySnapshot(snap: Snapshot): boolean {
    if (snap.metadata.index <= this.appliedIndex) return false;
    restoreSnapshotData(snap.data, this.kv, this.members);
    this.confState = snap.metadata.confState;
    this.appliedIndex = snap.metadata.index;
    this.members.syncRoles(this.confState);
    this.listener.membersChanged(this.members);
    if (this.members.isRemoved(this.selfId)) this.removed = true;
    return true;
  }

  /** Applies one committed entry; an entry already applied (a replay) is skipped. */
  applyEntry(e: Entry): void {
    if (e.index <= this.appliedIndex) return;
    switch (e.type) {
      case EntryType.EntryNormal:
        if (e.data.length > 0) this.applyCommand(decodeCommand(e.data), e.term);
        break;
      // Both encodings take one path: a ConfChange is a single-step ConfChangeV2 (raft/confchange/convert.ts).
      case EntryType.EntryConfChange:
        this.applyConfChange(confChangeAsV2(decodeConfChange(e.data)));
        break;
      case EntryType.EntryConfChangeV2:
        this.applyConfChange(decodeConfChangeV2(e.data));
        break;
    }
    this.appliedIndex = e.index;
  }

  /** A snapshot of the state as applied now (§7), to be encoded a slice at a time. */
  snapshotEncoding(): SnapshotEncoding {
    this.confChangedSinceSnapshot = false;
    return new SnapshotEncoding(this.kv, this.members);
  }

  // The entry's term goes with the command: a lease revoke decided by a leader counts only from that leader's own
  // entries (kvstore/kv.ts).
  private applyCommand(cmd: Command, term: number): void {
    const result =
      cmd.op === CommandOp.PublishClientURL
        ? { existed: this.members.setClientURL(Number(cmd.key), Buffer.from(cmd.value).toString('utf8')), revision: this.kv.revision }
        : this.kv.apply(cmd, term);
    this.listener.commandApplied(cmd, result);
  }

  // Thesis §4.1: the core takes the new configuration now, as it is applied; the registry follows the ConfState
  // the core returns, which is the authority on who votes.
  private applyConfChange(proposed: ConfChangeV2): void {
    const refusal = this.refusalOf(proposed);
    // A refused change must still reach the core, which counts it as applied; with its node IDs cleared to None the
    // core skips every step of it (etcd's server refuses invalid membership changes the same way).
    const cc = refusal === undefined ? proposed : { ...proposed, changes: proposed.changes.map((c) => ({ ...c, nodeId: None })) };
    this.confState = this.core.applyConfChange(cc);
    this.confChangedSinceSnapshot = true;
    // The context describes one member (its URLs), so it goes with a single change. tsraft proposes nothing else;
    // the members of a several-change entry from elsewhere join without URLs, and leaving a joint configuration
    // (no changes) only updates who is a learner.
    const context = cc.changes.length === 1 ? cc.context : new Uint8Array(0);
    if (refusal === undefined) {
      for (const c of cc.changes) this.members.applyConfChange({ type: c.type, nodeId: c.nodeId, context, id: 0 }, this.confState);
    }
    this.members.syncRoles(this.confState);
    this.listener.membersChanged(this.members);
    if (this.members.isRemoved(this.selfId)) this.removed = true;
    const tag = decodeMemberContext(cc.context).request;
    if (tag !== undefined) this.listener.confChangeApplied(tag, refusal);
  }

  // A change that leaves no voter would stop the cluster for good: no quorum could ever form again, and the core
  // refuses to apply it. The API checks before proposing, but two removals proposed at once in a two-voter cluster
  // both pass that check; this decision, made on the committed entry with the configuration every member has at
  // that index, is the same on every member.
  private refusalOf(cc: ConfChangeV2): string | undefined {
    if (this.confState.votersOutgoing.length > 0) return undefined;
    const voters = new Set(this.confState.voters);
    for (const c of cc.changes) {
      if (c.type === ConfChangeType.ConfChangeAddNode) voters.add(c.nodeId);
      else if (c.type === ConfChangeType.ConfChangeRemoveNode || c.type === ConfChangeType.ConfChangeAddLearnerNode) voters.delete(c.nodeId);
    }
    if (voters.size > 0 || this.confState.voters.length === 0) return undefined;
    return `Removing member ${this.confState.voters.join(', ')} would leave the cluster without a voter; the change was refused`;
  }
}
