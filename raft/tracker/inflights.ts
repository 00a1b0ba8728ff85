// # In-flight appends
//
// In StateReplicate the leader sends appends without waiting for each answer. To bound the memory and bandwidth a
// slow follower can hold, it remembers the appends in flight (the index of each one's last entry and its payload
// bytes) and stops sending once too many messages, or too many bytes, are unacknowledged. An acknowledgement of
// index i frees every append ending at or below i.

import { RaftPanic } from '../logger';

interface Inflight {
  /** The index of the last entry of the append. */
  index: number;
  /** The payload bytes of the append's entries. */
  bytes: number;
}

/** A bounded window of unacknowledged appends, oldest first. */
export class Inflights {
  // A ring buffer, grown on demand up to `size` slots since most followers never fill it.
  private buffer: Inflight[] = [];
  // The slot of the oldest append. Invariant: 0 <= start < size (0 when empty).
  private start = 0;
  // Invariant: 0 <= inFlight <= size.
  private inFlight = 0;
  // Invariant: the sum of the bytes of the appends in flight.
  private inFlightBytes = 0;

  /**
   * @param size the most appends in flight at once (etcd's MaxInflightMsgs).
   * @param maxBytes the most payload bytes in flight at once; 0 means no byte limit (etcd's MaxInflightBytes).
   */
  constructor(
    readonly size: number,
    readonly maxBytes: number,
  ) {}

  /** A copy that shares no state with this window. */
  clone(): Inflights {
    const copy = new Inflights(this.size, this.maxBytes);
    copy.buffer = this.buffer.map((e) => ({ ...e }));
    copy.start = this.start;
    copy.inFlight = this.inFlight;
    copy.inFlightBytes = this.inFlightBytes;
    return copy;
  }

  /**
   * Records an append whose last entry is `index`, carrying `bytes` of payload. Indexes must be added in
   * increasing order, and never to a full window.
   */
  add(index: number, bytes: number): void {
    if (this.full()) throw new RaftPanic('cannot add into a Full inflights');
    let slot = this.start + this.inFlight;
    if (slot >= this.size) slot -= this.size;
    if (slot >= this.buffer.length) this.grow();
    // Performance: the slot's record is reused (no reference to it escapes), sparing an allocation per append.
    const inflight = this.buffer[slot];
    inflight.index = index;
    inflight.bytes = bytes;
    this.inFlight++;
    this.inFlightBytes += bytes;
  }

  // Doubles the buffer, up to `size` slots. Slots keep their positions: the ring only wraps once the buffer has
  // reached full size, so copying the prefix is enough.
  private grow(): void {
    const target = this.buffer.length === 0 ? 1 : Math.min(this.buffer.length * 2, this.size);
    while (this.buffer.length < target) this.buffer.push({ index: 0, bytes: 0 });
  }

  /** Frees every append whose last index is at most `to`: the follower has acknowledged them. */
  freeLE(to: number): void {
    if (this.inFlight === 0 || to < this.buffer[this.start].index) return;
    let slot = this.start;
    let freed = 0;
    let freedBytes = 0;
    while (freed < this.inFlight && this.buffer[slot].index <= to) {
      freedBytes += this.buffer[slot].bytes;
      freed++;
      slot++;
      if (slot >= this.size) slot -= this.size;
    }
    this.inFlight -= freed;
    this.inFlightBytes -= freedBytes;
    // Restarting an empty window at slot 0 keeps it from growing the buffer needlessly.
    this.start = this.inFlight === 0 ? 0 : slot;
  }

  /** Whether no more appends may be sent: the message limit is reached, or the byte limit is reached or passed. */
  full(): boolean {
    return this.inFlight === this.size || (this.maxBytes !== 0 && this.inFlightBytes >= this.maxBytes);
  }

  /** The number of appends in flight. */
  count(): number {
    return this.inFlight;
  }

  /** The payload bytes in flight. */
  bytes(): number {
    return this.inFlightBytes;
  }

  /** Forgets every append in flight (the follower changed state, so their fate no longer matters). */
  reset(): void {
    this.start = 0;
    this.inFlight = 0;
    this.inFlightBytes = 0;
  }
}
