import { describe, expect, it } from 'vitest';
import { accuracy, consistency, estimate, expectedRecallAtK, groupRankerRecall, hitChance, nearestMeanAccuracy, recallAtK, vqaScore } from './metrics';

describe('vqaScore', () => {
  it('follows the VQA v2 metric (leave-one-out average of min(1, matches/3))', () => {
    const ten = (k: number) => [...Array(k).fill('red'), ...Array(10 - k).fill('blue')];
    expect(vqaScore('red', ten(0))).toBe(0);
    expect(vqaScore('red', ten(10))).toBe(1);
    // 3 humans said it: 7 subsets keep all 3 (→1), 3 subsets keep 2 (→2/3).
    expect(vqaScore('red', ten(3))).toBeCloseTo((7 + 3 * (2 / 3)) / 10, 12);
    // 1 human: 9 subsets keep them (→1/3), 1 does not.
    expect(vqaScore('red', ten(1))).toBeCloseTo(0.3, 12);
    expect(vqaScore('red', ten(4))).toBe(1);
    expect(() => vqaScore('red', [])).toThrow(/at least one/);
  });
});

describe('estimate and accuracy', () => {
  it('gives the mean and its standard error', () => {
    const e = estimate([1, 0, 1, 0]);
    expect(e.mean).toBe(0.5);
    expect(e.stderr).toBeCloseTo(Math.sqrt(1 / 3 / 4), 12);
    expect(accuracy([1, 0, 1], [1, 1, 1]).mean).toBeCloseTo(2 / 3, 12);
    expect(() => accuracy([1], [1, 0])).toThrow(/1 predictions for 2 labels/);
  });
});

describe('recallAtK', () => {
  it('counts a hit when a correct candidate is in the top K', () => {
    const scores = [
      [0.9, 0.1, 0.5], // correct 0: rank 0
      [0.9, 0.1, 0.5], // correct 2: rank 1
      [0.9, 0.1, 0.5], // correct 1: rank 2
    ];
    const r = recallAtK(scores, (q) => [[0], [2], [1]][q]!, [1, 2, 3]);
    expect(r['R@1']!.mean).toBeCloseTo(1 / 3, 12);
    expect(r['R@2']!.mean).toBeCloseTo(2 / 3, 12);
    expect(r['R@3']!.mean).toBe(1);
  });

  it('takes the best of several correct candidates and ranks ties pessimistically', () => {
    expect(recallAtK([[0.1, 0.2, 0.9]], () => [0, 2], [1])['R@1']!.mean).toBe(1);
    // A constant scorer gets no credit at R@1.
    expect(recallAtK([[0, 0, 0, 0]], () => [3], [1])['R@1']!.mean).toBe(0);
    expect(() => recallAtK([[0, 1]], () => [5])).toThrow(/candidate 5/);
  });
});

describe('expected recall of tied candidates in random order', () => {
  it('agrees with counting the orders by hand', () => {
    expect(hitChance(1, 1, 1)).toBe(1);
    expect(hitChance(1, 2, 1)).toBeCloseTo(0.5, 12);
    // two right of four, first two places: 1 − (2/4 · 1/3) = 5/6
    expect(hitChance(2, 4, 2)).toBeCloseTo(5 / 6, 12);
    expect(hitChance(1, 100, 10)).toBeCloseTo(0.1, 12);
    expect(hitChance(1, 5, 5)).toBe(1);
    expect(hitChance(3, 5, 3)).toBe(1);
    expect(hitChance(0, 5, 3)).toBe(0);
    expect(() => hitChance(3, 2, 1)).toThrow(/right \(3\) ≤ tied \(2\)/);
  });

  it('averages over queries; matches recallAtK on a model that scores exactly that way, averaged over tie orders', () => {
    const r = expectedRecallAtK([{ right: 1, tied: 2 }, { right: 1, tied: 1 }], [1, 2]);
    expect(r['R@1']).toBeCloseTo(0.75, 12);
    expect(r['R@2']).toBe(1);
    // chance on 4 candidates, 1 right: R@1 = 1/4; recallAtK of random scores approaches it.
    let hits = 0;
    const trials = 4000;
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let t = 0; t < trials; t++) hits += recallAtK([[rand(), rand(), rand(), rand()]], () => [0], [1])['R@1']!.mean;
    expect(Math.abs(hits / trials - expectedRecallAtK([{ right: 1, tied: 4 }], [1])['R@1']!)).toBeLessThan(0.03);
    expect(() => expectedRecallAtK([])).toThrow(/no queries/);
  });
});

