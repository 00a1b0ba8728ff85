import fc from 'fast-check';
import {
  CodecError,
  decodeConfChange,
  decodeConfChangeV2,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeMessages,
  decodeSnapshot,
  encodeConfChange,
  encodeConfChangeV2,
  encodeConfState,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeMessages,
  encodeSnapshot,
  entrySize,
  writeEntryInto,
} from '../../raft/codec';
import {
  ConfChange,
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
  newMessage,
} from '../../raft/types';

const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function codecError(f: () => unknown): CodecError {
  try {
    f();
  } catch (err) {
    if (err instanceof CodecError) return err;
    throw err;
  }
  throw new Error('expected a CodecError');
}

// ## Golden vectors, derived by hand from the protobuf encoding rules and raft.proto's field numbers.
describe('codec golden bytes', () => {
  it('writes Entry fields in field-number order, type first, and omits empty data', () => {
    // Type=1 (0x08), Term=2 (0x10), Index=3 (0x18), Data=4 (0x22, length-delimited).
    const e: Entry = { term: 1, index: 2, type: EntryType.EntryNormal, data: text('ab') };
    expect(hex(encodeEntry(e))).toBe('0800100118022202' + '6162');
    expect(hex(encodeEntry({ ...e, data: new Uint8Array(0) }))).toBe('080010011802');
  });

  it('writes fields that were set even when zero, so an empty entry naming its type takes six bytes', () => {
    const e: Entry = { term: 0, index: 0, type: EntryType.EntryNormal, data: new Uint8Array(0) };
    expect(hex(encodeEntry(e))).toBe('080010001800');
    expect(entrySize(e)).toBe(6);
  });

  it('writes multi-byte varints little-endian in 7-bit groups', () => {
    // 300 = 0b10_0101100 -> 0xac 0x02.
    expect(hex(encodeEntry({ term: 300, index: 1, type: EntryType.EntryConfChange, data: new Uint8Array(0) }))).toBe(
      '080110ac021801',
    );
  });

  it('encodes 2^32 and 2^53 exactly, beyond the reach of 32-bit bit operations', () => {
    const hs = (term: number): string => hex(encodeHardState({ term, vote: 0, commit: 0 }));
    expect(hs(2 ** 32)).toBe('08' + '8080808010' + '10001800');
    expect(hs(2 ** 53)).toBe('08' + '8080808080808010' + '10001800');
    expect(hs(2 ** 53 - 1)).toBe('08' + 'ffffffffffffff0f' + '10001800');
    expect(decodeHardState(encodeHardState({ term: 2 ** 53, vote: 2 ** 31, commit: 2 ** 53 - 1 }))).toEqual({
      term: 2 ** 53,
      vote: 2 ** 31,
      commit: 2 ** 53 - 1,
    });
  });

  it('writes a HardState as three varints', () => {
    expect(hex(encodeHardState({ term: 1, vote: 2, commit: 3 }))).toBe('080110021803');
  });

  it('writes ConfState IDs unpacked, one tag per ID, and always writes autoLeave', () => {
    const cs: ConfState = { voters: [1, 2], learners: [3], votersOutgoing: [], learnersNext: [4], autoLeave: true };
    expect(hex(encodeConfState(cs))).toBe('08010802' + '1003' + '2004' + '2801');
  });

  it('writes a Snapshot with its metadata nested and its empty data omitted', () => {
    const s: Snapshot = {
      data: new Uint8Array(0),
      metadata: {
        confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
        index: 5,
        term: 2,
      },
    };
    // metadata (0x12, 10 bytes) = conf_state (0x0a, 4 bytes: 08 01 28 00), index (0x10 05), term (0x18 02).
    expect(hex(encodeSnapshot(s))).toBe('120a' + '0a0408012800' + '1005' + '1802');
    expect(hex(encodeSnapshot({ ...s, data: text('z') }))).toBe('0a017a' + '120a0a04080128001005' + '1802');
  });

  it('writes a MsgApp with vote (field 13) after context (field 12)', () => {
    const m = newMessage({
      type: MessageType.MsgApp,
      to: 2,
      from: 1,
      term: 5,
      logTerm: 4,
      index: 10,
      entries: [{ term: 5, index: 11, type: EntryType.EntryNormal, data: text('x') }],
      commit: 9,
      context: text('c'),
      vote: 7,
    });
    expect(hex(encodeMessage(m))).toBe(
      '0803' + '1002' + '1801' + '2005' + '2804' + '300a' + '3a09' + '08001005180b220178' + '4009' + '5000' + '5800' +
        '620163' + '6807',
    );
  });

  it('writes a Message snapshot only when present', () => {
    const m = newMessage({ type: MessageType.MsgHeartbeat });
    const without = encodeMessage(m);
    expect(hex(without)).toBe('0808100018002000280030004000500058006800');
    const withSnap = encodeMessage({ ...m, snapshot: decodeSnapshot(new Uint8Array(0)) });
    // An empty snapshot still carries its metadata: 4a 0a | 12 08 | 0a 02 28 00 | 10 00 | 18 00.
    expect(hex(withSnap)).toBe(hex(without).replace('4000', '4000' + '4a0a' + '1208' + '0a022800' + '1000' + '1800'));
    expect(decodeMessage(without).snapshot).toBeNull();
    expect(decodeMessage(withSnap).snapshot).not.toBeNull();
  });

  it('writes ConfChange with id first and ConfChangeV2 changes as nested messages', () => {
    const cc: ConfChange = { id: 0, type: ConfChangeType.ConfChangeAddNode, nodeId: 3, context: new Uint8Array(0) };
    expect(hex(encodeConfChange(cc))).toBe('080010001803');
    const v2: ConfChangeV2 = {
      transition: ConfChangeTransition.ConfChangeTransitionAuto,
      changes: [{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 2 }],
      context: new Uint8Array(0),
    };
    expect(hex(encodeConfChangeV2(v2))).toBe('0800' + '120408011002');
  });

  it('prefixes each message of a batch with its length', () => {
    const m = newMessage({ type: MessageType.MsgHeartbeat, to: 1 });
    const one = encodeMessage(m);
    expect(hex(encodeMessages([m, m]))).toBe(hex(bytes(one.length)) + hex(one) + hex(bytes(one.length)) + hex(one));
  });
});

