import { describe, expect, it } from 'vitest';
import { allPixels, samplePixels } from './pixel-sampling';

// Two images of a 4×4 grid (N = 16): the first fully valid, the second valid only
// in its top-left 2×3 block (a smaller image padded to the batch size).
const N = 16;
const mask = new Float32Array(2 * N);
mask.fill(1, 0, N);
for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) mask[N + y * 4 + x] = 1;
const validOf = (b: number) => new Set([...Array(N).keys()].filter((i) => mask[b * N + i]! > 0).map((i) => b * N + i));

describe('pixel random sampling', () => {
  it('keeps exactly `count` valid, distinct pixels of each image', () => {
    const s = samplePixels(mask, 2, N, { count: 5, seed: 1, step: 0 });
    expect(s.k).toBe(5);
    expect(s.indices.length).toBe(10);
    const first = [...s.indices.slice(0, 5)];
    const second = [...s.indices.slice(5, 10)];
    expect(new Set(first).size).toBe(5);
    expect(new Set(second).size).toBe(5);
    for (const i of first) expect(validOf(0).has(i)).toBe(true);
    for (const i of second) expect(validOf(1).has(i)).toBe(true);
    expect([...s.mask]).toEqual(new Array(10).fill(1));
  });

  it('an image with fewer valid pixels than `count` keeps all of them and masks the rest', () => {
    const s = samplePixels(mask, 2, N, { count: 8, seed: 3, step: 2 });
    const second = [...s.indices.slice(8, 16)];
    const secondMask = [...s.mask.slice(8, 16)];
    expect(secondMask.filter((m) => m === 1).length).toBe(6);
    const kept = second.filter((_, i) => secondMask[i] === 1);
    expect(new Set(kept)).toEqual(validOf(1));
    // padded slots still point inside their own image
    for (const i of second) expect(i >= N && i < 2 * N).toBe(true);
  });

  it('is deterministic in (seed, step) and varies with the step and the seed', () => {
    const a = samplePixels(mask, 2, N, { count: 4, seed: 7, step: 10 });
    const b = samplePixels(mask, 2, N, { count: 4, seed: 7, step: 10 });
    expect([...a.indices]).toEqual([...b.indices]);
    const draws = new Set<string>();
    for (let step = 0; step < 20; step++) {
      draws.add([...samplePixels(mask, 2, N, { count: 4, seed: 7, step }).indices.slice(0, 4)].join());
    }
    expect(draws.size).toBeGreaterThan(10); // C(16,4) = 1820 subsets: repeats are rare
    const otherSeed = samplePixels(mask, 2, N, { count: 4, seed: 8, step: 10 });
    expect([...otherSeed.indices]).not.toEqual([...a.indices]);
  });

  it('draws every valid pixel about equally often over many steps', () => {
    const counts = new Array(N).fill(0);
    const steps = 2000;
    for (let step = 0; step < steps; step++) {
      for (const i of samplePixels(mask.slice(0, N), 1, N, { count: 4, seed: 0, step }).indices) counts[i]++;
    }
    // expectation 500 each; ±20 % is ~9 standard deviations
    for (const c of counts) expect(Math.abs(c - 500)).toBeLessThan(100);
  });

  it('without sampling (eval / fine-tuning) every pixel is kept with its validity', () => {
    const s = allPixels(mask, 2, N);
    expect(s.k).toBe(N);
    expect([...s.indices]).toEqual([...Array(2 * N).keys()]);
    expect([...s.mask]).toEqual([...mask]);
  });

  it('rejects a bad count or a mask of the wrong size', () => {
    expect(() => samplePixels(mask, 2, N, { count: 0, seed: 0, step: 0 })).toThrow(/count must be a positive integer/);
    expect(() => samplePixels(mask, 3, N, { count: 2, seed: 0, step: 0 })).toThrow(/expected 3×16 = 48 entries, got 32/);
  });
});
