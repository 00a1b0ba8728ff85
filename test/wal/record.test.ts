import fc from 'fast-check';
import { encodeEntry } from '../../raft/codec';
import { Entry } from '../../raft/types';
import { RecordType, encodeFrames, scanSegment } from '../../wal/record';

const entryArb: fc.Arbitrary<Entry> = fc.record({
  term: fc.nat(),
  index: fc.nat(),
  type: fc.integer({ min: 0, max: 2 }),
  data: fc.uint8Array({ maxLength: 300 }),
});

describe('entry records', () => {
  it('frame an entry given as such to the same bytes and CRC as its encoding given as data', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 8 }), fc.nat(), (entries, crc) => {
        const asEntries = encodeFrames(entries.map((entry) => ({ type: RecordType.Entry, entry })), crc);
        const asData = encodeFrames(entries.map((e) => ({ type: RecordType.Entry, data: encodeEntry(e) })), crc);
        expect(asEntries.bytes).toEqual(asData.bytes);
        expect(asEntries.crc).toBe(asData.crc);
      }),
    );
  });

  it('read back as the encoding of each entry', () => {
    const entries: Entry[] = [
      { term: 1, index: 1, type: 0, data: new Uint8Array([1, 2, 3]) },
      { term: 2, index: 2, type: 1, data: new Uint8Array(0) },
    ];
    const header = encodeFrames([{ type: RecordType.Crc, data: new Uint8Array(0) }], 7);
    const body = encodeFrames(entries.map((entry) => ({ type: RecordType.Entry, entry })), header.crc);
    const read: number[][] = [];
    const scan = scanSegment('seg', Buffer.concat([header.bytes, body.bytes]), null, false, undefined, (_type, data) => read.push(Array.from(data)));
    expect(read.slice(1)).toEqual(entries.map((e) => Array.from(encodeEntry(e))));
    expect(scan.crc).toBe(body.crc);
  });
});
