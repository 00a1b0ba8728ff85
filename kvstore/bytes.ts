// # Byte layouts of the state machine
//
// The snapshot of the key-value state is a flat sequence of fixed-width integers and length-prefixed byte strings.
// `ByteWriter` builds one; `ByteReader` takes one apart and names what is missing when the bytes end too early,
// so a damaged snapshot is refused with a message rather than misread.

import { KvError } from './errors';

/** Appends integers and length-prefixed bytes to a growing list of buffers. */
export class ByteWriter {
  private readonly parts: Buffer[] = [];

  u8(n: number): void {
    const b = Buffer.allocUnsafe(1);
    b.writeUInt8(n, 0);
    this.parts.push(b);
  }

  u32(n: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(n, 0);
    this.parts.push(b);
  }

  /** An unsigned integer below 2^48: revisions and versions. */
  u48(n: number): void {
    const b = Buffer.allocUnsafe(6);
    b.writeUIntBE(n, 0, 6);
    this.parts.push(b);
  }

  bytes(data: Uint8Array): void {
    this.u32(data.length);
    this.parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  string(s: string): void {
    this.bytes(Buffer.from(s, 'utf8'));
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
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
    const n = this.buf.readUIntBE(this.at, 6);
    this.at += 6;
    return n;
  }

  /** A copy, so the result does not pin the whole snapshot in memory. */
  bytes(what: string): Buffer {
    const length = this.u32(`length of ${what}`);
    this.need(length, `${what} of ${length} bytes`);
    const out = Buffer.from(this.buf.subarray(this.at, this.at + length));
    this.at += length;
    return out;
  }

  string(what: string): string {
    return this.bytes(what).toString('utf8');
  }

  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) throw new KvError('Corrupt', `Snapshot ends inside the ${what} at offset ${this.at}`);
  }
}