describe("groupRankerRecall: a ranker that knows only each image's group", () => {
  it("ties the candidates of the query's group; one group for all is chance", () => {
    // images 0, 1 in group A, image 2 in group B; captions: two of image 0, one each of 1 and 2
    const caps = [0, 0, 1, 2];
    const g = groupRankerRecall([7, 7, 9], caps, [1, 2]);
    // IR: captions of 0 and 1 tie 2 images (1/2 at R@1), the caption of 2 is alone (1)
    expect(g.ir['R@1']).toBeCloseTo((0.5 + 0.5 + 0.5 + 1) / 4, 12);
    expect(g.ir['R@2']).toBe(1);
    // TR: image 0 has 2 of the 3 captions of group A, image 1 has 1 of 3, image 2 1 of 1
    expect(g.tr['R@1']).toBeCloseTo((2 / 3 + 1 / 3 + 1) / 3, 12);
    const chance = groupRankerRecall([0, 0, 0], caps, [1]);
    expect(chance.ir['R@1']).toBeCloseTo(1 / 3, 12);
    expect(chance.tr['R@1']).toBeCloseTo((2 / 4 + 1 / 4 + 1 / 4) / 3, 12);
    expect(() => groupRankerRecall([0], [1])).toThrow(/names image 1, but there are 1/);
  });
});

describe('consistency', () => {
  it('counts a pair right only when every statement about it is right', () => {
    const c = consistency([true, true, true, false, false], ['a', 'a', 'b', 'b', 'c']);
    expect(c.n).toBe(3);
    expect(c.mean).toBeCloseTo(1 / 3, 12);
    expect(() => consistency([true], [])).toThrow(/1 results for 0 group ids/);
  });
});

describe('nearestMeanAccuracy', () => {
  it('gives each test vector the class of the closest training mean', () => {
    // class 0 around (0, 0), class 1 around (10, 0); the test point (6, 0) is nearer class 1's mean
    const xTrain = [-1, 0, 1, 0, 9, 0, 11, 0];
    const yTrain = [0, 0, 1, 1];
    expect(nearestMeanAccuracy(xTrain, yTrain, [0.5, 3, 6, 0, 4, 0], [0, 1, 0], 2)).toBeCloseTo(100, 6);
    expect(nearestMeanAccuracy(xTrain, yTrain, [6, 0, 4, 0], [0, 1], 2)).toBe(0);
  });
  it('is fooled by a large irrelevant direction that a trained probe would ignore', () => {
    // the class is in x (±1), but y varies by ±100 independently of it
    const xTrain = [1, 100, 1, -100, -1, 100, -1, -100];
    const yTrain = [1, 1, 0, 0];
    // means (1, 0) and (−1, 0): a test point (1, 100) is still nearer class 1's mean, by x alone
    expect(nearestMeanAccuracy(xTrain, yTrain, [1, 100, -1, -100], [1, 0], 2)).toBe(100);
    // with class means shifted along y by the sampling, the big direction decides instead
    expect(nearestMeanAccuracy([1, 100, 1, 100, -1, -100, -1, -100], yTrain, [1, -100, -1, 100], [1, 0], 2)).toBe(0);
  });
  it('refuses lengths that do not match the labels', () => {
    expect(() => nearestMeanAccuracy([1, 2, 3], [0, 1], [1, 2], [0], 2)).toThrow(/2 \/ 1 labels for 3 \/ 2 values of width 2/);
  });
});
