// # Byte layouts of the state machine
//
// The snapshot of the key-value state is a flat sequence of fixed-width integers and length-prefixed byte strings.
// `ByteWriter` builds one; `ByteReader` takes one apart and names what is missing when the bytes end too early,
// so a damaged snapshot is refused with a message rather than misread.

import { KvError } from './errors';

/**
 * Appends integers and length-prefixed bytes to one buffer that doubles when full. A snapshot holds tens of
 * thousands of small fields, and a buffer per field (then a concat) cost the member's thread more than the whole
 * rest of taking the snapshot.
 */
export class ByteWriter {
  private buf: Buffer;
  private at = 0;

  constructor(initialCapacity = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  u8(n: number): void {
    this.reserve(1);
    this.at = this.buf.writeUInt8(n, this.at);
  }

  u32(n: number): void {
    this.reserve(4);
    this.at = this.buf.writeUInt32BE(n, this.at);
  }

  /** An unsigned integer below 2^48: revisions and versions. */
  u48(n: number): void {
    this.reserve(6);
    this.at = this.buf.writeUIntBE(n, this.at, 6);
  }

  bytes(data: Uint8Array): void {
    this.u32(data.length);
    this.reserve(data.length);
    this.buf.set(data, this.at);
    this.at += data.length;
  }

  /** Bytes as they are, without a length. */
  raw(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.at);
    this.at += data.length;
  }

  string(s: string): void {
    // A UTF-8 string takes at most three bytes per UTF-16 unit: write it in place, then fill in its length.
    this.reserve(4 + 3 * s.length);
    const length = this.buf.write(s, this.at + 4, 'utf8');
    this.buf.writeUInt32BE(length, this.at);
    this.at += 4 + length;
  }

  /**
   * The bytes written. Performance: a writer that filled at least half its buffer hands over a view of it rather
   * than a copy (a snapshot is megabytes); one that used less gets a copy of its own size.
   */
  finish(): Buffer {
    const written = this.buf.subarray(0, this.at);
    return this.at * 2 >= this.buf.length ? written : Buffer.from(written);
  }

  private reserve(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let capacity = this.buf.length * 2;
    while (capacity < this.at + n) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }
}

/**
 * `bytes` copied into a buffer of exactly their size. What the store keeps must own its memory: `Buffer.from`
 * carves a small copy out of Node's shared 8 KB pool, and a view keeps its whole buffer alive, so a 10-byte value
 * kept that way can hold 8 KB (a slab) for as long as the key keeps it, or a whole received frame when it is a view
 * of an entry.
 */
export function ownedCopy(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(bytes.length);
  out.set(bytes);
  return out;
}

/** A string's UTF-8 bytes in a buffer of exactly their size (see `ownedCopy`). */
export function ownedUtf8(text: string): Buffer {
  const out = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  out.write(text, 0, 'utf8');
  return out;
}

/** Reads what a ByteWriter wrote; throws KvError('Corrupt') naming the field that runs past the end. */
export class ByteReader {
  private at = 0;
  private readonly buf: Buffer;

  constructor(data: Uint8Array) {
    this.buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  get done(): boolean {
    return this.at >= this.buf.length;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf.readUInt8(this.at++);
  }

  u32(what: string): number {
    this.need(4, what);
    const n = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return n;
  }

  u48(what: string): number {
    this.need(6, what);
    const n = this.buf.readUInt16BE(this.at) * 2 ** 32 + this.buf.readUInt32BE(this.at + 2);
    this.at += 6;
    return n;
  }

  /**
   * A view of the bytes, not a copy. Performance: a restart restores tens of thousands of values, and copying each
   * (with the garbage it made) was most of the restore. The cost is memory: the values keep the snapshot's buffer
   * alive, and with it the bytes of values overwritten since, until every value read from it is gone. A member holds
   * that buffer anyway (MemoryStorage keeps the snapshot it started from), so at worst it keeps one state twice.
   * The buffer must not change afterwards; a snapshot's data never does.
   */
  bytes(what: string): Buffer {
    const start = this.field(what);
    return this.buf.subarray(start, this.at);
  }

  string(what: string): string {
    const start = this.field(what);
    return this.buf.toString('utf8', start, this.at);
  }

  // Steps over a length-prefixed field and returns where its content starts (it ends at the new `at`). A restart
  // reads every key, value and event this way, so nothing is built here for a field that is whole, not even the
  // name that an error would give.
  private field(what: string): number {
    if (this.at + 4 > this.buf.length) this.need(4, `length of ${what}`);
    const length = this.buf.readUInt32BE(this.at);
    this.at += 4;
    if (this.at + length > this.buf.length) this.need(length, `${what} of ${length} bytes`);
    const start = this.at;
    this.at += length;
    return start;
  }

  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) throw new KvError('Corrupt', `Snapshot ends inside the ${what} at offset ${this.at}`);
  }
}
