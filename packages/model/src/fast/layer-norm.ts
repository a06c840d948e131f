import * as tf from '@tensorflow/tfjs';

/**
 * LayerNorm over the last axis with its gradient written out (tf.customGrad), any backend.
 * The forward is the stock one op for op (moments, then (x − μ)·rsqrt(σ² + ε)·γ + β), so outputs
 * are bitwise equal; the backward is the closed form
 *   x̂ = (x − μ)·r,  r = 1/√(σ² + ε),  g = dy·γ
 *   dx = r·(g − mean(g) − x̂·mean(g·x̂)),  dγ = Σ dy·x̂,  dβ = Σ dy   (sums over the leading axes)
 * in 11 kernels where tfjs's tape replays ~25 (moments' broadcasts and reductions, each with its
 * own reshape/sum), with the JS-filled ones of Mean's stock gradient among them.
 */
export function layerNormFast(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const op = tf.customGrad(((xIn: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const { mean, variance } = tf.moments(xIn, -1, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(tf.sub(xIn, mean), rstd);
    save([xhat, rstd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, r, gs] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const lead = Array.from({ length: dy.rank - 1 }, (_, i) => i);
        const gh = tf.mul(dy, gs);
        const dx = tf.mul(r, tf.sub(tf.sub(gh, tf.mean(gh, -1, true)), tf.mul(xh, tf.mean(tf.mul(gh, xh), -1, true))));
        return [dx, tf.sum(tf.mul(dy, xh), lead), tf.sum(dy, lead)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, gamma, beta);
}
