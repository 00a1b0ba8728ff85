// # The wire format
//
// tsraft writes its entries, hard states, snapshots and messages in the protobuf encoding of etcd's `raftpb`
// package (raft.proto). Two things follow from that choice. First, sizes agree with etcd: the core limits messages
// and committed batches by the encoded size of their entries (`entrySize`), and a port that counted differently
// would split batches differently and print different scenario output. Second, a tsraft WAL or message is readable by
// anything that knows raft.proto.
//
// raft.proto is proto2, where every scalar field is optional and has *presence*: a field that was set is encoded
// even when it holds zero, a field that was never set is not encoded at all and does not count in the size. etcd's
// current code (the Go protobuf runtime, whose proto2 fields are pointers) follows that rule exactly; its older
// gogoproto code wrote every scalar field. tsraft models presence where etcd's own values leave fields unset and
// the sizes it computes depend on it:
//
// - `Entry.type`, left unset by a plain proposal and by a new leader's empty entry (the `typeUnset` mark). Such an
//   entry is 2 bytes smaller than one that names its type, even as EntryNormal (the placeholder for an ignored
//   configuration change names it, so etcd counts those 2 bytes there).
// - `ConfChange.id`, which etcd's own proposals never set: a one-node change then encodes in 4 bytes, not 6.
// - A byte field (`Entry.data`, `Snapshot.data`, `Message.context`, ...) is written only when non-empty, as Go
//   writes a nil slice. A Uint8Array has no nil, so an empty one stands for "never set".
//
// Every other field is always written. Those of HardState, ConfState and the snapshot metadata are ones etcd's core
// always sets too, so their bytes are etcd's; tsraft's types require a ConfChangeV2's transition and a single
// change's type and node, so they are always set, as etcd's scenario harness sets them. A Message is the exception:
// etcd's newer code sets only the fields a message type uses, where tsraft writes them all, as gogoproto did; both
// forms decode to the same message, and no size the core limits depends on a message's own fields. Fields are
// written in ascending field number, as both of etcd's marshallers do.
//
// Decoding reads either form: an entry with or without its type field, a ConfChange with or without its ID. Data
// written by earlier versions of tsraft (which wrote every entry's type) decodes to the same values, only counting
// the 2 bytes of the type it carries.
//
// Decoding trusts nothing: the bytes may come from a torn WAL record or from the network. Every read is bounds
// checked, and anything that is not a well-formed encoding raises a `CodecError` that names the field and the byte
// offset. Unknown fields are skipped, as protobuf requires, so a newer peer's extra fields do no harm.

import {
  ConfChange,
  ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  ConfChangeV2,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  Snapshot,
  emptyConfState,
  emptySnapshot,
  newMessage,
} from './types';

/** Why decoding or encoding failed. */
export type CodecErrorCode =
  /** The input ends inside a field. */
  | 'Truncated'
  /** The input is not a valid encoding: bad wire type, tag, enum value, or nesting. */
  | 'Malformed'
  /** A number does not fit in a JavaScript number exactly (above 2^53). */
  | 'Overflow'
  /** A value handed to an encoder cannot be encoded (negative, fractional, or above 2^53). */
  | 'InvalidValue';

/** The error of this module: the bytes (or the value to encode) are not what raft.proto describes. */
export class CodecError extends Error {
  override name = 'CodecError';

