import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/init';
import { BN_EPS, batchNorm, createBatchNorm } from '../backbone/layers';
import { createLayerNorm, layerNorm } from '../encoder/nn';
import { retrievalLoss } from '../heads/losses';
import { ParamScope } from '../params';
import { fusedBatchNormTrain } from './batch-norm';
import { deviceDropout } from './dropout';
import { onTensorflow, setFastPaths } from './fast-paths';

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
const maxAbs = (a: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]!);

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

  it('batch norm by TensorFlow fused kernels: output, running statistics and gradients (elsewhere the fast switch changes nothing)', () => {
    for (const shape of [[4, 6, 5, 8], [2, 3, 3, 16]] as [number, number, number, number][]) {
      const C = shape[3];
      const x = tf.randomNormal(shape, 0.5, 2, 'float32', 3) as tf.Tensor4D;
      const w = tf.randomNormal(shape, 0, 1, 'float32', 4);
      const runs = (['none', 'all'] as const).map((p) => {
        const bn = createBatchNorm(ParamScope.root(5).child('b'), 'bn', C);
        bn.weight.assign(tf.randomNormal([C], 1, 0.3, 'float32', 6));
        bn.bias.assign(tf.randomNormal([C], 0, 0.3, 'float32', 7));
        setFastPaths(p);
        const y = batchNorm(x, bn, true);
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(batchNorm(x, bn, true), w)) as tf.Scalar, [bn.weight, bn.bias]);
        const [dx] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(batchNorm(a as tf.Tensor4D, bn, true), w)) as tf.Scalar)([x]);
        return { y, value, dg: grads[bn.weight.name]!, db: grads[bn.bias.name]!, dx: dx!, rm: bn.runningMean, rv: bn.runningVar };
      });
      const [stock, fast] = runs as [(typeof runs)[0], (typeof runs)[0]];
      for (const k of ['y', 'dx', 'dg', 'db', 'rm', 'rv'] as const) {
        expect(maxDiff(stock[k], fast[k]), `${k} at [${shape}]`).toBeLessThan(1e-5 * Math.max(1, maxAbs(stock[k])));
      }
    }
  });

  it('fused batch norm returns the batch mean and the unbiased variance (on tensorflow; elsewhere it refuses to run)', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 1]);
    if (!onTensorflow()) {
      expect(() => fusedBatchNormTrain(x, tf.ones([1]) as tf.Tensor1D, tf.zeros([1]) as tf.Tensor1D, BN_EPS)).toThrow();
      return;
    }
    const { y, mean, unbiasedVariance } = fusedBatchNormTrain(x, tf.ones([1]) as tf.Tensor1D, tf.zeros([1]) as tf.Tensor1D, BN_EPS);
    expect(mean.dataSync()[0]).toBeCloseTo(4.5, 5);
    expect(unbiasedVariance.dataSync()[0]).toBeCloseTo(6, 4); // Σ(x−4.5)² = 42, / 7
    expect(y.dataSync()[0]).toBeCloseTo((1 - 4.5) / Math.sqrt(42 / 8 + BN_EPS), 4); // biased in the output
  });

  it('LayerNorm with the closed-form gradient: same output, same gradients (any backend)', () => {
    for (const shape of [[6, 16], [2, 5, 32]]) {
      const d = shape[shape.length - 1]!;
      const p = createLayerNorm(ParamScope.root(3).child('ln'), d);
      p.weight.assign(tf.randomNormal([d], 1, 0.3, 'float32', 8));
      p.bias.assign(tf.randomNormal([d], 0, 0.3, 'float32', 9));
      const x = tf.randomNormal(shape, 0.3, 2, 'float32', 10);
      const w = tf.randomNormal(shape, 0, 1, 'float32', 11);
      const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(layerNorm({ weight: g as tf.Variable, bias: b as tf.Variable }, a), w)) as tf.Scalar;
      const stock = gradsWith('none', f, [x, p.weight, p.bias]);
      const stockY = layerNorm(p, x);
      const fast = gradsWith('all', f, [x, p.weight, p.bias]);
      expect(maxDiff(stockY, layerNorm(p, x)), `y at [${shape}]`).toBe(0);
      stock.forEach((g, i) => expect(maxDiff(g, fast[i]!), `grad ${i} at [${shape}]`).toBeLessThan(1e-5 * Math.max(1, maxAbs(g))));
    }
  });

  it('dropout noise drawn by TensorFlow: reproducible per seed, keeps ≈ 1 − p scaled by 1/(1 − p), gradient is the mask (on tensorflow; elsewhere it refuses to run)', () => {
    const x = tf.randomNormal([64, 128], 0, 1, 'float32', 12);
    if (!onTensorflow()) {
      expect(() => deviceDropout(x, 0.1, 42)).toThrow();
      return;
    }
    const a = deviceDropout(x, 0.1, 42);
    expect(maxDiff(a, deviceDropout(x, 0.1, 42))).toBe(0);
    expect(maxDiff(a, deviceDropout(x, 0.1, 43))).toBeGreaterThan(0);
    const kept = tf.notEqual(a, 0);
    const frac = tf.mean(tf.cast(kept, 'float32')).dataSync()[0]!;
    expect(frac).toBeGreaterThan(0.88);
    expect(frac).toBeLessThan(0.92);
    expect(maxDiff(tf.where(kept, tf.div(x, 0.9), tf.zerosLike(x)), a)).toBeLessThan(1e-6);
    const [dx] = tf.grads((t: tf.Tensor) => tf.sum(deviceDropout(t, 0.1, 42)) as tf.Scalar)([x]);
    expect(maxDiff(dx!, tf.where(kept, tf.fill(x.shape, 1 / 0.9), tf.zerosLike(x)))).toBeLessThan(1e-6);
  });

  it("retrieval hard negatives chosen on the device: the host's choice, ties to the lower column, same loss and gradient", () => {
    const rows = [
      [1.0, 0.2, 3.0, -1.0, 2.5, 0.0],
      [0.0, 2.0, 2.0, 2.0, -3.0, 2.0], // ties: columns 1 and 2 win
      [5.0, -1.0, -2.0, -3.0, -4.0, -5.0],
    ];
    const s = tf.tensor2d(rows);
    for (const hard of [1, 2, 5]) {
      const f = (t: tf.Tensor) => retrievalLoss(t as tf.Tensor2D, hard);
      setFastPaths('none');
      const [gHost] = tf.grads(f)([s]);
      const lHost = f(s).dataSync()[0]!;
      setFastPaths('all');
      const [gDev] = tf.grads(f)([s]);
      expect(f(s).dataSync()[0]).toBe(lHost);
      expect(Array.from(gDev!.dataSync()), `hard ${hard}`).toEqual(Array.from(gHost!.dataSync()));
    }
    // Scores computed inside the step (freed before the backward pass reaches the choice).
    const w = tf.variable(tf.tensor2d([[0.5], [-1], [2]]));
    const feats = tf.randomNormal([8, 3], 0, 1, 'float32', 13);
    const { grads } = tf.variableGrads(() => retrievalLoss(tf.matMul(feats, w).reshape([2, 4]) as tf.Tensor2D, 2), [w]);
    expect(Number.isFinite(grads[w.name]!.dataSync()[0]!)).toBe(true);
  });
});
