// The simulated network: partitions cut messages both when sent and in flight, reliable links keep order, faults
// follow the seed, and every delivered copy is a fresh object.

import { Network, NetworkFaults, reliableFaults } from '../../raft/rafttest/network';
import { EventQueue } from '../../raft/rafttest/schedule';
import { Trace } from '../../raft/rafttest/trace';
import { SeededRand } from '../../raft/rand';
import { MessageType, newEntry, newMessage } from '../../raft/types';

const app = (from: number, to: number, index: number) =>
  newMessage({
    type: MessageType.MsgApp,
    from,
    to,
    term: 1,
    index,
    entries: [newEntry({ term: 1, index: index + 1 })],
  });

function drain(n: Network, until = 10_000): { at: number; index: number; cut: boolean }[] {
  const out: { at: number; index: number; cut: boolean }[] = [];
  for (let t = n.nextArrival(); t !== undefined && t <= until; t = n.nextArrival()) {
    const a = n.arrive(t);
    if (a !== undefined) {
      out.push({ at: t, index: a.message.index, cut: a.cut });
    }
  }
  return out;
}

test('a reliable link delivers everything, in order', () => {
  const n = new Network(new SeededRand(1), reliableFaults());
  for (let i = 0; i < 100; i++) {
    expect(n.send(app(1, 2, i), i % 3)).toBe(1);
  }
  const got = drain(n);
  expect(got.map((g) => g.index)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  expect(n.stats.delivered).toBe(100);
});

test('partitions cut at sending and in flight; healing restores delivery', () => {
  const n = new Network(new SeededRand(2));
  n.send(app(1, 2, 1), 0);
  n.partition([[1], [2, 3]]);
  expect(n.connected(2, 3)).toBe(true);
  expect(n.connected(1, 2)).toBe(false);
  expect(n.send(app(1, 2, 2), 0)).toBe(0);
  expect(drain(n)).toEqual([expect.objectContaining({ index: 1, cut: true })]);
  n.heal();
  n.isolate(3);
  expect(n.connected(1, 2)).toBe(true);
  expect(n.connected(1, 3)).toBe(false);
  n.rejoin(3);
  expect(n.connected(1, 3)).toBe(true);
  expect(n.stats.cut).toBe(2);
  expect(n.describePartition([1, 2, 3])).toBe('{1 2 3}');
});

test('drops, duplicates and reordering follow the seed exactly', () => {
  const faults: NetworkFaults = {
    dropRate: 0.2,
    duplicateRate: 0.1,
    minDelay: 1,
    maxDelay: 20,
    longDelayRate: 0.1,
    longDelay: 100,
    fifo: false,
  };
  const run = (seed: number) => {
    const n = new Network(new SeededRand(seed), { ...faults });
    for (let i = 0; i < 500; i++) {
      n.send(app(1, 2, i), i);
    }
    return { got: drain(n), stats: n.stats };
  };
  const a = run(7);
  expect(run(7)).toEqual(a);
  expect(run(8).got).not.toEqual(a.got);
  expect(a.stats.dropped).toBeGreaterThan(50);
  expect(a.stats.duplicated).toBeGreaterThan(10);
  const order = a.got.map((g) => g.index);
  expect(order).not.toEqual([...order].sort((x, y) => x - y));
});

test('each delivered copy is a fresh message, untouched by what the sender or the receiver does', () => {
  const n = new Network(new SeededRand(3), { ...reliableFaults(), duplicateRate: 1 });
  const m = app(1, 2, 5);
  expect(n.send(m, 0)).toBe(2);
  m.entries[0].index = 99;
  const first = n.arrive(100);
  const second = n.arrive(100);
  expect(first?.message.entries[0].index).toBe(6);
  if (first !== undefined) {
    first.message.entries[0].index = 42;
  }
  expect(second?.message.entries[0].index).toBe(6);
});

test('the event queue is ordered by time, first in first out among equal times', () => {
  const q = new EventQueue<string>();
  q.push(5, 'c');
  q.push(1, 'a');
  q.push(5, 'd');
  q.push(3, 'b');
  expect(q.items().map((x) => x.item)).toEqual(['a', 'b', 'c', 'd']);
  const out: string[] = [];
  for (let e = q.pop(); e !== undefined; e = q.pop()) {
    out.push(e.item);
  }
  expect(out).toEqual(['a', 'b', 'c', 'd']);
  expect(q.peekTime()).toBeUndefined();
});

test('messages in flight can be listed, earliest first, for display', () => {
  const n = new Network(new SeededRand(4), reliableFaults());
  n.send(app(1, 2, 1), 10);
  n.send(app(2, 3, 2), 0);
  expect(n.inFlightCount).toBe(2);
  const listed = n.inFlight();
  expect(listed.map((f) => f.message.index)).toEqual([2, 1]);
  expect(listed[0].at).toBeLessThanOrEqual(listed[1].at);
  expect(n.inFlightCount).toBe(2);
});

test('a bounded trace keeps the latest lines, each stamped with its time', () => {
  const t = new Trace(3);
  for (let i = 1; i <= 5; i++) {
    t.add(i * 10, `event ${i}`);
  }
  expect(t.length).toBe(5);
  expect(t.lines()).toEqual(['    30ms event 3', '    40ms event 4', '    50ms event 5']);
  expect(t.tail(2)).toBe('    40ms event 4\n    50ms event 5');
  const all = new Trace();
  all.add(1, 'a');
  all.add(2, 'b');
  expect(all.toString()).toBe('     1ms a\n     2ms b');
});