  constructor(
    readonly code: CodecErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// The largest integer every varint in tsraft may carry. 2^53 is still exact in a double; 2^53 + 1 is not.
const MAX_UINT = 2 ** 53;

// Protobuf wire types.
const VARINT = 0;
const FIXED64 = 1;
const BYTES = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const FIXED32 = 5;

// Nesting deeper than this is hostile input (a Message's responses may contain Messages); refusing it keeps a
// crafted buffer from exhausting the stack.
const MAX_DEPTH = 64;

const EMPTY = new Uint8Array(0);

// ## Sizes
//
// Sizes are computed without encoding, so `entrySize` is cheap enough to call for every entry the core limits.

/** Bytes needed for `v` as a varint. */
function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  if (v < 2 ** 35) return 5;
  if (v < 2 ** 42) return 6;
  if (v < 2 ** 49) return 7;
  return 8;
}

/** A length-delimited field: one tag byte (all raftpb field numbers are below 16), the length, the bytes. */
function delimitedSize(len: number): number {
  return 1 + varintSize(len) + len;
}

function optionalBytesSize(b: Uint8Array): number {
  return b.length === 0 ? 0 : delimitedSize(b.length);
}

/** The encoded size of `e`, equal to `encodeEntry(e).length` and to etcd's `proto.Size` of the same entry. */
export function entrySize(e: Entry): number {
  const typeSize = e.typeUnset === true ? 0 : 1 + varintSize(e.type);
  return typeSize + 2 + varintSize(e.term) + varintSize(e.index) + optionalBytesSize(e.data);
}

function hardStateSize(hs: HardState): number {
  return 3 + varintSize(hs.term) + varintSize(hs.vote) + varintSize(hs.commit);
}

function idsSize(ids: number[]): number {
  let n = ids.length;
  for (const id of ids) n += varintSize(id);
  return n;
}

function confStateSize(cs: ConfState): number {
  return idsSize(cs.voters) + idsSize(cs.learners) + idsSize(cs.votersOutgoing) + idsSize(cs.learnersNext) + 2;
}

function metadataSize(s: Snapshot): number {
  const m = s.metadata;
  return delimitedSize(confStateSize(m.confState)) + 2 + varintSize(m.index) + varintSize(m.term);
}

function snapshotSize(s: Snapshot): number {
  return optionalBytesSize(s.data) + delimitedSize(metadataSize(s));
}

function messageSize(m: Message): number {
  // Nine always-present varint fields, one tag byte each, plus `reject` (tag and one byte).
  let n = 9 + 2 + varintSize(m.type) + varintSize(m.to) + varintSize(m.from) + varintSize(m.term);
  n += varintSize(m.logTerm) + varintSize(m.index) + varintSize(m.commit) + varintSize(m.rejectHint);
  n += varintSize(m.vote) + optionalBytesSize(m.context);
  for (const e of m.entries) n += delimitedSize(entrySize(e));
  if (m.snapshot !== null) n += delimitedSize(snapshotSize(m.snapshot));
  for (const r of m.responses) n += delimitedSize(messageSize(r));
  return n;
}

function confChangeSize(cc: ConfChange): number {
  const idSize = cc.id === undefined ? 0 : 1 + varintSize(cc.id);
  return idSize + 2 + varintSize(cc.type) + varintSize(cc.nodeId) + optionalBytesSize(cc.context);
}

function confChangeSingleSize(c: ConfChangeSingle): number {
  return 2 + varintSize(c.type) + varintSize(c.nodeId);
}

function confChangeV2Size(cc: ConfChangeV2): number {
  let n = 1 + varintSize(cc.transition);
  for (const c of cc.changes) n += delimitedSize(confChangeSingleSize(c));
  return n + optionalBytesSize(cc.context);
}

// ## Encoding

/** Writes into a buffer from `pos`, for exactly as many bytes as the caller computed beforehand. */
class Writer {
  constructor(
    readonly buf: Uint8Array,
    private pos: number,
  ) {}

  /** `what` names the field for the error raised by a value that is not a uint in [0, 2^53]. */
  uint(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > MAX_UINT) {
      throw new CodecError('InvalidValue', `${what} must be an integer in [0, 2^53], got ${v}`);
    }
    // Bit operations are 32-bit in JavaScript, so above 2^31 the 7-bit groups are split off arithmetically.
    while (v > 0x7fffffff) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  tag(field: number, wireType: number): void {
    this.buf[this.pos++] = (field << 3) | wireType;
  }

  uintField(field: number, v: number, what: string): void {
    this.tag(field, VARINT);
    this.uint(v, what);
  }

