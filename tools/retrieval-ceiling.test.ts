import { describe, expect, it } from 'vitest';
import { hitChance } from './retrieval-ceiling';

describe('retrieval-ceiling: the chance that tied candidates in random order put a right one in the first K', () => {
  it('agrees with counting the orders by hand', () => {
    expect(hitChance(1, 1, 1)).toBe(1);
    expect(hitChance(1, 2, 1)).toBeCloseTo(0.5, 12);
    expect(hitChance(2, 4, 1)).toBeCloseTo(0.5, 12);
    // two right of four, first two places: 1 − (2/4 · 1/3) = 5/6
    expect(hitChance(2, 4, 2)).toBeCloseTo(5 / 6, 12);
    expect(hitChance(1, 100, 10)).toBeCloseTo(0.1, 12);
  });

  it('is 1 once K reaches past the wrong candidates, 0 with nothing right', () => {
    expect(hitChance(1, 5, 5)).toBe(1);
    expect(hitChance(3, 5, 3)).toBe(1);
    expect(hitChance(0, 5, 3)).toBe(0);
  });
});
