// # Seeded randomness
//
// The only randomness Raft needs is the election timeout (§5.2: "randomized election timeouts ensure that split
// votes are rare"). The core draws it from a generator it is given, never from the platform's global source, so
// one seed and one sequence of inputs always produce one sequence of outputs.

/** A source of uniformly distributed integers. */
export interface Rand {
  /** An integer in [0, n). */
  intn(n: number): number;
}

/**
 * A small, fast, seedable generator (mulberry32): 32 bits of state, a period of 2^32, good enough to spread
 * election timeouts and to drive the simulator, and identical on every platform.
 */
export class SeededRand implements Rand {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next value in [0, 2^32). */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  intn(n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new RangeError(`Rand.intn needs a positive integer bound, got ${n}`);
    }
    return this.nextUint32() % n;
  }

  /** A float in [0, 1), for the simulator's probabilities. */
  float(): number {
    return this.nextUint32() / 0x100000000;
  }
}
