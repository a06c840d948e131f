// Seeded pseudo-random numbers for everything in @pixel-bert/data that must be reproducible:
// the generated world (same seed → byte-identical files) and the batch builders (randomness
// derives from (seed, epoch, step), so a resumed run sees the batches an uninterrupted run would).
//
// Only 32-bit integer arithmetic (Math.imul, >>>) is used, so results are identical on every
// platform and Node version. The generator is sfc32 (Chris Doty-Humphrey's "small fast counting"
// generator, from PractRand); it passes PractRand/BigCrush and is seeded here through a
// splitmix32-style mixer of a stream key, so distinct keys give independent-looking streams.

/** A value that may name a random stream: numbers are folded as 32-bit ints (doubles by parts), strings by code unit. */
export type StreamKey = number | string;

/** Mixes a 32-bit value (murmur3 finaliser). */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Folds a list of keys into one 32-bit hash; order matters ([1,2] ≠ [2,1]), types matter (1 ≠ "1"). */
export function hashKeys(...keys: StreamKey[]): number {
  let h = 0x9e3779b9;
  const fold = (x: number): void => {
    h = mix32((h ^ (x >>> 0)) + 0x6d2b79f5);
  };
  for (const k of keys) {
    if (typeof k === 'number') {
      if (!Number.isFinite(k)) throw new Error(`hashKeys: key ${k} is not a finite number`);
      fold(0x4e554d00); // tag: number
      if (Number.isInteger(k) && Math.abs(k) <= 0x7fffffff) fold(k | 0);
      else {
        // Non-int32 numbers: fold the two halves of the IEEE-754 bits.
        const view = new DataView(new ArrayBuffer(8));
        view.setFloat64(0, k);
        fold(view.getUint32(0));
        fold(view.getUint32(4));
      }
    } else {
      fold(0x53545200 ^ k.length); // tag: string + length, so ["ab"] ≠ ["a", "b"]
      for (let i = 0; i < k.length; i++) fold(k.charCodeAt(i));
    }
  }
  return h;
}

/** sfc32 generator. Not cryptographic; fast, reproducible, good statistical quality. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = mix32(seed ^ 0x243f6a88);
    this.b = mix32(seed ^ 0x85a308d3);
    this.c = mix32(seed ^ 0x13198a2e);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32(); // warm-up, as sfc32's author recommends
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). Uses rejection so every value is exactly equally likely. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  range(lo: number, hi: number): number {
    if (hi < lo) throw new Error(`Rng.range: hi (${hi}) < lo (${lo})`);
    return lo + this.int(hi - lo + 1);
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** true with probability p. */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty array');
    return items[this.int(items.length)] as T;
  }

  /** Index drawn with probability proportional to weights (all ≥ 0, sum > 0). */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) {
      if (!(w >= 0)) throw new Error(`Rng.weighted: weights must be ≥ 0, got ${w}`);
      total += w;
    }
    if (total <= 0) throw new Error('Rng.weighted: weights sum to 0');
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i] as number;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i] as T;
      items[i] = items[j] as T;
      items[j] = t;
    }
    return items;
  }

  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** k distinct indices from [0, n), in random order (k ≤ n). */
  sampleIndices(n: number, k: number): number[] {
    if (k > n) throw new Error(`Rng.sampleIndices: cannot draw ${k} distinct items from ${n}`);
    if (k * 4 < n) {
      // Sparse case: rejection on a set is cheaper than a full permutation.
      const seen = new Set<number>();
      const out: number[] = [];
      while (out.length < k) {
        const x = this.int(n);
        if (!seen.has(x)) {
          seen.add(x);
          out.push(x);
        }
      }
      return out;
    }
    return this.permutation(n).slice(0, k);
  }
}

/** An independent stream for the given keys, e.g. `rngFor(seed, 'mlm', epoch, step)`. */
export function rngFor(...keys: StreamKey[]): Rng {
  return new Rng(hashKeys(...keys));
}
