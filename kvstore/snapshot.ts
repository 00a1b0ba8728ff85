// # What a snapshot holds
//
// A snapshot replaces a prefix of the log with the state it produced (§7), so it must hold everything applying
// that prefix built: the key-value map and the membership registry (peer URLs arrive through ConfChange entries,
// which compaction discards).
//
//   membershipLength u32 | membership JSON | key-value map (KvStore.serialize)

import { KvError } from './errors';
import { KvStore } from './kv';
import { Membership, parseMembershipJSON } from './members';

/** The bytes of a snapshot of the map and the registry. */
export function encodeSnapshotData(kv: KvStore, members: Membership): Buffer {
  const json = Buffer.from(JSON.stringify(members.toJSON()), 'utf8');
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(json.length, 0);
  return Buffer.concat([head, json, kv.serialize()]);
}

/** Replaces the map and the registry with a snapshot's; throws KvError('Corrupt') on malformed data. */
export function restoreSnapshotData(data: Uint8Array, kv: KvStore, members: Membership): void {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 4) throw new KvError('Corrupt', `Snapshot data of ${buf.length} bytes has no membership header`);
  const length = buf.readUInt32BE(0);
  if (4 + length > buf.length) throw new KvError('Corrupt', `Snapshot membership of ${length} bytes runs past the data`);
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8', 4, 4 + length));
  } catch {
    throw new KvError('Corrupt', 'Snapshot membership is not JSON');
  }
  const parsed = parseMembershipJSON(json);
  kv.restore(buf.subarray(4 + length));
  members.restore(parsed);
}