describe('codec decoding rules', () => {
  it('skips unknown fields of every wire type, groups included', () => {
    const known = encodeHardState({ term: 1, vote: 2, commit: 3 });
    const unknown = [
      '7801', // field 15, varint
      '8201' + '03616263', // field 16, bytes
      '8d01' + '01020304', // field 17, fixed32
      '9101' + '0102030405060708', // field 18, fixed64
      '9b01' + '0801' + '9c01', // field 19, a group holding field 1, closed by end-group 19
    ];
    const buf = Buffer.from(unknown.join('') + hex(known), 'hex');
    expect(decodeHardState(buf)).toEqual({ term: 1, vote: 2, commit: 3 });
  });

  it('accepts packed IDs, as protobuf parsers must', () => {
    expect(decodeConfState(Buffer.from('0a03010203' + '0804', 'hex')).voters).toEqual([1, 2, 3, 4]);
  });

  it('merges a repeated embedded message instead of replacing it', () => {
    // Two Snapshot.metadata fields: the first sets index 5, the second term 2.
    const s = decodeSnapshot(Buffer.from('12021005' + '12021802', 'hex'));
    expect(s.metadata.index).toBe(5);
    expect(s.metadata.term).toBe(2);
  });

  it('lets the last occurrence of a scalar win', () => {
    expect(decodeHardState(Buffer.from('08010805', 'hex')).term).toBe(5);
  });

  it('reports a truncated varint with the field and offset', () => {
    const err = codecError(() => decodeEntry(Buffer.from('080010', 'hex')));
    expect(err.code).toBe('Truncated');
    expect(err.message).toContain('Entry.term');
    expect(err.message).toContain('offset 3');
  });

  it('names a truncated tag and a truncated length by their field', () => {
    const tag = codecError(() => decodeEntry(Buffer.from('0800ff', 'hex')));
    expect(tag.message).toBe('Truncated varint in the tag of a Entry field at offset 2');
    const length = codecError(() => decodeEntry(Buffer.from('080022ff', 'hex')));
    expect(length.message).toBe('Truncated varint in the length of Entry.data at offset 3');
  });

  it('reports a length that runs past the end', () => {
    const err = codecError(() => decodeEntry(Buffer.from('080022056162', 'hex')));
    expect(err.code).toBe('Truncated');
    expect(err.message).toMatch(/Entry\.data at offset 3 claims 5 bytes but only 2 remain/);
  });

  it('reports a nested truncation at its offset in the outer buffer', () => {
    // Message.entries of length 2 holding a truncated Entry.term varint.
    const err = codecError(() => decodeMessage(Buffer.from('08033a021080', 'hex')));
    expect(err.code).toBe('Truncated');
    expect(err.message).toContain('Entry.term at offset 5');
  });

  it('refuses a known field with the wrong wire type', () => {
    const err = codecError(() => decodeEntry(Buffer.from('1201' + '00', 'hex')));
    expect(err.code).toBe('Malformed');
    expect(err.message).toContain('Entry.term');
  });

  it('refuses field number 0, invalid wire types and unmatched group ends', () => {
    expect(codecError(() => decodeEntry(bytes(0x00, 0x01))).code).toBe('Malformed');
    expect(codecError(() => decodeEntry(bytes(0x2e))).code).toBe('Malformed');
    expect(codecError(() => decodeEntry(bytes(0x2c))).code).toBe('Malformed');
    expect(codecError(() => decodeEntry(Buffer.from('2b' + '3401', 'hex'))).code).toBe('Malformed');
    expect(codecError(() => decodeEntry(Buffer.from('2b' + '0801', 'hex'))).code).toBe('Truncated');
  });

  it('refuses varints above 2^53 and longer than ten bytes', () => {
    // 2^53 + 1: low group 1, then 2^53 as above.
    expect(codecError(() => decodeHardState(Buffer.from('08' + '8180808080808010', 'hex'))).code).toBe('Overflow');
    expect(codecError(() => decodeHardState(Buffer.from('08' + 'ffffffffffffffffff01', 'hex'))).code).toBe(
      'Overflow',
    );
    expect(codecError(() => decodeHardState(Buffer.from('08' + '8080808080808080808000', 'hex'))).code).toBe(
      'Malformed',
    );
    // Redundant zero groups are legal.
    expect(decodeHardState(Buffer.from('08' + '818000', 'hex')).term).toBe(1);
  });

  it('refuses enum values tsraft does not know', () => {
    const err = codecError(() => decodeMessage(Buffer.from('0863', 'hex')));
    expect(err.code).toBe('Malformed');
    expect(err.message).toContain('Unknown value 99 for Message.type');
  });

  it('refuses nesting deep enough to threaten the stack', () => {
    let inner = encodeMessage(newMessage({ type: MessageType.MsgHup }));
    for (let i = 0; i < 100; i++) {
      inner = Uint8Array.from([0x72, ...varint(inner.length), ...inner]);
    }
    const err = codecError(() => decodeMessage(inner));
    expect(err.code).toBe('Malformed');
    expect(err.message).toContain('nested more than');
  });

  it('refuses to encode values that are not uints up to 2^53', () => {
    for (const term of [-1, 1.5, 2 ** 53 + 2, Number.NaN]) {
      const err = codecError(() => encodeHardState({ term, vote: 0, commit: 0 }));
      expect(err.code).toBe('InvalidValue');
      expect(err.message).toContain('HardState.term');
    }
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

// ## Properties
const uint = fc.oneof(fc.nat(1000), fc.nat(), fc.maxSafeNat(), fc.constant(2 ** 53));
const data = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 300 }));
const enumOf = (n: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: n - 1 });

