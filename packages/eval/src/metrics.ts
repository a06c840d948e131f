/**
 * Evaluation metrics of the paper's downstream tasks (Section 4).
 * Inputs are already-normalised answers / labels / score matrices; the data package
 * owns answer normalisation, the train package owns running the model.
 */

/**
 * VQA accuracy of one predicted answer against the human answers (VQA v2's metric):
 * min(1, #humans that gave it / 3), averaged over the 10 leave-one-out subsets of 9 humans.
 */
export function vqaScore(predicted: string, humanAnswers: readonly string[]): number {
  if (humanAnswers.length === 0) throw new Error('vqaScore: a question needs at least one human answer');
  if (humanAnswers.length === 1) return humanAnswers[0] === predicted ? 1 : 0;
  let total = 0;
  for (let left = 0; left < humanAnswers.length; left++) {
    let matches = 0;
    for (let i = 0; i < humanAnswers.length; i++) if (i !== left && humanAnswers[i] === predicted) matches++;
    total += Math.min(1, matches / 3);
  }
  return total / humanAnswers.length;
}

export interface Estimate {
  /** Mean over items. */
  mean: number;
  /** Standard error of the mean (sample standard deviation / √n). */
  stderr: number;
  n: number;
}

/** Mean and its standard error, so that rows of Table 6 can be told apart from noise. */
export function estimate(values: readonly number[]): Estimate {
  const n = values.length;
  if (n === 0) throw new Error('estimate: no values');
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, stderr: 0, n };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return { mean, stderr: Math.sqrt(variance / n), n };
}

/** Classification accuracy (NLVR², ITM) with its standard error. */
export function accuracy(predicted: readonly (number | boolean)[], labels: readonly (number | boolean)[]): Estimate {
  if (predicted.length !== labels.length) {
    throw new Error(`accuracy: ${predicted.length} predictions for ${labels.length} labels`);
  }
  return estimate(predicted.map((p, i) => (p === labels[i] ? 1 : 0)));
}

/**
 * Recall@K for retrieval: `scores[q][c]` is how well candidate c matches query q, `correct(q)` the
 * candidates that count as right for q (text→image: one image; image→text: its 5 captions).
 * A query is a hit at K when any correct candidate ranks in the top K; ties rank pessimistically
 * (a tied wrong candidate goes first), so a constant scorer cannot look good.
 */
export function recallAtK(
  scores: readonly (readonly number[])[],
  correct: (query: number) => readonly number[],
  ks: readonly number[] = [1, 5, 10],
): Record<string, Estimate> {
  if (scores.length === 0) throw new Error('recallAtK: no queries');
  const ranks = scores.map((row, q) => {
    const right = new Set(correct(q));
    if (right.size === 0) throw new Error(`recallAtK: query ${q} has no correct candidate`);
    for (const c of right) {
      if (!(c >= 0 && c < row.length)) throw new Error(`recallAtK: query ${q} names candidate ${c}, but there are ${row.length}`);
    }
    // Best rank (0-based) of any correct candidate.
    let best = Infinity;
    for (const c of right) {
      const s = row[c]!;
      let above = 0;
      for (let j = 0; j < row.length; j++) {
        if (j === c) continue;
        const t = row[j]!;
        if (t > s || (t === s && !right.has(j))) above++;
      }
      best = Math.min(best, above);
    }
    return best;
  });
  return Object.fromEntries(ks.map((k) => [`R@${k}`, estimate(ranks.map((r) => (r < k ? 1 : 0)))]));
}

/**
 * The chance that `right` candidates tied with `tied − right` wrong ones at the top of a ranking, in
 * random order, put a right one among the first `k`: 1 − C(tied − right, k) / C(tied, k).
 */
export function hitChance(right: number, tied: number, k: number): number {
  if (!(right >= 0 && tied >= right && k >= 0)) throw new Error(`hitChance: need 0 ≤ right (${right}) ≤ tied (${tied}) and k (${k}) ≥ 0`);
  if (right === 0) return 0;
  let miss = 1;
  for (let i = 0; i < k && i < tied; i++) miss *= Math.max(0, tied - right - i) / (tied - i);
  return 1 - miss;
}

/**
 * Recall@K (fractions) of a model that ranks, for each query, `tied` candidates first in random
 * order, `right` of them correct: the expected score of a reference model (chance: every candidate
 * tied; a model that knows only some property: the candidates sharing it).
 */
