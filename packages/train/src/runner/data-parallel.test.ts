import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BN_MOMENTUM, initBackend } from '@pixel-bert/model';
import type { Spec } from '@pixel-bert/spec';
import { assignFlat, combineBuffers, dataParallelOf, flatValues } from './data-parallel';
import { shareOf } from './runner';

beforeAll(async () => {
  await initBackend({ quiet: true });
});

const spec = (dataParallel: number, accumulation: number) => ({ trainer: { dataParallel }, optim: { accumulation } }) as unknown as Spec;

describe('data parallelism', () => {
  it('gives every micro-batch to exactly one process, in order, some none when there are fewer', () => {
    for (const [n, count] of [[2, 2], [4, 2], [5, 2], [1, 2], [6, 3]] as const) {
      const shares = Array.from({ length: count }, (_, i) => shareOf(n, i, count));
      expect(shares[0]![0]).toBe(0);
      expect(shares.at(-1)![1]).toBe(n);
      for (let i = 1; i < count; i++) expect(shares[i]![0]).toBe(shares[i - 1]![1]);
    }
    expect(shareOf(1, 0, 2)).toEqual([0, 0]);
    expect(shareOf(1, 1, 2)).toEqual([0, 1]);
  });

  it('combines running statistics as one process moving them micro-batch by micro-batch would, and keeps unmoved ones exactly', () => {
    const mu = BN_MOMENTUM;
    const moved = tf.variable(tf.zeros([5]), false, 'dp_test_moved');
    const frozen = tf.variable(tf.zeros([3]), false, 'dp_test_frozen');
    const r0 = Float32Array.from([0.5, -1.25, 2, 0.1, 3.3, /* frozen: */ 0.7, 0.9, 1.1]);
    const s = [Float32Array.from([1, 2, 3, 4, 5]), Float32Array.from([-1, 0.5, 0.25, 8, 2]), Float32Array.from([0, 0, 1, 1, 2])];
    const move = (r: Float32Array, st: Float32Array) => Float32Array.from(r, (x, i) => (i < 5 ? (1 - mu) * x + mu * st[i]! : x));
    // one process: micro-batch 0, then 1 and 2; data parallel: the first process ran 0, the second 1 and 2
    const sequential = move(move(move(r0, s[0]!), s[1]!), s[2]!);
    const first = move(r0, s[0]!);
    const second = move(move(r0, s[1]!), s[2]!);
    const combined = combineBuffers([moved, frozen], r0, first, second, 2);
    for (let i = 0; i < 5; i++) expect(combined[i]).toBeCloseTo(sequential[i]!, 5);
    expect([...combined.slice(5)]).toEqual([...r0.slice(5)]);
    expect(combined[0]).not.toBeCloseTo(first[0]!, 3); // the second process's statistics count
    moved.dispose();
    frozen.dispose();
  });

  it('sends variables as one vector and assigns them back unchanged', () => {
    const a = tf.variable(tf.tensor2d([[1, 2], [3, 4.5]]), true, 'dp_test_a');
    const b = tf.variable(tf.tensor1d([-7, 0.125, 9]), true, 'dp_test_b');
    const flat = flatValues([a, b]);
    expect([...flat]).toEqual([1, 2, 3, 4.5, -7, 0.125, 9]);
    assignFlat([a, b], Float32Array.from(flat, (x) => x * 2));
    expect(a.arraySync()).toEqual([[2, 4], [6, 9]]);
    expect([...b.dataSync()]).toEqual([-14, 0.25, 18]);
    expect(() => assignFlat([a, b], new Float32Array(3))).toThrow(/3 values for 2 variables of 7/);
    a.dispose();
    b.dispose();
  });

  it('takes the process count from the spec or PIXEL_BERT_DATA_PARALLEL, and refuses one that does not divide the micro-batches', () => {
    expect(dataParallelOf(spec(2, 2), {})).toBe(2);
    expect(dataParallelOf(spec(2, 2), { PIXEL_BERT_DATA_PARALLEL: '1' })).toBe(1);
    expect(dataParallelOf(spec(1, 4), { PIXEL_BERT_DATA_PARALLEL: '4' })).toBe(4);
    expect(() => dataParallelOf(spec(1, 2), { PIXEL_BERT_DATA_PARALLEL: '3' })).toThrow(/PIXEL_BERT_DATA_PARALLEL=3 splits .* optim.accumulation is 2/);
    expect(() => dataParallelOf(spec(1, 1), { PIXEL_BERT_DATA_PARALLEL: 'two' })).toThrow(/expected a whole number ≥ 1/);
    expect(() => dataParallelOf(spec(1, 1), { PIXEL_BERT_DATA_PARALLEL: '0' })).toThrow(/expected a whole number ≥ 1/);
  });
});