// Entries in both presence forms: a type set to any value, or a type never set (which reads as EntryNormal).
const entryArb: fc.Arbitrary<Entry> = fc.oneof(
  fc.record({ term: uint, index: uint, type: enumOf(3), data }),
  fc
    .record({ term: uint, index: uint, data })
    .map((e): Entry => ({ ...e, type: EntryType.EntryNormal, typeUnset: true })),
);
const idsArb = fc.array(uint, { maxLength: 5 });
const confStateArb: fc.Arbitrary<ConfState> = fc.record({
  voters: idsArb,
  learners: idsArb,
  votersOutgoing: idsArb,
  learnersNext: idsArb,
  autoLeave: fc.boolean(),
});
const snapshotArb: fc.Arbitrary<Snapshot> = fc.record({
  data,
  metadata: fc.record({ confState: confStateArb, index: uint, term: uint }),
});
const hardStateArb: fc.Arbitrary<HardState> = fc.record({ term: uint, vote: uint, commit: uint });
const baseMessageArb = fc.record({
  type: enumOf(24),
  to: uint,
  from: uint,
  term: uint,
  logTerm: uint,
  index: uint,
  entries: fc.array(entryArb, { maxLength: 4 }),
  commit: uint,
  vote: uint,
  snapshot: fc.option(snapshotArb, { nil: null }),
  reject: fc.boolean(),
  rejectHint: uint,
  context: data,
});
const messageArb: fc.Arbitrary<Message> = baseMessageArb.chain((m) =>
  fc
    .array(baseMessageArb, { maxLength: 2 })
    .map((rs) => ({ ...m, responses: rs.map((r) => ({ ...r, responses: [] })) })),
);
// The ID is set (to any value, 0 included) or never set.
const confChangeArb: fc.Arbitrary<ConfChange> = fc.record(
  { type: enumOf(4), nodeId: uint, context: data, id: uint },
  { requiredKeys: ['type', 'nodeId', 'context'] },
);
const confChangeV2Arb: fc.Arbitrary<ConfChangeV2> = fc.record({
  transition: enumOf(3),
  changes: fc.array(fc.record({ type: enumOf(4), nodeId: uint }), { maxLength: 4 }),
  context: data,
});

