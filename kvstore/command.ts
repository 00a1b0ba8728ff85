// # Commands in the replicated log
//
// A client write becomes one `EntryNormal` whose data is a command (so does a member announcing its client URL). Every node applies the same commands in the
// same order (§5.3, the State Machine Safety property of Figure 3), so the encoding must be exact and stable: a
// small binary layout, because commands sit in the WAL and cross the network many times.
//
//   op u8 | epoch u32 | seq u48 | keyLength u32 | key (UTF-8) | value (the rest)
//
// `epoch` and `seq` name the request. The proposing node waits for the entry that carries its own name; the epoch
// is drawn at random when the process starts, so an entry proposed before a restart never completes a request
// made after it.

import { KvError } from './errors';

/** What a command does. */
export enum CommandOp {
  Put = 1,
  Delete = 2,
  /** A member announces its client URL: key = the member ID in decimal, value = the URL. */
  PublishClientURL = 3,
}

/** A write to apply to the key-value map. */
export interface Command {
  op: CommandOp;
  /** The proposing process. */
  epoch: number;
  /** The request within that process. */
  seq: number;
  key: string;
  /** Empty for Delete. */
  value: Uint8Array;
}

const headerSize = 1 + 4 + 6 + 4;

/** Encodes a command as the data of a log entry. */
export function encodeCommand(cmd: Command): Uint8Array {
  const key = Buffer.from(cmd.key, 'utf8');
  const out = Buffer.allocUnsafe(headerSize + key.length + cmd.value.length);
  out.writeUInt8(cmd.op, 0);
  out.writeUInt32BE(cmd.epoch, 1);
  out.writeUIntBE(cmd.seq, 5, 6);
  out.writeUInt32BE(key.length, 11);
  key.copy(out, headerSize);
  out.set(cmd.value, headerSize + key.length);
  return out;
}

/** Decodes the data of a log entry; throws KvError('Corrupt') when it is not a command. */
export function decodeCommand(data: Uint8Array): Command {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < headerSize) {
    throw new KvError('Corrupt', `Command of ${buf.length} bytes is shorter than its ${headerSize}-byte header`);
  }
  const op = buf.readUInt8(0);
  if (op !== CommandOp.Put && op !== CommandOp.Delete && op !== CommandOp.PublishClientURL) {
    throw new KvError('Corrupt', `Command has unknown operation ${op}`);
  }
  const keyLength = buf.readUInt32BE(11);
  if (headerSize + keyLength > buf.length) {
    throw new KvError('Corrupt', `Command key of ${keyLength} bytes runs past the end of the entry`);
  }
  return {
    op,
    epoch: buf.readUInt32BE(1),
    seq: buf.readUIntBE(5, 6),
    key: buf.toString('utf8', headerSize, headerSize + keyLength),
    value: buf.subarray(headerSize + keyLength),
  };
}
