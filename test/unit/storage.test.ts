import { RaftPanic } from '../../raft/logger';
import { MemoryStorage, StorageError, StorageErrorCode } from '../../raft/storage';
import { ConfState, Entry, Snapshot, emptyConfState, newEntry } from '../../raft/types';
import { entsSize, noLimit } from '../../raft/util';

const ent = (index: number, term: number): Entry => newEntry({ index, term });

/** Storage whose marker is (3, 3) and whose entries are 4 (term 4) and 5 (term 5), as after compacting to 3. */
function storage345(): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot(snap(3, 3));
  s.append([ent(4, 4), ent(5, 5)]);
  return s;
}

function snap(index: number, term: number, cs: ConfState = { ...emptyConfState(), voters: [1, 2, 3] }): Snapshot {
  return { data: new Uint8Array([7]), metadata: { index, term, confState: cs } };
}

function storageCode(f: () => unknown): StorageErrorCode {
  try {
    f();
  } catch (err) {
    if (err instanceof StorageError) return err.code;
    throw err;
  }
  throw new Error('expected a StorageError');
}

describe('StorageError', () => {
  it("carries etcd's messages", () => {
    expect(new StorageError('Compacted').message).toBe('requested index is unavailable due to compaction');
    expect(new StorageError('SnapOutOfDate').message).toBe('requested index is older than the existing snapshot');
    expect(new StorageError('Unavailable').message).toBe('requested entry at index is unavailable');
    expect(new StorageError('SnapshotTemporarilyUnavailable').message).toBe('snapshot is temporarily unavailable');
  });
});

