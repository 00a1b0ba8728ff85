// # Starting a brand-new cluster
//
// A new node needs a first configuration. bootstrap() writes it the way etcd does: one ConfChangeAddNode entry per
// peer at term 1, already committed and already applied to the tracker, so the node can campaign right away; the
// entries still come out as committed entries, so the application sees and applies every change.
//
// Applications may instead prepare a Storage whose first index is above 1 and whose initial state holds the
// ConfState; that is the recommended way, and needs no call here.

import { encodeConfChange } from './codec';
import { RaftError } from './errors';
import { confChangeAsV2 } from './confchange/convert';
import type { RawNode } from './rawnode';
import { ConfChangeType, Entry, EntryType, None, NodeId, emptyHardState } from './types';

/** A member of the initial configuration. */
export interface Peer {
  id: NodeId;
  /** Opaque to Raft; carried in the peer's ConfChange for the application (e.g. its address). */
  context?: Uint8Array;
}

/** Appends and applies the initial configuration to `rn`, whose Storage must be empty. */
export function bootstrap(rn: RawNode, peers: Peer[]): void {
  if (peers.length === 0) {
    throw new RaftError('BootstrapInvalid', 'must provide at least one peer to Bootstrap');
  }
  const r = rn.raft;
  if (r.raftLog.storage.lastIndex() !== 0) {
    throw new RaftError('BootstrapInvalid', "can't bootstrap a nonempty Storage");
  }
  // Nothing has been persisted yet: the first Ready must carry the whole HardState.
  rn.prevHardSt = emptyHardState();
  r.becomeFollower(1, None);
  const ents: Entry[] = peers.map((p, i) => ({
    term: 1,
    index: i + 1,
    type: EntryType.EntryConfChange,
    data: encodeConfChange({
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: p.id,
      context: p.context ?? new Uint8Array(0),
    }),
  }));
  r.raftLog.append(ents);
  // The entries are committed by construction (every member agrees on them) but not applied, so the application
  // still receives them. Adding the peers now, after the append, makes their next index follow these entries.
  r.raftLog.committed = ents.length;
  for (const p of peers) {
    r.applyConfChange(
      confChangeAsV2({ type: ConfChangeType.ConfChangeAddNode, nodeId: p.id, context: new Uint8Array(0) }),
    );
  }
}
