import { RecordingLogger } from '../support/recording_logger';
import fc from 'fast-check';
import { entrySize } from '../../raft/codec';
import { RaftLog, newLog } from '../../raft/log';
import { MemoryStorage, StorageError, StorageErrorCode } from '../../raft/storage';
import { Entry, Snapshot, emptyConfState, newEntry } from '../../raft/types';
import { EntryId, limitSize, noLimit } from '../../raft/util';

const ent = (index: number, term: number): Entry => newEntry({ index, term });
const id = (index: number, term: number): EntryId => ({ index, term });
const snap = (index: number, term: number): Snapshot => ({
  data: new Uint8Array(0),
  metadata: { index, term, confState: { ...emptyConfState(), voters: [1] } },
});

/** A log over storage holding `stable` (after an optional snapshot), with `unstable` appended on top. */
function makeLog(
  stable: Entry[],
  opts: { snapshot?: Snapshot; unstable?: Entry[]; maxApplying?: number } = {},
): { log: RaftLog; storage: MemoryStorage; out: RecordingLogger } {
  const storage = new MemoryStorage();
  if (opts.snapshot !== undefined) storage.applySnapshot(opts.snapshot);
  storage.append(stable);
  const out = new RecordingLogger();
  const log = newLog(storage, out, opts.maxApplying ?? noLimit);
  if (opts.unstable !== undefined) log.append(opts.unstable);
  return { log, storage, out };
}

const terms = (ents: Entry[]): Array<[number, number]> => ents.map((e) => [e.index, e.term]);

function storageCode(f: () => unknown): StorageErrorCode {
  try {
    f();
  } catch (err) {
    if (err instanceof StorageError) return err.code;
    throw err;
  }
  throw new Error('expected a StorageError');
}

describe('newLog', () => {
  it('starts committed and applied at the snapshot storage holds', () => {
    const { log } = makeLog([ent(6, 2), ent(7, 2)], { snapshot: snap(5, 2) });
    expect(log.firstIndex()).toBe(6);
    expect(log.lastIndex()).toBe(7);
    expect([log.committed, log.applying, log.applied]).toEqual([5, 5, 5]);
    expect(log.unstable.offset).toBe(8);
    expect(log.toString()).toBe(
      'committed=5, applied=5, applying=5, unstable.offset=8, unstable.offsetInProgress=8, len(unstable.Entries)=0',
    );
  });

  it('has an empty log ending at (0, 0) on empty storage', () => {
    const { log } = makeLog([]);
    expect(log.lastEntryId()).toEqual(id(0, 0));
    expect(log.lastTerm()).toBe(0);
    expect(log.allEntries()).toEqual([]);
  });
});

describe('RaftLog.findConflict', () => {
  const previous = [ent(1, 1), ent(2, 2), ent(3, 3)];
  const cases: Array<[Entry[], number]> = [
    [[], 0],
    // Everything already present.
    [[ent(1, 1), ent(2, 2), ent(3, 3)], 0],
    [[ent(2, 2), ent(3, 3)], 0],
    [[ent(3, 3)], 0],
    // New entries after matching ones.
    [[ent(1, 1), ent(2, 2), ent(3, 3), ent(4, 4), ent(5, 4)], 4],
    [[ent(3, 3), ent(4, 4), ent(5, 4)], 4],
    [[ent(4, 4), ent(5, 4)], 4],
    // Conflicts: same index, other term (AE3).
    [[ent(1, 4), ent(2, 4)], 1],
    [[ent(2, 1), ent(3, 4), ent(4, 4)], 2],
    [[ent(3, 1), ent(4, 2), ent(5, 4), ent(6, 4)], 3],
  ];
  for (const [ents, want] of cases) {
    it(`returns ${want} for ${JSON.stringify(terms(ents))}`, () => {
      const { log } = makeLog([], { unstable: previous });
      expect(log.findConflict(ents)).toBe(want);
    });
  }

  it("logs a conflict inside the log in etcd's words, but not a new entry", () => {
    const { log, out } = makeLog([], { unstable: previous });
    log.findConflict([ent(4, 4)]);
    expect(out.messages()).toEqual([]);
    log.findConflict([ent(2, 5)]);
    expect(out.messages()).toEqual(['found conflict at index 2 [existing term: 2, conflicting term: 5]']);
  });
});