describe('MemoryStorage', () => {
  it('starts empty: first index 1, last index 0, term 0 at index 0', () => {
    const s = new MemoryStorage();
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(0);
    expect(s.term(0)).toBe(0);
    expect(storageCode(() => s.term(1))).toBe('Unavailable');
    expect(storageCode(() => s.entries(1, 1, noLimit))).toBe('Unavailable');
    expect(s.initialState().hardState).toEqual({ term: 0, vote: 0, commit: 0 });
    expect(s.snapshot().metadata.index).toBe(0);
  });

  it('keeps the term of the compacted marker but refuses anything older', () => {
    const s = storage345();
    expect(storageCode(() => s.term(2))).toBe('Compacted');
    expect(s.term(3)).toBe(3);
    expect(s.term(4)).toBe(4);
    expect(s.term(5)).toBe(5);
    expect(storageCode(() => s.term(6))).toBe('Unavailable');
  });

  it('returns entries in [lo, hi), never the marker, at least one whatever the size limit', () => {
    const s = storage345();
    s.append([ent(6, 6)]);
    expect(storageCode(() => s.entries(2, 6, noLimit))).toBe('Compacted');
    expect(storageCode(() => s.entries(3, 4, noLimit))).toBe('Compacted');
    expect(s.entries(4, 5, noLimit)).toEqual([ent(4, 4)]);
    expect(s.entries(4, 7, noLimit)).toEqual([ent(4, 4), ent(5, 5), ent(6, 6)]);
    expect(s.entries(4, 7, 0)).toEqual([ent(4, 4)]);
    const two = entsSize([ent(4, 4), ent(5, 5)]);
    expect(s.entries(4, 7, two)).toEqual([ent(4, 4), ent(5, 5)]);
    expect(s.entries(4, 7, two + 5)).toEqual([ent(4, 4), ent(5, 5)]);
    expect(s.entries(4, 7, two - 1)).toEqual([ent(4, 4)]);
    expect(() => s.entries(4, 8, noLimit)).toThrow(RaftPanic);
    expect(s.entries(5, 5, noLimit)).toEqual([]);
    expect(s.entries(7, 7, noLimit)).toEqual([]);
    expect(() => s.entries(6, 5, noLimit)).toThrow(RaftPanic);
  });

  it('hands out arrays the caller may change without disturbing storage', () => {
    const s = storage345();
    const got = s.entries(4, 6, noLimit);
    got.push(ent(99, 99));
    got[0] = ent(42, 42);
    expect(s.entries(4, 6, noLimit)).toEqual([ent(4, 4), ent(5, 5)]);
  });

  it('reports first and last index around the marker', () => {
    const s = storage345();
    expect(s.firstIndex()).toBe(4);
    expect(s.lastIndex()).toBe(5);
    s.append([ent(6, 5)]);
    expect(s.lastIndex()).toBe(6);
    s.compact(4);
    expect(s.firstIndex()).toBe(5);
  });

  it('compacts up to an index, which becomes the marker', () => {
    const s = storage345();
    expect(storageCode(() => s.compact(2))).toBe('Compacted');
    expect(storageCode(() => s.compact(3))).toBe('Compacted');
    s.compact(4);
    expect(s.firstIndex()).toBe(5);
    expect(s.term(4)).toBe(4);
    expect(storageCode(() => s.term(3))).toBe('Compacted');
    s.compact(5);
    expect(s.firstIndex()).toBe(6);
    expect(s.lastIndex()).toBe(5);
    expect(() => s.compact(6)).toThrow(RaftPanic);
  });

  it('does not change entries handed out before a compaction or truncation', () => {
    const s = storage345();
    const before = s.entries(4, 6, noLimit);
    s.compact(4);
    s.append([ent(5, 9)]);
    expect(before).toEqual([ent(4, 4), ent(5, 5)]);
    expect(s.entries(5, 6, noLimit)).toEqual([ent(5, 9)]);
  });

  it('creates snapshots only past the current one and within the log', () => {
    const s = storage345();
    const cs: ConfState = { ...emptyConfState(), voters: [1, 2, 3] };
    const data = new Uint8Array([1, 2]);
    expect(storageCode(() => s.createSnapshot(3, cs, data))).toBe('SnapOutOfDate');
    const made = s.createSnapshot(4, cs, data);
    expect(made.metadata).toEqual({ index: 4, term: 4, confState: cs });
    expect(made.data).toEqual(data);
    expect(s.snapshot()).toEqual(made);
    // The log is not compacted by creating a snapshot.
    expect(s.firstIndex()).toBe(4);
    const again = s.createSnapshot(5, null, data);
    expect(again.metadata.confState).toEqual(cs);
    expect(again.metadata.term).toBe(5);
    expect(() => s.createSnapshot(6, cs, data)).toThrow(RaftPanic);
  });

  it('copies the membership given to createSnapshot', () => {
    const s = storage345();
    const cs: ConfState = { ...emptyConfState(), voters: [1] };
    s.createSnapshot(5, cs, new Uint8Array(0));
    cs.voters.push(2);
    expect(s.snapshot().metadata.confState.voters).toEqual([1]);
  });

  it('applies only newer snapshots, replacing the whole log', () => {
    const s = new MemoryStorage();
    s.applySnapshot(snap(4, 4));
    expect(s.firstIndex()).toBe(5);
    expect(s.lastIndex()).toBe(4);
    expect(s.term(4)).toBe(4);
    expect(s.initialState().confState.voters).toEqual([1, 2, 3]);
    expect(storageCode(() => s.applySnapshot(snap(3, 3)))).toBe('SnapOutOfDate');
    expect(storageCode(() => s.applySnapshot(snap(4, 4)))).toBe('SnapOutOfDate');
    s.append([ent(5, 4), ent(6, 4), ent(7, 5)]);
    s.applySnapshot(snap(6, 5));
    expect(s.firstIndex()).toBe(7);
    expect(s.lastIndex()).toBe(6);
    expect(s.term(6)).toBe(5);
  });

  describe('append', () => {
    const cases: Array<{ name: string; append: Entry[]; want: Entry[] }> = [
      { name: 'the same entries again', append: [ent(4, 4), ent(5, 5)], want: [ent(4, 4), ent(5, 5)] },
      { name: 'a conflict at the first entry', append: [ent(4, 6), ent(5, 6)], want: [ent(4, 6), ent(5, 6)] },
      {
        name: 'a conflict in the middle, truncating the suffix',
        append: [ent(5, 6)],
        want: [ent(4, 4), ent(5, 6)],
      },
      {
        name: 'a longer run with the same prefix',
        append: [ent(4, 4), ent(5, 5), ent(6, 5)],
        want: [ent(4, 4), ent(5, 5), ent(6, 5)],
      },
      {
        name: 'entries partly compacted away',
        append: [ent(2, 3), ent(3, 3), ent(4, 5)],
        want: [ent(4, 5)],
      },
      { name: 'entries wholly compacted away', append: [ent(2, 3), ent(3, 3)], want: [ent(4, 4), ent(5, 5)] },
      { name: 'entries right after the last', append: [ent(6, 5)], want: [ent(4, 4), ent(5, 5), ent(6, 5)] },
    ];
    for (const c of cases) {
      it(`handles ${c.name}`, () => {
        const s = storage345();
        s.append(c.append);
        expect(s.entries(s.firstIndex(), s.lastIndex() + 1, noLimit)).toEqual(c.want);
        expect(s.term(3)).toBe(3);
      });
    }

    it('refuses a gap after the last entry', () => {
      expect(() => storage345().append([ent(7, 5)])).toThrow(RaftPanic);
    });

    it('accepts nothing as a no-op', () => {
      const s = storage345();
      s.append([]);
      expect(s.lastIndex()).toBe(5);
    });
  });

  it('returns the hard state it was given, as a copy', () => {
    const s = new MemoryStorage();
    const hs = { term: 3, vote: 2, commit: 1 };
    s.setHardState(hs);
    hs.term = 9;
    expect(s.initialState().hardState).toEqual({ term: 3, vote: 2, commit: 1 });
  });
});
