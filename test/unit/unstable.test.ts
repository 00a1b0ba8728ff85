import { RecordingLogger } from '../support/recording_logger';
import fc from 'fast-check';
import { Unstable } from '../../raft/log_unstable';
import { Entry, Snapshot, emptyConfState, newEntry } from '../../raft/types';

const ent = (index: number, term: number): Entry => newEntry({ index, term });
const snap = (index: number, term: number): Snapshot => ({
  data: new Uint8Array(0),
  metadata: { index, term, confState: emptyConfState() },
});

/** An unstable tail with the given offset, entries (index offset..), snapshot and in-progress marks. */
function unstable(
  offset: number,
  terms: number[],
  opts: { snapshot?: Snapshot; offsetInProgress?: number; snapshotInProgress?: boolean } = {},
): { u: Unstable; log: RecordingLogger } {
  const log = new RecordingLogger();
  const u = new Unstable(offset, log);
  u.entries = terms.map((t, i) => ent(offset + i, t));
  u.snapshot = opts.snapshot ?? null;
  u.offsetInProgress = opts.offsetInProgress ?? offset;
  u.snapshotInProgress = opts.snapshotInProgress ?? false;
  return { u, log };
}

describe('Unstable indexes and terms', () => {
  it('knows a first index only through a snapshot', () => {
    expect(unstable(5, [1]).u.maybeFirstIndex()).toBeUndefined();
    expect(unstable(0, []).u.maybeFirstIndex()).toBeUndefined();
    expect(unstable(5, [1], { snapshot: snap(4, 1) }).u.maybeFirstIndex()).toBe(5);
    expect(unstable(5, [], { snapshot: snap(4, 1) }).u.maybeFirstIndex()).toBe(5);
  });

  it('knows a last index through entries, else through a snapshot', () => {
    expect(unstable(5, [1]).u.maybeLastIndex()).toBe(5);
    expect(unstable(5, [1], { snapshot: snap(4, 1) }).u.maybeLastIndex()).toBe(5);
    expect(unstable(5, [], { snapshot: snap(4, 1) }).u.maybeLastIndex()).toBe(4);
    expect(unstable(0, []).u.maybeLastIndex()).toBeUndefined();
  });

  it('knows the terms of its entries and of its snapshot, nothing else', () => {
    const { u } = unstable(5, [1, 2], { snapshot: snap(4, 1) });
    expect(u.maybeTerm(3)).toBeUndefined();
    expect(u.maybeTerm(4)).toBe(1);
    expect(u.maybeTerm(5)).toBe(1);
    expect(u.maybeTerm(6)).toBe(2);
    expect(u.maybeTerm(7)).toBeUndefined();
    const bare = unstable(5, [1]).u;
    expect(bare.maybeTerm(4)).toBeUndefined();
    expect(bare.maybeTerm(5)).toBe(1);
    expect(unstable(5, []).u.maybeTerm(5)).toBeUndefined();
  });
});

describe('Unstable hand-off for persisting', () => {
  it('returns only entries not yet in progress', () => {
    expect(unstable(5, [1, 1]).u.nextEntries()).toEqual([ent(5, 1), ent(6, 1)]);
    expect(unstable(5, [1, 1], { offsetInProgress: 6 }).u.nextEntries()).toEqual([ent(6, 1)]);
    expect(unstable(5, [1, 1], { offsetInProgress: 7 }).u.nextEntries()).toEqual([]);
  });

  it('returns the snapshot only until it is in progress', () => {
    expect(unstable(5, []).u.nextSnapshot()).toBeNull();
    expect(unstable(5, [], { snapshot: snap(4, 1) }).u.nextSnapshot()).toEqual(snap(4, 1));
    expect(unstable(5, [], { snapshot: snap(4, 1), snapshotInProgress: true }).u.nextSnapshot()).toBeNull();
  });

  it('marks everything present as in progress, and only that', () => {
    const { u } = unstable(5, [1, 1], { snapshot: snap(4, 1) });
    u.acceptInProgress();
    expect(u.offsetInProgress).toBe(7);
    expect(u.snapshotInProgress).toBe(true);
    expect(u.nextEntries()).toEqual([]);
    u.truncateAndAppend([ent(7, 1)]);
    expect(u.nextEntries()).toEqual([ent(7, 1)]);
    const empty = unstable(5, []).u;
    empty.acceptInProgress();
    expect(empty.offsetInProgress).toBe(5);
    expect(empty.snapshotInProgress).toBe(false);
  });
});

