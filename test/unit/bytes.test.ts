// The snapshot's byte layout: what ByteWriter writes, ByteReader reads back, however often the writer had to grow.

import { ByteReader, ByteWriter } from '../../kvstore/bytes';

describe('ByteWriter and ByteReader', () => {
  test('round-trip every field kind across many growths of a tiny buffer', () => {
    const w = new ByteWriter(1);
    const strings = ['', 'a', 'κλειδί', '鍵🔑', 'x'.repeat(5000)];
    for (let i = 0; i < 1000; i++) {
      w.u8(i % 256);
      w.u32(i * 65_537);
      w.u48(2 ** 47 + i);
      w.bytes(Buffer.alloc(i % 300, i % 256));
      w.string(strings[i % strings.length] ?? '');
    }
    const r = new ByteReader(w.finish());
    for (let i = 0; i < 1000; i++) {
      expect(r.u8('u8')).toBe(i % 256);
      expect(r.u32('u32')).toBe(i * 65_537);
      expect(r.u48('u48')).toBe(2 ** 47 + i);
      expect(r.bytes('bytes').equals(Buffer.alloc(i % 300, i % 256))).toBe(true);
      expect(r.string('string')).toBe(strings[i % strings.length]);
    }
    expect(r.done).toBe(true);
  });

  test('finish returns exactly the bytes written, unchanged by later writes', () => {
    const w = new ByteWriter();
    w.string('abc');
    const out = w.finish();
    expect([...out]).toEqual([0, 0, 0, 3, 97, 98, 99]);
    w.u8(1);
    expect(out.length).toBe(7);
  });

  test('a snapshot cut short is refused naming the field', () => {
    const w = new ByteWriter();
    w.string('hello');
    const cut = w.finish().subarray(0, 6);
    expect(() => new ByteReader(cut).string('key')).toThrow(/Snapshot ends inside the key of 5 bytes at offset 4/);
  });
});
