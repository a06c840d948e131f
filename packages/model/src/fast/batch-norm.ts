import * as tf from '@tensorflow/tfjs';
import { attr, nodeBackend } from './fast-paths';

/**
 * Training-mode batch norm over NHWC by TensorFlow's fused kernels (tensorflow backend only):
 * FusedBatchNormV3 forward (normalise with the batch's biased variance, as PyTorch does) and
 * FusedBatchNormGradV3 for ∂x, ∂γ, ∂β — 2 kernels where the composed version runs ~37 forward
 * and backward (moments, rsqrt, broadcasts and their gradients). Also returns the batch mean
 * and the unbiased batch variance (n/(n−1), PyTorch's running-variance estimate), detached.
 */
export function fusedBatchNormTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
): { y: tf.Tensor4D; mean: tf.Tensor1D; unbiasedVariance: tf.Tensor1D } {
  let stats: { mean: tf.Tensor1D; unbiasedVariance: tf.Tensor1D } | undefined;
  const op = tf.customGrad(((xIn: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const backend = nodeBackend();
    const empty = tf.tensor1d([], 'float32'); // no running statistics in: training mode
    const [y, batchMean, batchVar, r1, r2, r3] = backend.executeMultipleOutputs(
      'FusedBatchNormV3',
      [
        attr.float32Type('T'),
        attr.float32Type('U'),
        attr.float('epsilon', eps),
        attr.float('exponential_avg_factor', 1),
        attr.string('data_format', 'NHWC'),
        attr.bool('is_training', true),
      ],
      [xIn, g, b, empty, empty],
      6,
    ) as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor, tf.Tensor, tf.Tensor];
    empty.dispose();
    // keep() lets the statistics outlive the kernel's scope; the caller disposes them.
    stats = { mean: tf.keep(batchMean), unbiasedVariance: tf.keep(batchVar) };
    save([xIn, g, r1, r2, r3]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, s1, s2, s3] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const [dx, dg, db, s4, s5] = nodeBackend().executeMultipleOutputs(
          'FusedBatchNormGradV3',
          [
            attr.float32Type('T'),
            attr.float32Type('U'),
            attr.float('epsilon', eps),
            attr.string('data_format', 'NHWC'),
            attr.bool('is_training', true),
          ],
          [dy, xs, gs, s1, s2, s3],
          5,
        ) as tf.Tensor[];
        s4!.dispose();
        s5!.dispose();
        return [dx!, dg!, db!];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = op(x, gamma, beta) as tf.Tensor4D;
  return { y, ...stats! };
}