const decoders: Array<(b: Uint8Array) => unknown> = [
  decodeEntry,
  decodeHardState,
  decodeConfState,
  decodeSnapshot,
  decodeMessage,
  decodeConfChange,
  decodeConfChangeV2,
  decodeMessages,
];

describe('codec properties', () => {
  it('round-trips every type', () => {
    fc.assert(fc.property(entryArb, (e) => expect(decodeEntry(encodeEntry(e))).toEqual(e)));
    fc.assert(fc.property(hardStateArb, (hs) => expect(decodeHardState(encodeHardState(hs))).toEqual(hs)));
    fc.assert(fc.property(confStateArb, (cs) => expect(decodeConfState(encodeConfState(cs))).toEqual(cs)));
    fc.assert(fc.property(snapshotArb, (s) => expect(decodeSnapshot(encodeSnapshot(s))).toEqual(s)));
    fc.assert(fc.property(messageArb, (m) => expect(decodeMessage(encodeMessage(m))).toEqual(m)));
    fc.assert(fc.property(confChangeArb, (cc) => expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc)));
    fc.assert(fc.property(confChangeV2Arb, (cc) => expect(decodeConfChangeV2(encodeConfChangeV2(cc))).toEqual(cc)));
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 4 }), (ms) =>
        expect(decodeMessages(encodeMessages(ms))).toEqual(ms),
      ),
    );
  });

  it('computes entrySize without encoding, equal to the encoded length', () => {
    fc.assert(fc.property(entryArb, (e) => entrySize(e) === encodeEntry(e).length));
  });

  it('writes an entry into a caller buffer with the bytes of encodeEntry, touching nothing around them', () => {
    fc.assert(
      fc.property(entryArb, fc.nat(16), fc.nat(16), (e, before, after) => {
        const size = entrySize(e);
        const buf = new Uint8Array(before + size + after).fill(0xaa);
        expect(writeEntryInto(buf, before, e)).toBe(before + size);
        expect(buf.subarray(before, before + size)).toEqual(encodeEntry(e));
        expect(buf.subarray(0, before).every((b) => b === 0xaa)).toBe(true);
        expect(buf.subarray(before + size).every((b) => b === 0xaa)).toBe(true);
      }),
    );
  });

  it('refuses to write an entry past the end of the caller buffer', () => {
    const e: Entry = { term: 1, index: 2, type: EntryType.EntryNormal, data: new Uint8Array(10) };
    const buf = new Uint8Array(entrySize(e) + 3);
    expect(() => writeEntryInto(buf, 4, e)).toThrow(CodecError);
  });

  it('never throws anything but CodecError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (buf) => {
        for (const decode of decoders) {
          try {
            decode(buf);
          } catch (err) {
            if (!(err instanceof CodecError)) throw err;
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws anything but CodecError on a valid message cut short or with a byte flipped', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(), fc.nat(255), (m, at, flip) => {
        const buf = encodeMessage(m);
        const cut = at % (buf.length + 1);
        const mutated = buf.slice();
        if (buf.length > 0) mutated[at % buf.length] ^= flip;
        for (const b of [buf.subarray(0, cut), mutated]) {
          try {
            decodeMessage(b);
          } catch (err) {
            if (!(err instanceof CodecError)) throw err;
          }
        }
      }),
    );
  });
});
