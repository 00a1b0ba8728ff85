import fc from 'fast-check';

import { JointConfig } from '../../raft/quorum/joint';
import { MajorityConfig } from '../../raft/quorum/majority';
import { VoteResult, formatIndex, mapAckedIndexer } from '../../raft/quorum/quorum';
import { bruteForceCommittedIndex } from './quorum_helpers';

// A configuration of up to 7 voters drawn from IDs 1..9, with an acknowledged index (or none) for some of them.
const ids = fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { maxLength: 7 });
const acks = fc.dictionary(fc.integer({ min: 1, max: 9 }).map(String), fc.integer({ min: 0, max: 20 }));
const voteMap = fc.dictionary(fc.integer({ min: 1, max: 9 }).map(String), fc.boolean());

function toMap<V>(d: Record<string, V>): Map<number, V> {
  return new Map(Object.entries(d).map(([k, v]) => [Number(k), v]));
}

describe('MajorityConfig', () => {
  test('prints sorted IDs in parentheses', () => {
    expect(new MajorityConfig([3, 1, 2]).toString()).toBe('(1 2 3)');
    expect(new MajorityConfig().toString()).toBe('()');
    expect(new MajorityConfig([10, 9]).slice()).toEqual([9, 10]);
  });

  test('the empty configuration commits everything and wins every vote', () => {
    const c = new MajorityConfig();
    expect(c.committedIndex(mapAckedIndexer(new Map()))).toBe(Number.POSITIVE_INFINITY);
    expect(formatIndex(c.committedIndex(mapAckedIndexer(new Map())))).toBe('∞');
    expect(c.voteResult(new Map())).toBe(VoteResult.VoteWon);
  });

  test('committedIndex is the largest index a majority acknowledged', () => {
    fc.assert(
      fc.property(ids, acks, (voters, a) => {
        const c = new MajorityConfig(voters);
        const l = mapAckedIndexer(toMap(a));
        expect(c.committedIndex(l)).toBe(bruteForceCommittedIndex(c, l));
      }),
    );
  });

  test('committedIndex is the lower median of the sorted acknowledged indexes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 9 }), (indexes) => {
        const c = new MajorityConfig(indexes.map((_, i) => i + 1));
        const l = mapAckedIndexer(new Map(indexes.map((idx, i) => [i + 1, idx])));
        const sorted = [...indexes].sort((x, y) => x - y);
        expect(c.committedIndex(l)).toBe(sorted[Math.floor((sorted.length - 1) / 2)]);
      }),
    );
  });

  test('committedIndex never decreases when a voter acknowledges more', () => {
    fc.assert(
      fc.property(ids, acks, fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 20 }), (voters, a, id, more) => {
        const c = new MajorityConfig(voters);
        const before = toMap(a);
        const after = new Map(before);
        after.set(id, (before.get(id) ?? 0) + more);
        expect(c.committedIndex(mapAckedIndexer(after))).toBeGreaterThanOrEqual(
          c.committedIndex(mapAckedIndexer(before)),
        );
      }),
    );
  });

  test('voteResult matches counting yes and no votes against the quorum size', () => {
    fc.assert(
      fc.property(ids, voteMap, (voters, v) => {
        const c = new MajorityConfig(voters);
        const votes = toMap(v);
        const q = Math.floor(voters.length / 2) + 1;
        const yes = voters.filter((id) => votes.get(id) === true).length;
        const no = voters.filter((id) => votes.get(id) === false).length;
        const expected =
          voters.length === 0 || yes >= q
            ? VoteResult.VoteWon
            : voters.length - no >= q
              ? VoteResult.VotePending
              : VoteResult.VoteLost;
        expect(c.voteResult(votes)).toBe(expected);
      }),
    );
  });

  test('a yes vote never makes the outcome worse; a no vote never makes it better', () => {
    const rank = { [VoteResult.VoteLost]: 0, [VoteResult.VotePending]: 1, [VoteResult.VoteWon]: 2 };
    fc.assert(
      fc.property(ids, voteMap, fc.integer({ min: 1, max: 9 }), (voters, v, id) => {
        const c = new MajorityConfig(voters);
        const votes = toMap(v);
        votes.delete(id);
        const base = rank[c.voteResult(votes)];
        expect(rank[c.voteResult(new Map(votes).set(id, true))]).toBeGreaterThanOrEqual(base);
        expect(rank[c.voteResult(new Map(votes).set(id, false))]).toBeLessThanOrEqual(base);
      }),
    );
  });

  test('two disjoint vote sets cannot both win (majorities intersect)', () => {
    fc.assert(
      fc.property(ids.filter((v) => v.length > 0), fc.array(fc.boolean()), (voters, sides) => {
        const c = new MajorityConfig(voters);
        const forA = new Map<number, boolean>();
        const forB = new Map<number, boolean>();
        voters.forEach((id, i) => {
          forA.set(id, sides[i] === true);
          forB.set(id, sides[i] !== true);
        });
        const wins = [c.voteResult(forA), c.voteResult(forB)].filter((r) => r === VoteResult.VoteWon);
        expect(wins.length).toBeLessThanOrEqual(1);
      }),
    );
  });
});

