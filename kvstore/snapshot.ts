// # What a snapshot holds
//
// A snapshot replaces a prefix of the log with the state it produced (§7), so it must hold everything applying
// that prefix built: the key-value map and the membership registry (peer URLs arrive through ConfChange entries,
// which compaction discards).
//
//   0xFFFFFFFF u32 | membershipLength u32 | membership JSON | key-value state (KvStore.serialize)
//
// The leading 0xFFFFFFFF marks the layout with revisions and history. Snapshots written before them start with the
// membership length directly (never 4 GiB) and hold a bare map (`KvStore.restoreUnversioned`); data directories of
// that age still open.

import { KvError } from './errors';
import { KvStore, StateEncoding } from './kv';
import { Membership, parseMembershipJSON } from './members';

const versionedMark = 0xffffffff;

/** The bytes of a snapshot of the map and the registry. */
export function encodeSnapshotData(kv: KvStore, members: Membership): Buffer {
  const encoding = new SnapshotEncoding(kv, members);
  encoding.step(Infinity);
  return encoding.bytes();
}

/**
 * The map and the registry as they are when it is made, encoded into `encodeSnapshotData`'s bytes a slice at a time
 * (see `StateEncoding`): the registry is encoded at once, the map in steps.
 */
export class SnapshotEncoding {
  private readonly state: StateEncoding;

  constructor(kv: KvStore, members: Membership) {
    const json = Buffer.from(JSON.stringify(members.toJSON()), 'utf8');
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32BE(versionedMark, 0);
    head.writeUInt32BE(json.length, 4);
    this.state = kv.encoding(Buffer.concat([head, json]));
  }

  /** Encodes up to `budget` more keys and events; says whether the encoding is complete. */
  step(budget: number): boolean {
    return this.state.step(budget);
  }

  /** The snapshot data; throws unless `step` said it is complete. */
  bytes(): Buffer {
    return this.state.bytes();
  }
}

/** Replaces the map and the registry with a snapshot's; throws KvError('Corrupt') on malformed data. */
export function restoreSnapshotData(data: Uint8Array, kv: KvStore, members: Membership): void {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 4) throw new KvError('Corrupt', `Snapshot data of ${buf.length} bytes has no membership header`);
  const versioned = buf.readUInt32BE(0) === versionedMark;
  const at = versioned ? 4 : 0;
  if (buf.length < at + 4) throw new KvError('Corrupt', `Snapshot data of ${buf.length} bytes has no membership header`);
  const length = buf.readUInt32BE(at);
  const start = at + 4;
  if (start + length > buf.length) throw new KvError('Corrupt', `Snapshot membership of ${length} bytes runs past the data`);
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8', start, start + length));
  } catch {
    throw new KvError('Corrupt', 'Snapshot membership is not JSON');
  }
  const parsed = parseMembershipJSON(json);
  if (versioned) kv.restore(buf.subarray(start + length));
  else kv.restoreUnversioned(buf.subarray(start + length));
  members.restore(parsed);
}