export function expectedRecallAtK(queries: readonly { right: number; tied: number }[], ks: readonly number[] = [1, 5, 10]): Record<string, number> {
  if (queries.length === 0) throw new Error('expectedRecallAtK: no queries');
  return Object.fromEntries(ks.map((k) => [`R@${k}`, queries.reduce((a, q) => a + hitChance(q.right, q.tied, k), 0) / queries.length]));
}

/**
 * Recall@K (fractions) both ways of a ranker that knows only which group each image is in: for an
 * image query (TR) it ties first every caption whose image shares the query's group, for a caption
 * query (IR) every image of its image's group, in random order. One group for all is chance; the
 * object count per image is what counting alone gives. `captionImage[c]` is caption c's image.
 */
export function groupRankerRecall(
  imageGroup: readonly number[],
  captionImage: readonly number[],
  ks: readonly number[] = [1, 5, 10],
): { tr: Record<string, number>; ir: Record<string, number> } {
  const own = imageGroup.map(() => 0);
  const imagesIn = new Map<number, number>();
  const captionsIn = new Map<number, number>();
  for (const g of imageGroup) imagesIn.set(g, (imagesIn.get(g) ?? 0) + 1);
  for (const i of captionImage) {
    if (!(i >= 0 && i < imageGroup.length)) throw new Error(`groupRankerRecall: a caption names image ${i}, but there are ${imageGroup.length}`);
    own[i]!++;
    captionsIn.set(imageGroup[i]!, (captionsIn.get(imageGroup[i]!) ?? 0) + 1);
  }
  return {
    tr: expectedRecallAtK(imageGroup.map((g, i) => ({ right: own[i]!, tied: captionsIn.get(g) ?? 0 })), ks),
    ir: expectedRecallAtK(captionImage.map((i) => ({ right: 1, tied: imagesIn.get(imageGroup[i]!)! })), ks),
  };
}

/**
 * NLVR²'s consistency (Suhr et al., 2019): the fraction of image pairs all of whose statements
 * were judged right. `groups[i]` names the pair statement i is about (the reader's `pairId`).
 */
export function consistency(correct: readonly boolean[], groups: readonly string[]): Estimate {
  if (correct.length !== groups.length) throw new Error(`consistency: ${correct.length} results for ${groups.length} group ids`);
  const allRight = new Map<string, boolean>();
  correct.forEach((c, i) => allRight.set(groups[i]!, (allRight.get(groups[i]!) ?? true) && c));
  return estimate([...allRight.values()].map((v) => (v ? 1 : 0)));
}

/**
 * Accuracy (%) of the nearest class mean: each test vector gets the class whose training mean is
 * closest (Euclidean, raw features, nothing learnt). How plainly the classes stand apart in the
 * directions the features vary most — unlike a trained probe, which finds faint directions too.
 * `x*` are row-major (n, dim); classes without training vectors are never predicted.
 */
export function nearestMeanAccuracy(xTrain: ArrayLike<number>, yTrain: readonly number[], xTest: ArrayLike<number>, yTest: readonly number[], dim: number): number {
  if (xTrain.length !== yTrain.length * dim || xTest.length !== yTest.length * dim) throw new Error(`nearestMeanAccuracy: ${yTrain.length} / ${yTest.length} labels for ${xTrain.length} / ${xTest.length} values of width ${dim}`);
  if (yTest.length === 0) throw new Error('nearestMeanAccuracy: no test vectors');
  const sums = new Map<number, Float64Array>();
  const counts = new Map<number, number>();
  yTrain.forEach((y, i) => {
    const m = sums.get(y) ?? sums.set(y, new Float64Array(dim)).get(y)!;
    for (let d = 0; d < dim; d++) m[d]! += xTrain[i * dim + d]!;
    counts.set(y, (counts.get(y) ?? 0) + 1);
  });
  const means = [...sums].map(([c, m]) => ({ c, m: m.map((v) => v / counts.get(c)!) }));
  let right = 0;
  yTest.forEach((y, i) => {
    let best = -1;
    let bestD = Infinity;
    for (const { c, m } of means) {
      let dist = 0;
      for (let d = 0; d < dim; d++) dist += (xTest[i * dim + d]! - m[d]!) ** 2;
      if (dist < bestD) [best, bestD] = [c, dist];
    }
    if (best === y) right++;
  });
  return (100 * right) / yTest.length;
}