describe('RaftLog.findConflictByTerm', () => {
  // Snapshot at 10 (term 3); entries 11..15 with terms 3 3 4 4 6.
  const { log } = makeLog([ent(11, 3), ent(12, 3), ent(13, 4)], {
    snapshot: snap(10, 3),
    unstable: [ent(14, 4), ent(15, 6)],
  });
  const cases: Array<[number, number, [number, number]]> = [
    [15, 6, [15, 6]],
    [15, 5, [14, 4]],
    [15, 4, [14, 4]],
    [15, 3, [12, 3]],
    // Below the snapshot nothing is known, so the first compacted index is a possible match with unknown term.
    [15, 2, [9, 0]],
    [10, 3, [10, 3]],
    [16, 9, [16, 0]],
    [0, 0, [0, 0]],
  ];
  for (const [index, term, want] of cases) {
    it(`guesses ${JSON.stringify(want)} for (${index}, ${term})`, () => {
      expect(log.findConflictByTerm(index, term)).toEqual(want);
    });
  }
});

describe('RaftLog.isUpToDate (§5.4.1)', () => {
  const { log } = makeLog([], { unstable: [ent(1, 1), ent(2, 2), ent(3, 3)] });
  const cases: Array<[EntryId, boolean]> = [
    [id(2, 4), true],
    [id(3, 4), true],
    [id(4, 4), true],
    [id(2, 2), false],
    [id(4, 2), false],
    [id(2, 3), false],
    [id(3, 3), true],
    [id(4, 3), true],
  ];
  for (const [their, want] of cases) {
    it(`says ${want} for a log ending at index ${their.index}, term ${their.term}`, () => {
      expect(log.isUpToDate(their)).toBe(want);
    });
  }
});

describe('RaftLog.maybeAppend (AE2-AE5)', () => {
  function follower(): RaftLog {
    const { log } = makeLog([], { unstable: [ent(1, 1), ent(2, 2), ent(3, 3)] });
    log.commitTo(1);
    return log;
  }
  const cases: Array<{
    name: string;
    prev: EntryId;
    ents: Entry[];
    commit: number;
    want: [number, boolean];
    committed: number;
    log?: Array<[number, number]>;
  }> = [
    {
      name: 'refuses a mismatched prev term (AE2)',
      prev: id(3, 2),
      ents: [ent(4, 4)],
      commit: 3,
      want: [0, false],
      committed: 1,
    },
    {
      name: 'refuses a prev beyond the log (AE2)',
      prev: id(4, 3),
      ents: [ent(5, 4)],
      commit: 3,
      want: [0, false],
      committed: 1,
    },
    { name: 'commits up to the leader commit', prev: id(3, 3), ents: [], commit: 3, want: [3, true], committed: 3 },
    {
      name: 'commits no further than the last new entry (AE5)',
      prev: id(3, 3),
      ents: [],
      commit: 4,
      want: [3, true],
      committed: 3,
    },
    {
      name: 'commits less when the leader says so',
      prev: id(3, 3),
      ents: [],
      commit: 2,
      want: [3, true],
      committed: 2,
    },
    { name: 'never moves the commit back', prev: id(3, 3), ents: [], commit: 0, want: [3, true], committed: 1 },
    {
      name: 'appends new entries (AE4)',
      prev: id(3, 3),
      ents: [ent(4, 4), ent(5, 4)],
      commit: 4,
      want: [5, true],
      committed: 4,
      log: [[1, 1], [2, 2], [3, 3], [4, 4], [5, 4]],
    },
    {
      name: 'skips entries already present',
      prev: id(1, 1),
      ents: [ent(2, 2)],
      commit: 3,
      want: [2, true],
      committed: 2,
      log: [[1, 1], [2, 2], [3, 3]],
    },
    {
      name: 'truncates a conflicting suffix (AE3)',
      prev: id(1, 1),
      ents: [ent(2, 4), ent(3, 4)],
      commit: 3,
      want: [3, true],
      committed: 3,
      log: [[1, 1], [2, 4], [3, 4]],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const log = follower();
      expect(log.maybeAppend({ term: 4, prev: c.prev, entries: c.ents }, c.commit)).toEqual(c.want);
      expect(log.committed).toBe(c.committed);
      if (c.log !== undefined) expect(terms(log.allEntries())).toEqual(c.log);
    });
  }

  it('panics on a conflict with a committed entry', () => {
    const log = follower();
    expect(() => log.maybeAppend({ term: 4, prev: id(0, 0), entries: [ent(1, 4)] }, 1)).toThrow(
      'entry 1 conflict with committed entry [committed(1)]',
    );
  });
});

