import fc from 'fast-check';
import { encodeEntry, entrySize } from '../../raft/codec';
import { discardLogger, RaftPanic } from '../../raft/logger';
import { Entry, EntryType, emptyConfState, newEntry } from '../../raft/types';
import {
  assertConfStatesEquivalent,
  confStatesDifference,
  entsSize,
  limitSize,
  logSliceLastEntryId,
  logSliceLastIndex,
  logSliceProblem,
  noLimit,
  payloadSize,
  payloadsSize,
} from '../../raft/util';

const withData = (index: number, n: number): Entry => newEntry({ index, term: 1, data: new Uint8Array(n) });

describe('payload sizes', () => {
  it('counts only data, so an empty entry weighs nothing', () => {
    expect(payloadSize(newEntry({ index: 1, term: 1 }))).toBe(0);
    expect(payloadSize(withData(1, 7))).toBe(7);
    expect(payloadsSize([withData(1, 7), withData(2, 3), newEntry({ index: 3, term: 1 })])).toBe(10);
  });
});

describe('entsSize', () => {
  it('sums the encoded sizes', () => {
    const ents = [withData(1, 7), newEntry({ index: 300, term: 2, type: EntryType.EntryConfChange })];
    expect(entsSize(ents)).toBe(encodeEntry(ents[0]).length + encodeEntry(ents[1]).length);
    expect(entsSize([])).toBe(0);
  });
});

describe('limitSize', () => {
  const ents = [withData(1, 10), withData(2, 10), withData(3, 10)];
  const one = entrySize(ents[0]);

  it('keeps everything under no limit and returns the same array', () => {
    expect(limitSize(ents, noLimit)).toBe(ents);
  });

  it('keeps the first entry even when it alone exceeds the limit', () => {
    expect(limitSize(ents, 0)).toEqual([ents[0]]);
    expect(limitSize(ents, one - 1)).toEqual([ents[0]]);
  });

  it('keeps the longest prefix within the limit, inclusive', () => {
    expect(limitSize(ents, one)).toEqual([ents[0]]);
    expect(limitSize(ents, 2 * one - 1)).toEqual([ents[0]]);
    expect(limitSize(ents, 2 * one)).toEqual(ents.slice(0, 2));
    expect(limitSize(ents, 3 * one)).toEqual(ents);
  });

  it('returns an empty input unchanged', () => {
    expect(limitSize([], 0)).toEqual([]);
  });

  it('always returns a non-empty prefix within the limit or of length one', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(50), { minLength: 1, maxLength: 20 }), fc.nat(400), (sizes, max) => {
        const es = sizes.map((n, i) => withData(i + 1, n));
        const got = limitSize(es, max);
        expect(got.length).toBeGreaterThanOrEqual(1);
        expect(got).toEqual(es.slice(0, got.length));
        if (got.length > 1) expect(entsSize(got)).toBeLessThanOrEqual(max);
        if (got.length < es.length) expect(entsSize(es.slice(0, got.length + 1))).toBeGreaterThan(max);
      }),
    );
  });
});

describe('log slices', () => {
  const e = (index: number, term: number): Entry => newEntry({ index, term });

  it('names the last entry, or prev when empty', () => {
    expect(logSliceLastIndex({ term: 3, prev: { term: 1, index: 5 }, entries: [] })).toBe(5);
    expect(logSliceLastEntryId({ term: 3, prev: { term: 1, index: 5 }, entries: [] })).toEqual({ term: 1, index: 5 });
    const s = { term: 3, prev: { term: 1, index: 5 }, entries: [e(6, 2), e(7, 3)] };
    expect(logSliceLastIndex(s)).toBe(7);
    expect(logSliceLastEntryId(s)).toEqual({ term: 3, index: 7 });
  });

  it('finds gaps, regressing terms and terms above the leader', () => {
    expect(logSliceProblem({ term: 3, prev: { term: 1, index: 5 }, entries: [e(6, 2), e(7, 3)] })).toBeNull();
    expect(logSliceProblem({ term: 3, prev: { term: 1, index: 5 }, entries: [e(7, 2)] })).toContain('not consistent');
    expect(logSliceProblem({ term: 3, prev: { term: 2, index: 5 }, entries: [e(6, 1)] })).toContain('not consistent');
    expect(logSliceProblem({ term: 2, prev: { term: 1, index: 5 }, entries: [e(6, 3)] })).toContain('newer term');
  });
});

describe('ConfState equivalence', () => {
  it('ignores the order of IDs but not their values', () => {
    const a = { ...emptyConfState(), voters: [1, 2, 3], learners: [5, 4] };
    const b = { ...emptyConfState(), voters: [3, 1, 2], learners: [4, 5] };
    expect(confStatesDifference(a, b)).toBeNull();
    expect(() => assertConfStatesEquivalent(discardLogger, a, b)).not.toThrow();
    const c = { ...b, autoLeave: true };
    expect(confStatesDifference(a, c)).toContain('AutoLeave:true');
    expect(() => assertConfStatesEquivalent(discardLogger, a, { ...b, voters: [1, 2] })).toThrow(RaftPanic);
  });
});
