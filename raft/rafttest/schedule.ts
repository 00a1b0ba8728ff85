// # The simulator's clock
//
// Everything the simulator does happens at a simulated instant: a message arrives, a node's clock ticks, a node
// gets round to handling its Ready. Those happenings wait in one queue ordered by time. Two happenings at the same
// instant leave in the order they were scheduled, so a run depends only on its seed, never on how a heap breaks
// ties.

interface Slot<T> {
  at: number;
  seq: number;
  item: T;
}

/** A min-heap of items keyed by simulated time, first-in first-out among equal times. */
export class EventQueue<T> {
  // Invariant: heap[i] is never later than its children heap[2i+1] and heap[2i+2].
  private readonly heap: Slot<T>[] = [];
  private seq = 0;

  /** How many items wait. */
  get size(): number {
    return this.heap.length;
  }

  /** Schedules `item` at time `at`. */
  push(at: number, item: T): void {
    this.heap.push({ at, seq: this.seq++, item });
    this.siftUp(this.heap.length - 1);
  }

  /** The time of the earliest item, or undefined when the queue is empty. */
  peekTime(): number | undefined {
    return this.heap.length === 0 ? undefined : this.heap[0].at;
  }

  /** The earliest item with its time and sequence number, left in the queue. */
  peek(): { at: number; seq: number; item: T } | undefined {
    const top = this.heap[0];
    return top === undefined ? undefined : { at: top.at, seq: top.seq, item: top.item };
  }

  /**
   * Takes out the item scheduled with sequence number `seq` (its order of scheduling, which a replay of the same
   * run reproduces). Returns whether it was there.
   */
  remove(seq: number): boolean {
    const i = this.heap.findIndex((s) => s.seq === seq);
    if (i < 0) {
      return false;
    }
    this.heap.splice(i, 1);
    // An array sorted by (time, sequence) is a valid heap.
    this.heap.sort(earlier);
    return true;
  }

  /** Removes and returns the earliest item with its time. */
  pop(): { at: number; item: T } | undefined {
    const top = this.heap[0];
    if (top === undefined) {
      return undefined;
    }
    const last = this.heap.pop() as Slot<T>;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return { at: top.at, item: top.item };
  }

  /** Every waiting item in delivery order, with its sequence number (a copy; for display). */
  items(): { at: number; seq: number; item: T }[] {
    return [...this.heap].sort(earlier).map((s) => ({ at: s.at, seq: s.seq, item: s.item }));
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (earlier(h[parent], h[i]) <= 0) {
        return;
      }
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < h.length && earlier(h[l], h[min]) < 0) {
        min = l;
      }
      if (r < h.length && earlier(h[r], h[min]) < 0) {
        min = r;
      }
      if (min === i) {
        return;
      }
      [h[min], h[i]] = [h[i], h[min]];
      i = min;
    }
  }
}

function earlier<T>(a: Slot<T>, b: Slot<T>): number {
  return a.at - b.at || a.seq - b.seq;
}
