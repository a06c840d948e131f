import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/init';
import { setFastPaths } from './fast-paths';

/**
 * Each fast path against the stock route it replaces, on whichever backend the run uses
 * (TFJS_BACKEND); paths that exist only on `tensorflow` are checked there and skipped elsewhere.
 */
beforeAll(async () => {
  await initBackend({ quiet: true });
});
afterEach(() => {
  setFastPaths('all');
});

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

/** Gradients of f at xs with the given fast paths on/off. */
function gradsWith(p: 'all' | 'none', f: (...xs: tf.Tensor[]) => tf.Scalar, xs: tf.Tensor[]): tf.Tensor[] {
  setFastPaths(p);
  return tf.grads(f)(xs);
}

describe('fast paths give the stock gradients', () => {
  it('Mean (over the axes batch norm and layer norm reduce)', () => {
    const x = tf.randomNormal([3, 5, 4, 6], 0, 1, 'float32', 1);
    const w = tf.randomNormal([3, 5, 4, 6], 0, 1, 'float32', 2);
    for (const axes of [[0, 1, 2], [-1], [1, 3]]) {
      const f = (a: tf.Tensor) => tf.sum(tf.mul(tf.mul(tf.mean(tf.mul(a, a), axes, true), w), a)) as tf.Scalar;
      const [stock] = gradsWith('none', f, [x]);
      const [fast] = gradsWith('all', f, [x]);
      expect(maxDiff(stock!, fast!), `axes ${axes}`).toBe(0);
    }
  });

  it('ReLU (TensorFlow ReluGrad on tensorflow; stock elsewhere), zeros and negatives included', () => {
    const x = tf.tensor1d([-2, -0.5, 0, 0.25, 3, -1e-9, 1e-9]);
    const w = tf.tensor1d([1, 2, 3, 4, 5, 6, 7]);
    const f = (a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), w)) as tf.Scalar;
    const [stock] = gradsWith('none', f, [x]);
    const [fast] = gradsWith('all', f, [x]);
    expect(Array.from(fast!.dataSync())).toEqual(Array.from(stock!.dataSync()));
    expect(Array.from(fast!.dataSync())).toEqual([0, 0, 0, 4, 5, 0, 7]);
  });
});
