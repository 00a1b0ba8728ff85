// # The key-value state machine
//
// The replicated state machine of §2: a map from keys to values that changes only by applying committed commands
// in log order. It knows nothing of Raft; the Ready loop feeds it committed entries and asks it for its bytes when
// the log is compacted into a snapshot (§7).

import { Command, CommandOp } from './command';
import { KvError } from './errors';

/** The outcome of applying one command. */
export interface ApplyResult {
  /** Whether the key existed before the command. */
  existed: boolean;
}

/** One key and its value, as listings return them. */
export interface KeyValue {
  key: string;
  value: Buffer;
}

/** The map every node holds an identical copy of, once it has applied the same prefix of the log. */
export class KvStore {
  private readonly data = new Map<string, Buffer>();

  /** Applies one committed command. Deterministic: the result depends only on the map and the command. */
  apply(cmd: Command): ApplyResult {
    const existed = this.data.has(cmd.key);
    if (cmd.op === CommandOp.Put) {
      this.data.set(cmd.key, Buffer.from(cmd.value));
    } else if (cmd.op === CommandOp.Delete) {
      this.data.delete(cmd.key);
    } else {
      throw new KvError('Corrupt', `Command ${CommandOp[cmd.op]} does not change the key-value map`);
    }
    return { existed };
  }

  get(key: string): Buffer | undefined {
    return this.data.get(key);
  }

  /** Keys starting with `prefix`, in byte order of their UTF-8 encoding, at most `limit` of them. */
  list(prefix: string, limit: number): KeyValue[] {
    const keys: string[] = [];
    for (const key of this.data.keys()) {
      if (key.startsWith(prefix)) keys.push(key);
    }
    keys.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    const out: KeyValue[] = [];
    for (const key of keys.slice(0, limit)) {
      const value = this.data.get(key);
      if (value !== undefined) out.push({ key, value });
    }
    return out;
  }

  get size(): number {
    return this.data.size;
  }

  /** The whole map as bytes: repeated `keyLength u32 | key | valueLength u32 | value`. */
  serialize(): Buffer {
    const parts: Buffer[] = [];
    for (const [key, value] of this.data) {
      const k = Buffer.from(key, 'utf8');
      const head = Buffer.allocUnsafe(4);
      head.writeUInt32BE(k.length, 0);
      const mid = Buffer.allocUnsafe(4);
      mid.writeUInt32BE(value.length, 0);
      parts.push(head, k, mid, value);
    }
    return Buffer.concat(parts);
  }

  /** Replaces the whole map with one produced by `serialize`. */
  restore(bytes: Uint8Array): void {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const next = new Map<string, Buffer>();
    let at = 0;
    const take = (what: string): Buffer => {
      if (at + 4 > buf.length) throw new KvError('Corrupt', `Snapshot ends inside the length of a ${what}`);
      const length = buf.readUInt32BE(at);
      at += 4;
      if (at + length > buf.length) throw new KvError('Corrupt', `Snapshot ends inside a ${what} of ${length} bytes`);
      const out = Buffer.from(buf.subarray(at, at + length));
      at += length;
      return out;
    };
    while (at < buf.length) {
      const key = take('key').toString('utf8');
      next.set(key, take('value'));
    }
    this.data.clear();
    for (const [key, value] of next) this.data.set(key, value);
  }
}
