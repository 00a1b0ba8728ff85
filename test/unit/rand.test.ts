import { SeededRand } from '../../raft/rand';

describe('SeededRand', () => {
  it('replays the same sequence for the same seed', () => {
    const a = new SeededRand(42);
    const b = new SeededRand(42);
    const seqA = Array.from({ length: 100 }, () => a.intn(1000));
    const seqB = Array.from({ length: 100 }, () => b.intn(1000));
    expect(seqA).toEqual(seqB);
  });

  it('gives different sequences for different seeds', () => {
    const a = new SeededRand(1);
    const b = new SeededRand(2);
    expect(Array.from({ length: 10 }, () => a.intn(1 << 30))).not.toEqual(Array.from({ length: 10 }, () => b.intn(1 << 30)));
  });

  it('stays within [0, n) and reaches every value of a small range', () => {
    const r = new SeededRand(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = r.intn(10);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(10);
      seen.add(v);
    }
    expect(seen.size).toBe(10);
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new SeededRand(1).intn(0)).toThrow(RangeError);
  });
});
