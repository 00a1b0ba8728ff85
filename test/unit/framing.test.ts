// Stream framing: whatever way TCP cuts a stream into pieces, the decoder returns the same messages in the same order;
// keepalives carry nothing; an oversized or damaged frame is refused as soon as it can be recognised.

import fc from 'fast-check';
import { Entry, EntryType, Message, MessageType, newMessage } from '../../raft/types';
import { TransportError } from '../../transport/errors';
import { FrameDecoder, KEEPALIVE, encodeFrames } from '../../transport/framing';

function entry(index: number, bytes: number): Entry {
  return { term: 2, index, type: EntryType.EntryNormal, data: new Uint8Array(bytes).fill(index % 251) };
}

function sample(): Message[] {
  return [
    newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 2, commit: 7 }),
    newMessage({ type: MessageType.MsgApp, from: 1, to: 2, term: 2, index: 7, logTerm: 2, commit: 7, entries: [entry(8, 3), entry(9, 300)] }),
    newMessage({ type: MessageType.MsgApp, from: 1, to: 2, term: 2, index: 9, logTerm: 2, commit: 8, entries: [entry(10, 200)] }),
    newMessage({ type: MessageType.MsgReadIndex, from: 1, to: 2, term: 2, entries: [entry(0, 10)] }),
  ];
}

// The stream: two messages, a keepalive, the other two, another keepalive.
function stream(msgs: Message[]): Buffer {
  return Buffer.concat([encodeFrames(msgs.slice(0, 2)), KEEPALIVE, encodeFrames(msgs.slice(2)), KEEPALIVE]);
}

function feed(decoder: FrameDecoder, pieces: Buffer[]): Message[] {
  const out: Message[] = [];
  for (const p of pieces) out.push(...decoder.push(p));
  return out;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TransportError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('FrameDecoder', () => {
  const msgs = sample();
  const bytes = stream(msgs);

  test('a stream in one piece gives every message in order and counts the keepalives', () => {
    const decoder = new FrameDecoder(1 << 20);
    expect(decoder.push(bytes)).toEqual(msgs);
    expect(decoder.keepalives).toBe(2);
    expect(decoder.pendingBytes).toBe(0);
  });

  test('cut in two at every byte boundary, the stream gives the same messages', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new FrameDecoder(1 << 20);
      expect(feed(decoder, [bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(msgs);
      expect(decoder.pendingBytes).toBe(0);
    }
  });

  test('one byte at a time, the stream gives the same messages, each as soon as its last byte is in', () => {
    const decoder = new FrameDecoder(1 << 20);
    const out: Message[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const got = decoder.push(bytes.subarray(i, i + 1));
      // A message is complete exactly at the end of its frame: never before, never later.
      expect(got.length).toBeLessThanOrEqual(1);
      out.push(...got);
    }
    expect(out).toEqual(msgs);
  });

  test('cut anywhere into any number of pieces, the stream gives the same messages', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 30 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        const pieces = points.slice(1).map((end, i) => bytes.subarray(points[i], end));
        expect(feed(new FrameDecoder(1 << 20), pieces)).toEqual(msgs);
      }),
    );
  });

  test('a frame longer than the limit is refused from its length alone, before its body arrives', () => {
    const big = encodeFrames([newMessage({ type: MessageType.MsgApp, from: 1, to: 2, term: 1, entries: [entry(1, 5000)] })]);
    // The frame's length varint takes two bytes; the limit is well below the frame's size.
    expect(refusal(() => new FrameDecoder(4096).push(big.subarray(0, 2)))).toBe('FrameTooLarge');
    // A frame exactly at the limit passes.
    const size = big.length - 2;
    expect(new FrameDecoder(size).push(big)).toHaveLength(1);
    expect(refusal(() => new FrameDecoder(size - 1).push(big))).toBe('FrameTooLarge');
  });

  test('a length that never ends is refused', () => {
    expect(refusal(() => new FrameDecoder(2 ** 40).push(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])))).toBe('BadFrame');
  });

  test('a frame whose bytes are not a message is refused', () => {
    // Length 3, then a field with wire type 7, which does not exist.
    expect(refusal(() => new FrameDecoder(1024).push(Buffer.from([3, 0x0f, 0x00, 0x00])))).toBe('BadFrame');
  });
});
