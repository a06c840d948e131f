// Which examples form batch (epoch, step). Everything is a pure function of (seed, epoch, step):
// a run resumed at (epoch, step) sees exactly the batches an uninterrupted run would, with no
// sampler state to save.

import { rngFor, type Rng } from '../rng';

/** Where a batch sits in training: the three numbers all of its randomness derives from. */
export interface BatchCursor {
  seed: number;
  epoch: number;
  step: number;
}

export function stepsPerEpoch(n: number, batchSize: number, dropLast = false): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

let memo: { key: string; perm: number[] } | null = null;

/** The epoch's shuffled order of 0..n−1 (memoised for the current epoch). */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const key = `${n}/${seed}/${epoch}`;
  if (memo?.key !== key) memo = { key, perm: rngFor(seed, 'order', epoch).permutation(n) };
  return memo.perm;
}

/** Example indices of batch `step` of `epoch` (the last batch may be short unless dropLast). */
export function batchIndices(n: number, batchSize: number, c: BatchCursor, dropLast = false): number[] {
  checkCursor(c);
  const steps = stepsPerEpoch(n, batchSize, dropLast);
  if (c.step >= steps) throw new Error(`step ${c.step} is past the end of the epoch (${steps} steps of ${batchSize} over ${n} examples)`);
  return epochOrder(n, c.seed, c.epoch).slice(c.step * batchSize, Math.min(n, (c.step + 1) * batchSize));
}

/** The random stream of one batch's own choices (masking, negatives), separate from the order stream. */
export function batchRng(task: string, c: BatchCursor): Rng {
  checkCursor(c);
  return rngFor(c.seed, task, c.epoch, c.step);
}

function checkCursor(c: BatchCursor): void {
  for (const k of ['seed', 'epoch', 'step'] as const)
    if (!Number.isInteger(c[k]) || c[k] < 0) throw new Error(`batch cursor: ${k} must be a non-negative integer, got ${c[k]}`);
}
