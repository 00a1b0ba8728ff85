// # Record payloads of the WAL's own
//
// Entries and hard states are stored in raftpb's wire format (raft/codec.ts). The two payloads only the WAL has are
// fixed little-endian layouts, documented byte by byte in docs/durability.md:
//
// - metadata: node ID (8 bytes) then cluster ID (8 bytes);
// - snapshot marker: index (8 bytes), term (8 bytes), then the membership as raftpb.ConfState.

import { decodeConfState, encodeConfState } from '../raft/codec';
import { ConfState, Snapshot, emptyConfState } from '../raft/types';

/** Who wrote a WAL: stored in every segment so a directory cannot be mistaken for another node's. */
export interface WalMetadata {
  nodeId: number;
  clusterId: number;
}

/**
 * A snapshot as the WAL knows it (etcd's walpb.Snapshot): the point the application's snapshot file covers. `open`
 * starts reading at such a point, and the snapshot file and the marker must agree on index and term.
 */
export interface WalSnapshot {
  index: number;
  term: number;
  confState: ConfState;
}

const TWO_32 = 2 ** 32;

function writeU64(buf: Buffer, n: number, off: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Value ${n} is not a non-negative safe integer`);
  buf.writeUInt32LE(n % TWO_32, off);
  buf.writeUInt32LE(Math.floor(n / TWO_32), off + 4);
}

function readU64(buf: Uint8Array, off: number): number {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const n = b.readUInt32LE(off) + b.readUInt32LE(off + 4) * TWO_32;
  if (!Number.isSafeInteger(n)) throw new RangeError(`Value at byte ${off} exceeds 2^53`);
  return n;
}

/** Encodes metadata as 16 bytes. */
export function encodeMetadata(m: WalMetadata): Uint8Array {
  const buf = Buffer.alloc(16);
  writeU64(buf, m.nodeId, 0);
  writeU64(buf, m.clusterId, 8);
  return buf;
}

/** Decodes metadata; throws RangeError unless `data` is exactly 16 bytes of safe integers. */
export function decodeMetadata(data: Uint8Array): WalMetadata {
  if (data.length !== 16) throw new RangeError(`Metadata is ${data.length} bytes, not 16`);
  return { nodeId: readU64(data, 0), clusterId: readU64(data, 8) };
}

/** Encodes a snapshot marker. */
export function encodeWalSnapshot(s: WalSnapshot): Uint8Array {
  const cs = encodeConfState(s.confState);
  const buf = Buffer.alloc(16 + cs.length);
  writeU64(buf, s.index, 0);
  writeU64(buf, s.term, 8);
  buf.set(cs, 16);
  return buf;
}

/** Decodes a snapshot marker; throws (RangeError or CodecError) on a malformed one. */
export function decodeWalSnapshot(data: Uint8Array): WalSnapshot {
  if (data.length < 16) throw new RangeError(`Snapshot marker is ${data.length} bytes, fewer than 16`);
  return { index: readU64(data, 0), term: readU64(data, 8), confState: decodeConfState(data.subarray(16)) };
}

/** The marker of "no snapshot yet": the start of every new WAL. */
export function emptyWalSnapshot(): WalSnapshot {
  return { index: 0, term: 0, confState: emptyConfState() };
}

/** The marker that records `snapshot` in the WAL: its index, term and membership. */
export function walSnapshotOf(snapshot: Snapshot): WalSnapshot {
  const m = snapshot.metadata;
  return { index: m.index, term: m.term, confState: m.confState };
}

/** True if the two metadata values name the same node of the same cluster. */
export function sameMetadata(a: WalMetadata, b: WalMetadata): boolean {
  return a.nodeId === b.nodeId && a.clusterId === b.clusterId;
}