describe('RaftLog.append', () => {
  const cases: Array<{ ents: Entry[]; last: number; log: Array<[number, number]>; offset: number }> = [
    { ents: [], last: 2, log: [[1, 1], [2, 2]], offset: 3 },
    { ents: [ent(3, 2)], last: 3, log: [[1, 1], [2, 2], [3, 2]], offset: 3 },
    // A conflict at the first index replaces everything, storage included (on its next write).
    { ents: [ent(1, 2)], last: 1, log: [[1, 2]], offset: 1 },
    { ents: [ent(2, 3), ent(3, 3)], last: 3, log: [[1, 1], [2, 3], [3, 3]], offset: 2 },
  ];
  for (const c of cases) {
    it(`appends ${JSON.stringify(terms(c.ents))} to stable [1/1 2/2]`, () => {
      const { log } = makeLog([ent(1, 1), ent(2, 2)]);
      expect(log.append(c.ents)).toBe(c.last);
      expect(terms(log.allEntries())).toEqual(c.log);
      expect(log.unstable.offset).toBe(c.offset);
    });
  }

  it('panics when asked to overwrite a committed entry', () => {
    const { log } = makeLog([ent(1, 1), ent(2, 2)]);
    log.commitTo(2);
    expect(() => log.append([ent(2, 3)])).toThrow('after(1) is out of range [committed(2)]');
  });
});

describe('RaftLog persistence hand-off', () => {
  it('hands out unstable entries once, and forgets them when they are stable', () => {
    const { log, storage } = makeLog([ent(1, 1), ent(2, 1)], { unstable: [ent(3, 2), ent(4, 2)] });
    expect(log.hasNextUnstableEnts()).toBe(true);
    const next = log.nextUnstableEnts();
    expect(terms(next)).toEqual([[3, 2], [4, 2]]);
    log.acceptUnstable();
    expect(log.hasNextUnstableEnts()).toBe(false);
    expect(log.nextUnstableEnts()).toEqual([]);
    expect(log.hasNextOrInProgressUnstableEnts()).toBe(true);
    storage.append(next);
    log.stableTo(id(4, 2));
    expect(log.hasNextOrInProgressUnstableEnts()).toBe(false);
    expect(log.unstable.offset).toBe(5);
    expect(terms(log.allEntries())).toEqual([[1, 1], [2, 1], [3, 2], [4, 2]]);
  });

  it('ignores a stale write acknowledgement after a newer leader replaced the entries', () => {
    const { log, out } = makeLog([ent(1, 1)], { unstable: [ent(2, 1)] });
    log.acceptUnstable();
    log.append([ent(2, 2)]);
    log.stableTo(id(2, 1));
    expect(log.unstable.offset).toBe(2);
    expect(log.nextUnstableEnts()).toEqual([ent(2, 2)]);
    expect(out.messages()).toContain('entry at (index,term)=(2,1) mismatched with entry at (2,2) in unstable log; ignoring');
  });
});