describe('JointConfig', () => {
  test('prints both halves only while joint', () => {
    expect(new JointConfig([1, 2, 3]).toString()).toBe('(1 2 3)');
    expect(new JointConfig([3, 2], [1]).toString()).toBe('(2 3)&&(1)');
    expect(new JointConfig([1], [1]).isJoint()).toBe(true);
    expect(new JointConfig([1]).isJoint()).toBe(false);
  });

  test('ids() is the union of both halves, and clone() shares nothing', () => {
    const j = new JointConfig([1, 2], [2, 3]);
    expect(j.ids().slice()).toEqual([1, 2, 3]);
    const copy = j.clone();
    copy.incoming.add(9);
    copy.outgoing.delete(3);
    expect(j.toString()).toBe('(1 2)&&(2 3)');
  });

  test('committedIndex is the minimum of both halves', () => {
    fc.assert(
      fc.property(ids, ids, acks, (inc, out, a) => {
        const j = new JointConfig(inc, out);
        const l = mapAckedIndexer(toMap(a));
        expect(j.committedIndex(l)).toBe(Math.min(j.incoming.committedIndex(l), j.outgoing.committedIndex(l)));
        expect(j.committedIndex(l)).toBe(new JointConfig(out, inc).committedIndex(l));
      }),
    );
  });

  test('with an empty outgoing half it decides exactly as its incoming majority', () => {
    fc.assert(
      fc.property(ids, acks, voteMap, (inc, a, v) => {
        const j = new JointConfig(inc);
        const l = mapAckedIndexer(toMap(a));
        expect(j.committedIndex(l)).toBe(j.incoming.committedIndex(l));
        expect(j.voteResult(toMap(v))).toBe(j.incoming.voteResult(toMap(v)));
      }),
    );
  });

  test('wins only when both halves win, loses when either loses', () => {
    fc.assert(
      fc.property(ids, ids, voteMap, (inc, out, v) => {
        const j = new JointConfig(inc, out);
        const votes = toMap(v);
        const r1 = j.incoming.voteResult(votes);
        const r2 = j.outgoing.voteResult(votes);
        const r = j.voteResult(votes);
        expect(r === VoteResult.VoteWon).toBe(r1 === VoteResult.VoteWon && r2 === VoteResult.VoteWon);
        expect(r === VoteResult.VoteLost).toBe(r1 === VoteResult.VoteLost || r2 === VoteResult.VoteLost);
        expect(new JointConfig(out, inc).voteResult(votes)).toBe(r);
      }),
    );
  });

  test('describe shows the voters of both halves once', () => {
    const j = new JointConfig([1, 2], [2, 3]);
    const l = mapAckedIndexer(new Map([[1, 5], [2, 7]]));
    expect(j.describe(l)).toBe('       idx\nx>       5    (id=1)\nxx>      7    (id=2)\n?        0    (id=3)\n');
  });
});