describe('Unstable.stableTo', () => {
  it('drops entries up to a matching ID and moves the offsets', () => {
    const { u } = unstable(5, [1, 1, 2], { offsetInProgress: 7 });
    u.stableTo({ index: 5, term: 1 });
    expect(u.offset).toBe(6);
    expect(u.entries).toEqual([ent(6, 1), ent(7, 2)]);
    expect(u.offsetInProgress).toBe(7);
    u.stableTo({ index: 7, term: 2 });
    expect(u.offset).toBe(8);
    expect(u.offsetInProgress).toBe(8);
    expect(u.entries).toEqual([]);
  });

  it('ignores, and says so, an index it does not hold', () => {
    const { u, log } = unstable(5, [1]);
    u.stableTo({ index: 15, term: 1 });
    expect(u.entries).toHaveLength(1);
    expect(log.messages()).toEqual(['entry at index 15 missing from unstable log; ignoring']);
  });

  it('ignores an index that is only its snapshot', () => {
    const { u, log } = unstable(5, [1], { snapshot: snap(4, 1) });
    u.stableTo({ index: 4, term: 1 });
    expect(u.offset).toBe(5);
    expect(log.messages()).toEqual(['entry at index 4 matched unstable snapshot; ignoring']);
  });

  it('ignores a write of entries that a newer leader has replaced since', () => {
    const { u, log } = unstable(11, [1, 3]);
    u.stableTo({ index: 12, term: 2 });
    expect(u.offset).toBe(11);
    expect(u.entries).toHaveLength(2);
    expect(log.messages()).toEqual([
      'entry at (index,term)=(12,2) mismatched with entry at (12,3) in unstable log; ignoring',
    ]);
  });

  it('drops the snapshot once it is stable at its own index only', () => {
    const { u } = unstable(5, [], { snapshot: snap(4, 1), snapshotInProgress: true });
    u.stableSnapTo(3);
    expect(u.snapshot).not.toBeNull();
    u.stableSnapTo(4);
    expect(u.snapshot).toBeNull();
    expect(u.snapshotInProgress).toBe(false);
  });
});

describe('Unstable.restore', () => {
  it('replaces everything with the snapshot', () => {
    const { u } = unstable(5, [1, 1], { snapshot: snap(4, 1), offsetInProgress: 6, snapshotInProgress: true });
    u.restore(snap(6, 2));
    expect(u.offset).toBe(7);
    expect(u.offsetInProgress).toBe(7);
    expect(u.entries).toEqual([]);
    expect(u.snapshot).toEqual(snap(6, 2));
    expect(u.snapshotInProgress).toBe(false);
  });
});

describe('Unstable.truncateAndAppend', () => {
  it('appends right after the last entry, keeping what is in progress', () => {
    const { u, log } = unstable(5, [1], { offsetInProgress: 6 });
    u.truncateAndAppend([ent(6, 1), ent(7, 1)]);
    expect(u.entries).toEqual([ent(5, 1), ent(6, 1), ent(7, 1)]);
    expect(u.offsetInProgress).toBe(6);
    expect(log.messages()).toEqual([]);
  });

  it('replaces the whole tail from an index at or below the offset', () => {
    const { u, log } = unstable(5, [1], { offsetInProgress: 6 });
    u.truncateAndAppend([ent(4, 2), ent(5, 2)]);
    expect(u.offset).toBe(4);
    expect(u.entries).toEqual([ent(4, 2), ent(5, 2)]);
    expect(u.offsetInProgress).toBe(4);
    expect(log.messages()).toEqual(['replace the unstable entries from index 4']);
  });

  it('truncates inside the tail, keeping in progress only what precedes the cut', () => {
    const { u, log } = unstable(5, [1, 1, 1], { offsetInProgress: 8 });
    u.truncateAndAppend([ent(6, 2)]);
    expect(u.entries).toEqual([ent(5, 1), ent(6, 2)]);
    expect(u.offsetInProgress).toBe(6);
    expect(log.messages()).toEqual(['truncate the unstable entries before index 6']);
  });

  it('does not keep a reference to the caller array', () => {
    const { u } = unstable(5, []);
    const ents = [ent(5, 1)];
    u.truncateAndAppend(ents);
    ents.push(ent(6, 1));
    expect(u.entries).toHaveLength(1);
  });
});

describe('Unstable.slice', () => {
  it('returns a copy of a range it holds', () => {
    const { u } = unstable(5, [1, 2, 3]);
    const got = u.slice(6, 8);
    expect(got).toEqual([ent(6, 2), ent(7, 3)]);
    got.push(ent(9, 9));
    expect(u.entries).toHaveLength(3);
    expect(u.slice(5, 5)).toEqual([]);
  });

  it("panics on a range outside it, with etcd's messages", () => {
    const { u } = unstable(5, [1, 2, 3]);
    expect(() => u.slice(4, 6)).toThrow('unstable.slice[4,6) out of bound [5,8]');
    expect(() => u.slice(6, 9)).toThrow('unstable.slice[6,9) out of bound [5,8]');
    expect(() => u.slice(7, 6)).toThrow('invalid unstable.slice 7 > 6');
  });
});

// ## The unstable tail against a model
//
// The model keeps the tail as a map from index to term plus two boundaries, and applies each operation by its
// definition. After every step the two must agree, and the invariants must hold.

interface Model {
  terms: Map<number, number>;
  offset: number;
  inProgress: number;
  snapshot: { index: number; term: number } | null;
  snapshotInProgress: boolean;
}