describe('RaftLog committed entries (A1)', () => {
  // Snapshot at 3; entry 4 stable, 5 and 6 unstable; committed 5.
  function setup(applied: number, applying: number, allowUnstable: boolean): RaftLog {
    const { log } = makeLog([ent(4, 1)], { snapshot: snap(3, 1), unstable: [ent(5, 1), ent(6, 1)] });
    log.maybeCommit(id(5, 1));
    log.appliedTo(applied, 0);
    log.acceptApplying(applying, 0, allowUnstable);
    return log;
  }
  const cases: Array<[number, number, boolean, number[]]> = [
    [3, 3, true, [4, 5]],
    [3, 4, true, [5]],
    [3, 5, true, []],
    [4, 4, true, [5]],
    [5, 5, true, []],
    [3, 3, false, [4]],
    [3, 4, false, []],
    [4, 4, false, []],
  ];
  for (const [applied, applying, allowUnstable, want] of cases) {
    it(`returns ${JSON.stringify(want)} at applied ${applied}, applying ${applying}, unstable ${allowUnstable}`, () => {
      const log = setup(applied, applying, allowUnstable);
      // acceptApplying pauses when it stopped short of the appliable index; unpause to see what is next.
      log.applyingEntsPaused = false;
      expect(log.nextCommittedEnts(allowUnstable).map((e) => e.index)).toEqual(want);
      expect(log.hasNextCommittedEnts(allowUnstable)).toBe(want.length > 0);
    });
  }

  it('returns nothing while paused', () => {
    const log = setup(3, 3, true);
    log.applyingEntsPaused = true;
    expect(log.nextCommittedEnts(true)).toEqual([]);
    expect(log.hasNextCommittedEnts(true)).toBe(false);
  });

  it('returns nothing while a snapshot is pending, which is applied first', () => {
    const log = setup(3, 3, true);
    log.restore(snap(6, 1));
    expect(log.nextCommittedEnts(true)).toEqual([]);
    expect(log.hasNextCommittedEnts(true)).toBe(false);
  });

  it('limits the entries handed out by the applying budget and pauses when it is spent', () => {
    const data = new Uint8Array(10);
    const ents = [1, 2, 3, 4].map((i) => newEntry({ index: i, term: 1, data }));
    const size = entrySize(ents[0]);
    const { log } = makeLog([], { unstable: ents, maxApplying: 2 * size });
    log.commitTo(4);
    const first = log.nextCommittedEnts(true);
    expect(first.map((e) => e.index)).toEqual([1, 2]);
    log.acceptApplying(2, 2 * size, true);
    expect(log.applyingEntsPaused).toBe(true);
    expect(log.nextCommittedEnts(true)).toEqual([]);
    log.appliedTo(1, size);
    expect(log.applyingEntsPaused).toBe(false);
    expect(log.nextCommittedEnts(true).map((e) => e.index)).toEqual([3]);
    log.acceptApplying(3, size, true);
    // Stopped short of the committed index 4: the budget cut the batch, so wait for acknowledgements.
    expect(log.applyingEntsPaused).toBe(true);
    log.appliedTo(3, 2 * size);
    expect(log.applyingEntsSize).toBe(0);
    expect(log.nextCommittedEnts(true).map((e) => e.index)).toEqual([4]);
  });

  it('pauses exactly when the budget is reached or the batch was cut', () => {
    const budget = 100;
    const cases: Array<[number, number, boolean]> = [
      [4, budget - 1, true], // index 4 < committed 5: the batch was cut
      [5, budget - 1, false],
      [5, budget, true],
      [5, budget + 1, true],
    ];
    for (const [index, size, paused] of cases) {
      const { log } = makeLog([ent(4, 1)], {
        snapshot: snap(3, 1),
        unstable: [ent(5, 1), ent(6, 1)],
        maxApplying: budget,
      });
      log.maybeCommit(id(5, 1));
      log.acceptApplying(index, size, true);
      expect(log.applyingEntsPaused).toBe(paused);
    }
  });

  it('panics on applying or applied indexes out of range', () => {
    const log = setup(3, 3, true);
    expect(() => log.acceptApplying(6, 0, true)).toThrow('applying(6) is out of range [prevApplying(3), committed(5)]');
    expect(() => log.appliedTo(6, 0)).toThrow('applied(6) is out of range [prevApplied(3), committed(5)]');
    log.appliedTo(4, 0);
    expect(() => log.appliedTo(3, 0)).toThrow('applied(3) is out of range [prevApplied(4), committed(5)]');
  });

  it('stops at stable entries unless unstable ones may be applied', () => {
    const log = setup(3, 3, true);
    expect(log.maxAppliableIndex(true)).toBe(5);
    expect(log.maxAppliableIndex(false)).toBe(4);
  });
});