  boolField(field: number, v: boolean): void {
    this.tag(field, VARINT);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  /** A nested message or byte string: tag, length, then the caller writes `len` bytes. */
  delimited(field: number, len: number): void {
    this.tag(field, BYTES);
    this.uint(len, 'length');
  }

  /** Go's nil slice: an empty byte field is not written at all. */
  optionalBytes(field: number, b: Uint8Array): void {
    if (b.length === 0) return;
    this.delimited(field, b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Checks that the precomputed size was right; a mismatch is a bug in this file, not in the input. */
  done(end: number): void {
    if (this.pos !== end) {
      throw new Error(`Encoder ended at byte ${this.pos}, expected ${end}`);
    }
  }
}

function writeEntry(w: Writer, e: Entry): void {
  if (e.typeUnset !== true) {
    w.uintField(1, e.type, 'Entry.type');
  } else if (e.type !== EntryType.EntryNormal) {
    // An unset type reads as EntryNormal on the other side: writing it so would change what the entry is.
    throw new CodecError('InvalidValue', `Entry.type is marked unset but holds ${EntryType[e.type] ?? e.type}`);
  }
  w.uintField(2, e.term, 'Entry.term');
  w.uintField(3, e.index, 'Entry.index');
  w.optionalBytes(4, e.data);
}

function writeHardState(w: Writer, hs: HardState): void {
  w.uintField(1, hs.term, 'HardState.term');
  w.uintField(2, hs.vote, 'HardState.vote');
  w.uintField(3, hs.commit, 'HardState.commit');
}

// proto2 repeated scalars are unpacked unless declared otherwise: one tag per ID.
function writeIds(w: Writer, field: number, ids: number[], what: string): void {
  for (const id of ids) w.uintField(field, id, what);
}

function writeConfState(w: Writer, cs: ConfState): void {
  writeIds(w, 1, cs.voters, 'ConfState.voters');
  writeIds(w, 2, cs.learners, 'ConfState.learners');
  writeIds(w, 3, cs.votersOutgoing, 'ConfState.votersOutgoing');
  writeIds(w, 4, cs.learnersNext, 'ConfState.learnersNext');
  w.boolField(5, cs.autoLeave);
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  w.optionalBytes(1, s.data);
  w.delimited(2, metadataSize(s));
  w.delimited(1, confStateSize(s.metadata.confState));
  writeConfState(w, s.metadata.confState);
  w.uintField(2, s.metadata.index, 'SnapshotMetadata.index');
  w.uintField(3, s.metadata.term, 'SnapshotMetadata.term');
}

function writeMessage(w: Writer, m: Message): void {
  w.uintField(1, m.type, 'Message.type');
  w.uintField(2, m.to, 'Message.to');
  w.uintField(3, m.from, 'Message.from');
  w.uintField(4, m.term, 'Message.term');
  w.uintField(5, m.logTerm, 'Message.logTerm');
  w.uintField(6, m.index, 'Message.index');
  for (const e of m.entries) {
    w.delimited(7, entrySize(e));
    writeEntry(w, e);
  }
  w.uintField(8, m.commit, 'Message.commit');
  if (m.snapshot !== null) {
    w.delimited(9, snapshotSize(m.snapshot));
    writeSnapshot(w, m.snapshot);
  }
  w.boolField(10, m.reject);
  w.uintField(11, m.rejectHint, 'Message.rejectHint');
  w.optionalBytes(12, m.context);
  w.uintField(13, m.vote, 'Message.vote');
  for (const r of m.responses) {
    w.delimited(14, messageSize(r));
    writeMessage(w, r);
  }
}

function writeConfChange(w: Writer, cc: ConfChange): void {
  if (cc.id !== undefined) {
    w.uintField(1, cc.id, 'ConfChange.id');
  }
  w.uintField(2, cc.type, 'ConfChange.type');
  w.uintField(3, cc.nodeId, 'ConfChange.nodeId');
  w.optionalBytes(4, cc.context);
}

function writeConfChangeV2(w: Writer, cc: ConfChangeV2): void {
  w.uintField(1, cc.transition, 'ConfChangeV2.transition');
  for (const c of cc.changes) {
    w.delimited(2, confChangeSingleSize(c));
    w.uintField(1, c.type, 'ConfChangeSingle.type');
    w.uintField(2, c.nodeId, 'ConfChangeSingle.nodeId');
  }
  w.optionalBytes(3, cc.context);
}

function encodeWith<T>(v: T, size: (v: T) => number, write: (w: Writer, v: T) => void): Uint8Array {
  const buf = new Uint8Array(size(v));
  const w = new Writer(buf, 0);
  write(w, v);
  w.done(buf.length);
  return buf;
}

/** Encodes an entry as raftpb.Entry. */
export function encodeEntry(e: Entry): Uint8Array {
  return encodeWith(e, entrySize, writeEntry);
}

/**
 * Encodes an entry as raftpb.Entry into `buf` at `offset`, where `entrySize(e)` bytes must be free; returns the
 * offset just past it. Lets a caller framing many entries (the WAL) write them all into one buffer.
 */
export function writeEntryInto(buf: Uint8Array, offset: number, e: Entry): number {
  const end = offset + entrySize(e);
  if (end > buf.length) {
    throw new CodecError(
      'InvalidValue',
      `Entry ${e.index} needs ${end - offset} bytes at offset ${offset}, but the buffer holds ${buf.length}`,
    );
  }
  const w = new Writer(buf, offset);
  writeEntry(w, e);
  w.done(end);
  return end;
}

/**
 * raftpb.Snapshot in three parts whose concatenation is `encodeSnapshot(s)`: the data field's tag and length, the
 * data itself (the caller's bytes, not a copy) and the metadata field. Lets a caller that writes a snapshot of
 * megabytes to a file write its data where it lies.
 */
export function encodeSnapshotParts(s: Snapshot): [Uint8Array, Uint8Array, Uint8Array] {
  const metadataOnly = encodeWith({ ...s, data: EMPTY }, snapshotSize, writeSnapshot);
  if (s.data.length === 0) return [EMPTY, EMPTY, metadataOnly];
  const head = new Uint8Array(optionalBytesSize(s.data) - s.data.length);
  const w = new Writer(head, 0);
  w.delimited(1, s.data.length);
  w.done(head.length);
  return [head, s.data, metadataOnly];
}

/** Encodes a hard state as raftpb.HardState. */
export function encodeHardState(hs: HardState): Uint8Array {
  return encodeWith(hs, hardStateSize, writeHardState);
}

/** Encodes a membership as raftpb.ConfState. */
export function encodeConfState(cs: ConfState): Uint8Array {
  return encodeWith(cs, confStateSize, writeConfState);
}

/** Encodes a snapshot as raftpb.Snapshot. */
export function encodeSnapshot(s: Snapshot): Uint8Array {
  return encodeWith(s, snapshotSize, writeSnapshot);
}

/** Encodes a message as raftpb.Message. */
export function encodeMessage(m: Message): Uint8Array {
  return encodeWith(m, messageSize, writeMessage);
}

/** Encodes a configuration change as raftpb.ConfChange. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encodeWith(cc, confChangeSize, writeConfChange);
}

/** Encodes a configuration change as raftpb.ConfChangeV2. */
export function encodeConfChangeV2(cc: ConfChangeV2): Uint8Array {
  return encodeWith(cc, confChangeV2Size, writeConfChangeV2);
}

/** Encodes a batch of messages, each preceded by its length as a varint. Decode with `decodeMessages`. */
export function encodeMessages(ms: Message[]): Uint8Array {
  const sizes = ms.map(messageSize);
  let total = 0;
  for (const n of sizes) total += varintSize(n) + n;
  const buf = new Uint8Array(total);
  const w = new Writer(buf, 0);
  ms.forEach((m, i) => {
    w.uint(sizes[i], 'message length');
    writeMessage(w, m);
  });
  w.done(total);
  return buf;
}

// ## Decoding

// How a varint's name appears in an error: as given, as a field's tag, or as a length.
enum Label {
  Plain,
  Tag,
  Length,
}

function labelled(what: string, label: Label): string {
  return label === Label.Tag ? `the tag of a ${what} field` : label === Label.Length ? `the length of ${what}` : what;
}

/** Reads one message's fields from `buf[pos, end)`. Offsets in errors are positions in the whole buffer. */
class Reader {
  pos: number;
  /** The wire type of the field whose tag `nextField` read last. */
  wireType = 0;

  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
    readonly depth: number,
  ) {
    this.pos = start;
  }

  more(): boolean {
    return this.pos < this.end;
  }

  uint(what: string): number {
    return this.varint(what, Label.Plain);
  }

  // Reads a varint named `what` in errors, as `label` frames it. Performance: the label is put together only when an
  // error is raised, not for every tag and length of every message and entry read.
  private varint(what: string, label: Label): number {
    // Performance: most varints (every tag, small numbers) are one byte, which needs none of the checks below.
    if (this.pos < this.end && this.buf[this.pos] < 0x80) return this.buf[this.pos++];
    const start = this.pos;
    let value = 0;
    // Performance: `scale` is 2 ** shift kept as a running product; a power per byte was most of decoding's cost.
    for (let shift = 0, scale = 1; shift < 70; shift += 7, scale *= 0x80) {
      if (this.pos >= this.end) {
        throw new CodecError('Truncated', `Truncated varint in ${labelled(what, label)} at offset ${start}`);
      }
      const b = this.buf[this.pos++];
      const digit = b & 0x7f;
      if (digit !== 0) {
        // Compare before adding: a sum above 2^53 could round down and pass for a valid value.
        const add = digit * scale;
        if (add > MAX_UINT - value) {
          throw new CodecError('Overflow', `Varint in ${labelled(what, label)} at offset ${start} exceeds 2^53`);
        }
        value += add;
      }
      if (b < 0x80) return value;
    }
    throw new CodecError('Malformed', `Varint in ${labelled(what, label)} at offset ${start} is longer than 10 bytes`);
  }

  /**
   * Reads the next field's tag: returns its field number and leaves its wire type in `wireType`. (No pair is
   * returned: until V8 has optimised the readers, unpacking one allocates an iterator and its results for every
   * field, and a restarting member decodes tens of thousands of records before it serves.)
   */
  nextField(what: string): number {
    const at = this.pos;
    const t = this.varint(what, Label.Tag);
    const field = Math.floor(t / 8);
    this.wireType = t % 8;
    if (field === 0) {
      throw new CodecError('Malformed', `Field number 0 in ${what} at offset ${at}`);
    }
    return field;
  }

  expect(wireType: number, want: number, what: string): void {
    if (wireType !== want) {
      throw new CodecError('Malformed', `${what} at offset ${this.pos} has wire type ${wireType}, expected ${want}`);
    }
  }

  /**
   * Steps over a length-delimited field, checked against the enclosing message; returns where its bytes start
   * (they end at `pos`).
   */
  span(what: string): number {
    const at = this.pos;
    const len = this.varint(what, Label.Length);
    if (len > this.end - this.pos) {
      throw new CodecError(
        'Truncated',
        `${what} at offset ${at} claims ${len} bytes but only ${this.end - this.pos} remain`,
      );
    }
    const start = this.pos;
    this.pos += len;
    return start;
  }

  /**
   * The field's bytes. From a plain Uint8Array this is a copy; from a Buffer (what the WAL, the snapshot files and
   * the peer streams are read into) Buffer's `slice` is a view, so the value shares the input's memory and keeps it
   * alive. Either is safe because no input is written again once decoded: each segment, file and stream piece is
   * read into a buffer of its own.
   */
  bytes(what: string): Uint8Array {
    const start = this.span(what);
    return start === this.pos ? EMPTY : this.buf.slice(start, this.pos);
  }

  nested(what: string): Reader {
    if (this.depth >= MAX_DEPTH) {
      throw new CodecError('Malformed', `${what} at offset ${this.pos} is nested more than ${MAX_DEPTH} deep`);
    }
    const start = this.span(what);
    return new Reader(this.buf, start, this.pos, this.depth + 1);
  }

  fixed(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new CodecError('Truncated', `Truncated fixed-width field in ${what} at offset ${this.pos}`);
    }
    this.pos += n;
  }

  /** Skips an unknown field, as protobuf requires; groups are skipped to their matching end tag. */
  skip(field: number, wireType: number, what: string): void {
    switch (wireType) {
      case VARINT:
        this.uint(`unknown field ${field} of ${what}`);
        return;
      case FIXED64:
        this.fixed(8, what);
        return;
      case BYTES:
        this.span(`unknown field ${field} of ${what}`);
        return;
      case FIXED32:
        this.fixed(4, what);
        return;
      case START_GROUP:
        this.skipGroup(field, what);
        return;
      default:
        throw new CodecError('Malformed', `Invalid wire type ${wireType} in ${what} before offset ${this.pos}`);
    }
  }

  private skipGroup(group: number, what: string): void {
    const at = this.pos;
    if (this.depth >= MAX_DEPTH) {
      throw new CodecError('Malformed', `Group in ${what} at offset ${at} is nested more than ${MAX_DEPTH} deep`);
    }
    const inner = new Reader(this.buf, this.pos, this.end, this.depth + 1);
    for (;;) {
      if (!inner.more()) {
        throw new CodecError('Truncated', `Group ${group} in ${what} at offset ${at} has no end`);
      }
      const field = inner.nextField(what);
      const wireType = inner.wireType;
      if (wireType === END_GROUP) {
        if (field !== group) {
          throw new CodecError('Malformed', `Group ${group} in ${what} at offset ${at} ends with group ${field}`);
        }
        this.pos = inner.pos;
        return;
      }
      inner.skip(field, wireType, what);
    }
  }

  bool(what: string): boolean {
    return this.uint(what) !== 0;
  }

  /** An enum value; values tsraft does not know are refused rather than passed on as numbers nobody handles. */
  enumValue(names: Record<number, string>, what: string): number {
    const at = this.pos;
    const v = this.uint(what);
    if (typeof names[v] !== 'string') {
      throw new CodecError('Malformed', `Unknown value ${v} for ${what} at offset ${at}`);
    }
    return v;
  }
}

function readEntry(r: Reader): Entry {
  let type: EntryType = EntryType.EntryNormal;
  let typeSeen = false;
  let term = 0;
  let index = 0;
  let data: Uint8Array = EMPTY;
  while (r.more()) {
    const field = r.nextField('Entry');
    const wt = r.wireType;
    switch (field) {
      case 1:
        r.expect(wt, VARINT, 'Entry.type');
        type = r.enumValue(EntryType, 'Entry.type');
        typeSeen = true;
        break;
      case 2:
        r.expect(wt, VARINT, 'Entry.term');
        term = r.uint('Entry.term');
        break;
      case 3:
        r.expect(wt, VARINT, 'Entry.index');
        index = r.uint('Entry.index');
        break;
      case 4:
        r.expect(wt, BYTES, 'Entry.data');
        data = r.bytes('Entry.data');
        break;
      default:
        r.skip(field, wt, 'Entry');
    }
  }
  // Absent is not the same as EntryNormal written out: keep the difference, so the entry's size is unchanged.
  // Performance: each shape is built whole; adding `typeUnset` afterwards would move it out of the object.
  return typeSeen ? { term, index, type, data } : { term, index, type, data, typeUnset: true };
}

function readHardState(r: Reader, hs: HardState): void {
  while (r.more()) {
    const field = r.nextField('HardState');
    const wt = r.wireType;
    switch (field) {
      case 1:
        r.expect(wt, VARINT, 'HardState.term');
        hs.term = r.uint('HardState.term');
        break;
      case 2:
        r.expect(wt, VARINT, 'HardState.vote');
        hs.vote = r.uint('HardState.vote');
        break;
      case 3:
        r.expect(wt, VARINT, 'HardState.commit');
        hs.commit = r.uint('HardState.commit');
        break;
      default:
        r.skip(field, wt, 'HardState');
    }
  }
}

// Parsers must accept a repeated scalar both unpacked (one tag per value) and packed (one length-delimited run).
function readIds(r: Reader, wt: number, into: number[], what: string): void {
  if (wt === BYTES) {
    const packed = r.nested(what);
    while (packed.more()) into.push(packed.uint(what));
    return;
  }
  r.expect(wt, VARINT, what);
  into.push(r.uint(what));
}

function readConfState(r: Reader, cs: ConfState): void {
  while (r.more()) {
    const field = r.nextField('ConfState');
    const wt = r.wireType;
    switch (field) {
      case 1:
        readIds(r, wt, cs.voters, 'ConfState.voters');
        break;
      case 2:
        readIds(r, wt, cs.learners, 'ConfState.learners');
        break;
      case 3:
        readIds(r, wt, cs.votersOutgoing, 'ConfState.votersOutgoing');
        break;
      case 4:
        readIds(r, wt, cs.learnersNext, 'ConfState.learnersNext');
        break;
      case 5:
        r.expect(wt, VARINT, 'ConfState.autoLeave');
        cs.autoLeave = r.bool('ConfState.autoLeave');
        break;
      default:
        r.skip(field, wt, 'ConfState');
    }
  }
}

// A message field that occurs twice is merged into, not replaced, per protobuf's rules; hence the `into` targets.
function readSnapshotMetadata(r: Reader, s: Snapshot): void {
  while (r.more()) {
    const field = r.nextField('SnapshotMetadata');
    const wt = r.wireType;
    switch (field) {
      case 1:
        r.expect(wt, BYTES, 'SnapshotMetadata.confState');
        readConfState(r.nested('SnapshotMetadata.confState'), s.metadata.confState);
        break;
      case 2:
        r.expect(wt, VARINT, 'SnapshotMetadata.index');
        s.metadata.index = r.uint('SnapshotMetadata.index');
        break;
      case 3:
        r.expect(wt, VARINT, 'SnapshotMetadata.term');
        s.metadata.term = r.uint('SnapshotMetadata.term');
        break;
      default:
        r.skip(field, wt, 'SnapshotMetadata');
    }
  }
}

function readSnapshot(r: Reader, s: Snapshot): void {
  while (r.more()) {
    const field = r.nextField('Snapshot');
    const wt = r.wireType;
    switch (field) {
      case 1:
        r.expect(wt, BYTES, 'Snapshot.data');
        s.data = r.bytes('Snapshot.data');
        break;
      case 2:
        r.expect(wt, BYTES, 'Snapshot.metadata');
        readSnapshotMetadata(r.nested('Snapshot.metadata'), s);
        break;
      default:
        r.skip(field, wt, 'Snapshot');
    }
  }
}

function readMessage(r: Reader, m: Message): void {
  while (r.more()) {
    const field = r.nextField('Message');
    const wt = r.wireType;
    switch (field) {
      case 1:
        r.expect(wt, VARINT, 'Message.type');
        m.type = r.enumValue(MessageType, 'Message.type');
        break;
      case 2:
        r.expect(wt, VARINT, 'Message.to');
        m.to = r.uint('Message.to');
        break;
      case 3:
        r.expect(wt, VARINT, 'Message.from');
        m.from = r.uint('Message.from');
        break;
      case 4:
        r.expect(wt, VARINT, 'Message.term');
        m.term = r.uint('Message.term');
        break;
      case 5:
        r.expect(wt, VARINT, 'Message.logTerm');
        m.logTerm = r.uint('Message.logTerm');
        break;
      case 6:
        r.expect(wt, VARINT, 'Message.index');
        m.index = r.uint('Message.index');
        break;
      case 7: {
        r.expect(wt, BYTES, 'Message.entries');
        m.entries.push(readEntry(r.nested('Message.entries')));
        break;
      }
      case 8:
        r.expect(wt, VARINT, 'Message.commit');
        m.commit = r.uint('Message.commit');
        break;
      case 9:
        r.expect(wt, BYTES, 'Message.snapshot');
        m.snapshot ??= emptySnapshot();
        readSnapshot(r.nested('Message.snapshot'), m.snapshot);
        break;
      case 10:
        r.expect(wt, VARINT, 'Message.reject');
        m.reject = r.bool('Message.reject');
        break;
      case 11:
        r.expect(wt, VARINT, 'Message.rejectHint');
        m.rejectHint = r.uint('Message.rejectHint');
        break;
      case 12:
        r.expect(wt, BYTES, 'Message.context');
        m.context = r.bytes('Message.context');
        break;
      case 13:
        r.expect(wt, VARINT, 'Message.vote');
        m.vote = r.uint('Message.vote');
        break;
      case 14: {
        r.expect(wt, BYTES, 'Message.responses');
        const resp = newMessage({ type: MessageType.MsgHup });
        readMessage(r.nested('Message.responses'), resp);
        m.responses.push(resp);
        break;
      }
      default:
        r.skip(field, wt, 'Message');
    }
  }
}

function readConfChange(r: Reader, cc: ConfChange): void {
  while (r.more()) {
    const field = r.nextField('ConfChange');
    const wt = r.wireType;
    switch (field) {
      case 1:
        r.expect(wt, VARINT, 'ConfChange.id');
        cc.id = r.uint('ConfChange.id');
        break;
      case 2:
        r.expect(wt, VARINT, 'ConfChange.type');
        cc.type = r.enumValue(ConfChangeType, 'ConfChange.type');
        break;
      case 3:
        r.expect(wt, VARINT, 'ConfChange.nodeId');
        cc.nodeId = r.uint('ConfChange.nodeId');
        break;
      case 4:
        r.expect(wt, BYTES, 'ConfChange.context');
        cc.context = r.bytes('ConfChange.context');
        break;
      default:
        r.skip(field, wt, 'ConfChange');
    }
  }
}

function readConfChangeSingle(r: Reader, c: ConfChangeSingle): void {
  while (r.more()) {
    const field = r.nextField('ConfChangeSingle');
    const wt = r.wireType;
    switch (field) {
      case 1:
        r.expect(wt, VARINT, 'ConfChangeSingle.type');
        c.type = r.enumValue(ConfChangeType, 'ConfChangeSingle.type');
        break;
      case 2:
        r.expect(wt, VARINT, 'ConfChangeSingle.nodeId');
        c.nodeId = r.uint('ConfChangeSingle.nodeId');
        break;
      default:
        r.skip(field, wt, 'ConfChangeSingle');
    }
  }
}

function readConfChangeV2(r: Reader, cc: ConfChangeV2): void {
  while (r.more()) {
    const field = r.nextField('ConfChangeV2');
    const wt = r.wireType;
    switch (field) {
      case 1:
        r.expect(wt, VARINT, 'ConfChangeV2.transition');
        cc.transition = r.enumValue(ConfChangeTransition, 'ConfChangeV2.transition');
        break;
      case 2: {
        r.expect(wt, BYTES, 'ConfChangeV2.changes');
        const c: ConfChangeSingle = { type: ConfChangeType.ConfChangeAddNode, nodeId: 0 };
        readConfChangeSingle(r.nested('ConfChangeV2.changes'), c);
        cc.changes.push(c);
        break;
      }
      case 3:
        r.expect(wt, BYTES, 'ConfChangeV2.context');
        cc.context = r.bytes('ConfChangeV2.context');
        break;
      default:
        r.skip(field, wt, 'ConfChangeV2');
    }
  }
}

function decodeWith<T>(buf: Uint8Array, blank: T, read: (r: Reader, v: T) => void): T {
  read(new Reader(buf, 0, buf.length, 0), blank);
  return blank;
}

/** Decodes a raftpb.Entry. Throws CodecError. */
export function decodeEntry(buf: Uint8Array): Entry {
  return readEntry(new Reader(buf, 0, buf.length, 0));
}

/** Decodes a raftpb.HardState. Throws CodecError. */
export function decodeHardState(buf: Uint8Array): HardState {
  return decodeWith(buf, { term: 0, vote: 0, commit: 0 }, readHardState);
}

/** Decodes a raftpb.ConfState. Throws CodecError. */
export function decodeConfState(buf: Uint8Array): ConfState {
  return decodeWith(buf, emptyConfState(), readConfState);
}

/** Decodes a raftpb.Snapshot. Throws CodecError. */
export function decodeSnapshot(buf: Uint8Array): Snapshot {
  return decodeWith(buf, emptySnapshot(), readSnapshot);
}

/** Decodes a raftpb.Message; an absent snapshot field decodes as `snapshot: null`. Throws CodecError. */
export function decodeMessage(buf: Uint8Array): Message {
  return decodeWith(buf, newMessage({ type: MessageType.MsgHup }), readMessage);
}

/** Decodes a raftpb.ConfChange. Throws CodecError. */
export function decodeConfChange(buf: Uint8Array): ConfChange {
  // `id` stays absent unless the bytes carry it.
  const blank: ConfChange = { type: ConfChangeType.ConfChangeAddNode, nodeId: 0, context: EMPTY };
  return decodeWith(buf, blank, readConfChange);
}

/** Decodes a raftpb.ConfChangeV2. Throws CodecError. */
export function decodeConfChangeV2(buf: Uint8Array): ConfChangeV2 {
  const blank: ConfChangeV2 = {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [],
    context: EMPTY,
  };
  return decodeWith(buf, blank, readConfChangeV2);
}

/** Decodes what `encodeMessages` wrote. Throws CodecError. */
export function decodeMessages(buf: Uint8Array): Message[] {
  const r = new Reader(buf, 0, buf.length, 0);
  const out: Message[] = [];
  while (r.more()) {
    const m = newMessage({ type: MessageType.MsgHup });
    readMessage(r.nested(`message ${out.length} of the batch`), m);
    out.push(m);
  }
  return out;
}