type Op =
  | { kind: 'append'; from: number; count: number; term: number }
  | { kind: 'stable'; at: number; matching: boolean }
  | { kind: 'accept' }
  | { kind: 'restore'; ahead: number; term: number }
  | { kind: 'stableSnap'; exact: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('append' as const),
    from: fc.nat(20),
    count: fc.integer({ min: 1, max: 4 }),
    term: fc.integer({ min: 1, max: 5 }),
  }),
  fc.record({ kind: fc.constant('stable' as const), at: fc.nat(20), matching: fc.boolean() }),
  fc.record({ kind: fc.constant('accept' as const) }),
  fc.record({ kind: fc.constant('restore' as const), ahead: fc.nat(4), term: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('stableSnap' as const), exact: fc.boolean() }),
);

function modelLast(m: Model): number {
  return m.offset + m.terms.size - 1;
}

function apply(u: Unstable, m: Model, op: Op): void {
  switch (op.kind) {
    case 'append': {
      // Any start from just after the snapshot (or a few before the offset) up to right after the last entry.
      const low = m.snapshot !== null ? m.snapshot.index + 1 : Math.max(1, m.offset - 3);
      const from = low + (op.from % (modelLast(m) + 2 - low));
      const ents = Array.from({ length: op.count }, (_, i) => ent(from + i, op.term));
      u.truncateAndAppend(ents);
      for (const i of [...m.terms.keys()]) if (i >= from) m.terms.delete(i);
      if (from < m.offset) m.offset = from;
      for (const e of ents) m.terms.set(e.index, e.term);
      m.inProgress = Math.max(m.offset, Math.min(m.inProgress, from));
      return;
    }
    case 'stable': {
      const index = m.offset - 2 + (op.at % (m.terms.size + 4));
      const known = m.terms.get(index);
      const term = op.matching && known !== undefined ? known : 1 + (op.at % 5);
      u.stableTo({ index, term });
      if (known !== undefined && known === term) {
        for (const i of [...m.terms.keys()]) if (i <= index) m.terms.delete(i);
        m.offset = index + 1;
        m.inProgress = Math.max(m.inProgress, m.offset);
      }
      return;
    }
    case 'accept':
      u.acceptInProgress();
      if (m.terms.size > 0) m.inProgress = modelLast(m) + 1;
      if (m.snapshot !== null) m.snapshotInProgress = true;
      return;
    case 'restore': {
      const index = modelLast(m) + op.ahead;
      u.restore(snap(index, op.term));
      m.terms.clear();
      m.offset = index + 1;
      m.inProgress = m.offset;
      m.snapshot = { index, term: op.term };
      m.snapshotInProgress = false;
      return;
    }
    case 'stableSnap': {
      const index = m.snapshot !== null && op.exact ? m.snapshot.index : m.offset + 7;
      u.stableSnapTo(index);
      if (m.snapshot !== null && m.snapshot.index === index) {
        m.snapshot = null;
        m.snapshotInProgress = false;
      }
      return;
    }
  }
}

function check(u: Unstable, m: Model): void {
  expect(u.offset).toBe(m.offset);
  expect(u.offsetInProgress).toBe(m.inProgress);
  // Invariant: offset <= offsetInProgress <= offset + entries.length.
  expect(u.offsetInProgress).toBeGreaterThanOrEqual(u.offset);
  expect(u.offsetInProgress).toBeLessThanOrEqual(u.offset + u.entries.length);
  // Entries stay contiguous from the offset.
  u.entries.forEach((e, i) => expect(e.index).toBe(u.offset + i));
  expect(u.entries.map((e) => e.term)).toEqual([...m.terms.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t));
  expect(u.snapshot === null ? null : { index: u.snapshot.metadata.index, term: u.snapshot.metadata.term }).toEqual(
    m.snapshot,
  );
  expect(u.snapshotInProgress).toBe(m.snapshotInProgress);
  const pending = [...m.terms.keys()].filter((i) => i >= m.inProgress).sort((a, b) => a - b);
  expect(u.nextEntries().map((e) => e.index)).toEqual(pending);
  for (let i = m.offset - 3; i <= m.offset + m.terms.size + 1; i++) {
    const want = m.terms.get(i) ?? (m.snapshot !== null && m.snapshot.index === i ? m.snapshot.term : undefined);
    expect(u.maybeTerm(i)).toBe(want);
  }
}

describe('Unstable against a model', () => {
  it('agrees after any sequence of appends, stabilisations, hand-offs and restores', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.array(opArb, { maxLength: 40 }), (offset, ops) => {
        const u = new Unstable(offset, new RecordingLogger());
        const m: Model = { terms: new Map(), offset, inProgress: offset, snapshot: null, snapshotInProgress: false };
        check(u, m);
        for (const op of ops) {
          apply(u, m, op);
          check(u, m);
        }
      }),
      { numRuns: 300 },
    );
  });
});