describe('RaftLog.commitTo and maybeCommit', () => {
  it('never moves the commit index back and panics past the last index', () => {
    const { log } = makeLog([], { unstable: [ent(1, 1), ent(2, 2), ent(3, 3)] });
    log.commitTo(3);
    log.commitTo(2);
    expect(log.committed).toBe(3);
    expect(() => log.commitTo(4)).toThrow(
      'tocommit(4) is out of range [lastIndex(3)]. Was the raft log corrupted, truncated, or lost?',
    );
  });

  it('commits only an entry of the given term (§5.4.2), never for term 0', () => {
    const { log } = makeLog([], { unstable: [ent(1, 1), ent(2, 2), ent(3, 2)] });
    expect(log.maybeCommit(id(3, 1))).toBe(false);
    expect(log.maybeCommit(id(4, 2))).toBe(false);
    expect(log.maybeCommit(id(1, 0))).toBe(false);
    expect(log.committed).toBe(0);
    expect(log.maybeCommit(id(2, 2))).toBe(true);
    expect(log.committed).toBe(2);
    expect(log.maybeCommit(id(2, 2))).toBe(false);
    expect(log.maybeCommit(id(1, 1))).toBe(false);
    expect(log.committed).toBe(2);
  });
});

describe('RaftLog after compaction (§7)', () => {
  function compacted(): RaftLog {
    const { log, storage } = makeLog([1, 2, 3, 4, 5, 6].map((i) => ent(i, i)));
    storage.compact(4);
    return newLog(storage, log.logger);
  }

  it('keeps the term at the compaction point and refuses older indexes', () => {
    const log = compacted();
    expect(log.firstIndex()).toBe(5);
    expect(log.term(4)).toBe(4);
    expect(storageCode(() => log.term(3))).toBe('Compacted');
    expect(storageCode(() => log.term(7))).toBe('Unavailable');
    expect(log.zeroTermOnOutOfBounds(3)).toBe(0);
    expect(log.zeroTermOnOutOfBounds(7)).toBe(0);
    expect(log.zeroTermOnOutOfBounds(6)).toBe(6);
    expect(log.matchTerm(id(4, 4))).toBe(true);
    expect(log.matchTerm(id(3, 3))).toBe(false);
  });

  it('refuses to read compacted entries and panics past the end', () => {
    const log = compacted();
    expect(storageCode(() => log.entries(4, noLimit))).toBe('Compacted');
    expect(storageCode(() => log.slice(4, 6, noLimit))).toBe('Compacted');
    expect(terms(log.entries(5, noLimit))).toEqual([[5, 5], [6, 6]]);
    expect(log.entries(7, noLimit)).toEqual([]);
    expect(() => log.slice(5, 8, noLimit)).toThrow('slice[5,8) out of bound [5,6]');
    expect(() => log.slice(6, 5, noLimit)).toThrow('invalid slice 6 > 5');
  });
});

describe('RaftLog.restore', () => {
  it("replaces the log with the snapshot, logging etcd's line", () => {
    const { log, out } = makeLog([ent(1, 1), ent(2, 1)]);
    log.commitTo(2);
    log.appliedTo(2, 0);
    log.restore(snap(11, 3));
    expect(out.messages()).toEqual([
      'log [committed=2, applied=2, applying=2, unstable.offset=3, unstable.offsetInProgress=3, ' +
        'len(unstable.Entries)=0] starts to restore snapshot [index: 11, term: 3]',
    ]);
    expect(log.committed).toBe(11);
    expect(log.firstIndex()).toBe(12);
    expect(log.lastEntryId()).toEqual(id(11, 3));
    expect(log.snapshot().metadata.index).toBe(11);
    expect(log.hasNextUnstableSnapshot()).toBe(true);
    expect(log.nextUnstableSnapshot()?.metadata.index).toBe(11);
    log.acceptUnstable();
    expect(log.hasNextUnstableSnapshot()).toBe(false);
    expect(log.hasNextOrInProgressSnapshot()).toBe(true);
    log.stableSnapTo(11);
    expect(log.hasNextOrInProgressSnapshot()).toBe(false);
  });
});

