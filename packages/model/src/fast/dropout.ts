import * as tf from '@tensorflow/tfjs';
import { attr, nodeBackend } from './fast-paths';

/**
 * Inverted dropout whose uniform noise is drawn by TensorFlow's StatelessRandomUniform (tensorflow
 * backend) instead of tfjs's JavaScript generator: keep = ⌊u + (1 − p)⌋, y = x·keep/(1 − p), the
 * formula of tf.dropout with only the source of u changed. A pure function of the seed, so a run
 * stays reproducible from (seed, step); the masks differ from the JavaScript generator's (and so
 * from the wasm/cpu backends', which keep tf.dropout).
 */
export function deviceDropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  const keepProb = 1 - rate;
  const multiplier = tf.tidy(() => {
    const shape = tf.tensor1d(x.shape, 'int32');
    const seeds = tf.tensor1d([seed | 0, 0x5eed], 'int32');
    const u = nodeBackend().executeSingleOutput(
      'StatelessRandomUniform',
      [attr.float32Type('dtype'), attr.int32Type('T'), attr.int32Type('Tseed')],
      [shape, seeds],
    );
    return tf.div(tf.floor(tf.add(u, keepProb)), keepProb);
  });
  return tf.mul(x, multiplier); // the multiplier is a constant: the gradient is dy·keep/(1 − p)
}
