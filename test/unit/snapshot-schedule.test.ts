// Each member takes its snapshots on a grid of its own: the count apart once on the grid, never at the same
// indexes as another member, and never leaving more than one and a half times the count between two.

import { nextSnapshotAt, snapshotPhase } from '../../kvstore/snapshot-schedule';

describe('when a member takes its snapshot', () => {
  test('members 1 to 5 take theirs at different points of the count, far apart for three', () => {
    const count = 10_000;
    const phases = [1, 2, 3, 4, 5].map((id) => snapshotPhase(id, count));
    expect(new Set(phases).size).toBe(5);
    for (const p of phases) expect(p >= 0 && p < count).toBe(true);
    const three = phases.slice(0, 3).sort((a, b) => a - b);
    const gaps = [three[1] - three[0], three[2] - three[1], count - three[2] + three[0]];
    expect(Math.min(...gaps)).toBeGreaterThan(count / 10);
  });

  test('IDs 1, 2 and 3 sit at 0.62, 0.24 and 0.85 of the count; IDs past 2^52 still spread', () => {
    expect([1, 2, 3].map((id) => snapshotPhase(id, 100))).toEqual([61, 23, 85]);
    const large = [2 ** 52 + 1, 2 ** 52 + 2, 2 ** 52 + 3, Number.MAX_SAFE_INTEGER].map((id) => snapshotPhase(id, 10_000));
    expect(new Set(large).size).toBe(4);
  });

  test('on the grid, the next snapshot comes the count later; a snapshot a batch late keeps the grid', () => {
    const count = 10_000;
    for (const id of [1, 2, 3]) {
      const phase = snapshotPhase(id, count);
      const first = nextSnapshotAt(id, 0, count);
      expect(first % count).toBe(phase);
      expect(nextSnapshotAt(id, first, count)).toBe(first + count);
      expect(nextSnapshotAt(id, first + 37, count)).toBe(first + count);
    }
  });

  test('between two snapshots at least half the count passes and at most one and a half times it', () => {
    for (const count of [1, 2, 5, 8, 40, 10_000]) {
      for (const id of [1, 2, 3, 7]) {
        for (const last of [0, 1, 3, count - 1, count, 5 * count + 2]) {
          const next = nextSnapshotAt(id, last, count);
          expect(next - last).toBeGreaterThanOrEqual(Math.ceil(count / 2));
          expect(next - last).toBeLessThan(Math.ceil(count / 2) + count);
          expect(((next % count) + count) % count).toBe(snapshotPhase(id, count));
        }
      }
    }
  });
});