describe('RaftLog.scan', () => {
  const data = new Uint8Array(10);
  const ents = [1, 2, 3, 4, 5, 6, 7].map((i) => newEntry({ index: i, term: 1, data }));
  const size = entrySize(ents[0]);

  it('visits every entry once, in pages within the page size', () => {
    const { log } = makeLog(ents.slice(0, 3), { unstable: ents.slice(3) });
    const pages: number[][] = [];
    expect(
      log.scan(2, 7, 2 * size, (page) => {
        pages.push(page.map((e) => e.index));
        return true;
      }),
    ).toBe(true);
    expect(pages).toEqual([[2, 3], [4, 5], [6]]);
  });

  it('returns at least one entry per page even with a tiny page size', () => {
    const { log } = makeLog(ents);
    const pages: number[][] = [];
    log.scan(1, 4, 0, (page) => {
      pages.push(page.map((e) => e.index));
      return true;
    });
    expect(pages).toEqual([[1], [2], [3]]);
  });

  it('stops when the visitor says so', () => {
    const { log } = makeLog(ents);
    let calls = 0;
    expect(
      log.scan(1, 8, size, () => {
        calls++;
        return calls < 2;
      }),
    ).toBe(false);
    expect(calls).toBe(2);
  });
});

describe('RaftLog.slice across storage and the unstable tail', () => {
  // Snapshot at 10; entries 11..14 stable, 15..19 unstable; each entry has a payload of its own size.
  const all = Array.from({ length: 9 }, (_, i) => newEntry({ index: 11 + i, term: 2, data: new Uint8Array(i * 3) }));
  const { log } = makeLog(all.slice(0, 4), { snapshot: snap(10, 2), unstable: all.slice(4) });

  it('returns the same as limiting the whole range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 11, max: 20 }), fc.integer({ min: 0, max: 9 }), fc.nat(150), (lo, n, max) => {
        const hi = Math.min(20, lo + n);
        const want = lo === hi ? [] : limitSize(all.slice(lo - 11, hi - 11), max);
        expect(log.slice(lo, hi, max)).toEqual(want);
      }),
    );
  });
});

// ## Log Matching (§5.3) under random AppendEntries
//
// A leader's log uses even terms; a follower starts with a prefix of it followed by a divergent suffix in odd terms
// (from some deposed leader). Any (index, term) pair the two share is therefore in the common prefix, as Log
// Matching demands. Whatever slices of the leader's log arrive, the follower must accept exactly those whose prev
// entry it holds, then agree with the leader up to the end of the slice, and never commit a divergent entry.
describe('RaftLog keeps Log Matching under random appends', () => {
  const scenario = fc.record({
    leaderTerms: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 12 }),
    shared: fc.nat(12),
    divergent: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 6 }).map((ds) => ds.sort((a, b) => a - b)),
    appends: fc.array(fc.record({ prev: fc.nat(12), len: fc.nat(5), commit: fc.nat(12) }), { maxLength: 12 }),
  });

  it('accepts exactly the matching appends and converges on the leader', () => {
    fc.assert(
      fc.property(scenario, ({ leaderTerms, shared, divergent, appends }) => {
        // Non-decreasing even terms for the leader.
        let t = 0;
        const leader = leaderTerms.map((step, i) => ent(i + 1, (t += 2 * (step - 1)) + 2));
        const k = Math.min(shared, leader.length);
        const base = k === 0 ? 1 : leader[k - 1].term + 1;
        const followerEnts = [...leader.slice(0, k), ...divergent.map((d, i) => ent(k + 1 + i, base + 2 * d))];
        const { log } = makeLog([], { unstable: followerEnts });
        log.commitTo(Math.min(k, log.lastIndex()));

        for (const a of appends) {
          const p = a.prev % (leader.length + 1);
          const q = Math.min(leader.length, p + a.len);
          const prev = p === 0 ? id(0, 0) : id(p, leader[p - 1].term);
          const before = terms(log.allEntries());
          const holdsPrev = log.matchTerm(prev);
          const [last, ok] = log.maybeAppend({ term: 100, prev, entries: leader.slice(p, q) }, a.commit);
          expect(ok).toBe(holdsPrev);
          if (!ok) {
            expect(terms(log.allEntries())).toEqual(before);
            continue;
          }
          expect(last).toBe(q);
          for (let i = 1; i <= q; i++) expect(log.term(i)).toBe(leader[i - 1].term);
          // Every committed entry is the leader's.
          for (let i = 1; i <= log.committed; i++) expect(log.term(i)).toBe(leader[i - 1].term);
          expect(log.committed).toBeLessThanOrEqual(log.lastIndex());
        }
      }),
      { numRuns: 300 },
    );
  });
});
