// # Stream framing
//
// A peer stream is a byte sequence of frames. A frame is protobuf's "delimited" form of one message: the length of
// the encoded raftpb.Message as a varint, then that many bytes, the same encoding the WAL stores entries in
// (raft/codec.ts). A frame of length zero (the single byte 0x00) carries no message: it is a keepalive, which both
// ends write when they have had nothing else to say for a while, so that each can tell a quiet peer from a dead one.
// No real message encodes to zero bytes: a message of type MsgHup with every field zero would, and MsgHup is local to
// a node and never sent.
//
// The sender writes many frames in one write (a Ready's messages for one peer); TCP then delivers them in pieces that
// need not respect frame boundaries. `FrameDecoder` takes those pieces as they arrive and returns every message they
// complete. A frame that lies within one piece is decoded where it lies, without copying; only a frame cut across
// pieces is copied, once, into a buffer of its own.

import { CodecError, decodeMessage, encodeMessages } from '../raft/codec';
import { Message } from '../raft/types';
import { TransportError } from './errors';

/** The keepalive frame: a zero length and no message. */
export const KEEPALIVE = Buffer.from([0]);

// A length varint of 5 bytes covers 2^35, beyond any frame limit; a longer one is garbage, not a big frame.
const MAX_LENGTH_BYTES = 5;

/** Encodes messages as consecutive frames, in one buffer, for one write. */
export function encodeFrames(msgs: Message[]): Buffer {
  const bytes = encodeMessages(msgs);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** What reading a frame's length found. */
type Header =
  /** The varint is not complete yet. */
  | { complete: false }
  /** The frame's message has `length` bytes and starts `headerBytes` after the frame. */
  | { complete: true; length: number; headerBytes: number };

/** Turns the pieces of a stream into messages, in order, refusing frames over a size limit. */
export class FrameDecoder {
  // Invariant: `held` is the start of one incomplete frame (all of it, from its first length byte), or empty.
  private held: Buffer[] = [];
  private heldBytes = 0;
  // Invariant: the whole frame's size (header and message) while `held` has a complete header; otherwise -1.
  private heldFrameBytes = -1;
  /** Keepalive frames read so far. */
  keepalives = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /**
   * Takes the next piece of the stream; returns the messages it completes, possibly none. Throws a TransportError
   * (`FrameTooLarge` or `BadFrame`) when the stream cannot be read further; the stream must then be closed.
   */
  push(piece: Buffer): Message[] {
    const out: Message[] = [];
    if (this.heldBytes === 0) {
      this.parse(piece, out);
      return out;
    }
    this.held.push(piece);
    this.heldBytes += piece.length;
    // A long frame arriving in many pieces is joined once, when its last piece is here, not once per piece.
    if (this.heldFrameBytes >= 0 && this.heldBytes < this.heldFrameBytes) return out;
    const joined = this.join();
    this.held = [];
    this.heldBytes = 0;
    this.heldFrameBytes = -1;
    this.parse(joined, out);
    return out;
  }

  /** Bytes held back in an incomplete frame. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  private parse(buf: Buffer, out: Message[]): void {
    let pos = 0;
    while (pos < buf.length) {
      const header = this.readHeader(buf, pos);
      if (!header.complete) {
        this.hold(buf.subarray(pos), -1);
        return;
      }
      const start = pos + header.headerBytes;
      const end = start + header.length;
      if (end > buf.length) {
        this.hold(buf.subarray(pos), end - pos);
        return;
      }
      if (header.length === 0) this.keepalives++;
      else out.push(this.decode(buf.subarray(start, end)));
      pos = end;
    }
  }

  // A buffer of its own rather than Buffer.concat's, which may carve a small one out of a pool shared with unrelated
  // data: decoded messages may keep a view of it for as long as their entries live.
  private join(): Buffer {
    const joined = Buffer.allocUnsafeSlow(this.heldBytes);
    let at = 0;
    for (const piece of this.held) at += piece.copy(joined, at);
    return joined;
  }

  private hold(rest: Buffer, frameBytes: number): void {
    this.held = [rest];
    this.heldBytes = rest.length;
    this.heldFrameBytes = frameBytes;
  }

  private readHeader(buf: Buffer, pos: number): Header {
    let length = 0;
    for (let i = 0, scale = 1; i < MAX_LENGTH_BYTES; i++, scale *= 0x80) {
      if (pos + i >= buf.length) return { complete: false };
      const b = buf[pos + i] ?? 0;
      length += (b & 0x7f) * scale;
      // Refuse as soon as the length is known to be too large, before waiting for any of the frame.
      if (length > this.maxFrameBytes) {
        throw new TransportError('FrameTooLarge', `Frame of at least ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
      }
      if (b < 0x80) return { complete: true, length, headerBytes: i + 1 };
    }
    throw new TransportError('BadFrame', `Frame length is longer than ${MAX_LENGTH_BYTES} bytes`);
  }

  private decode(bytes: Buffer): Message {
    try {
      return decodeMessage(bytes);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      throw new TransportError('BadFrame', `Undecodable message in a frame of ${bytes.length} bytes: ${err.message}`);
    }
  }
}
