// Prints the tfjs backend this machine will use (`TFJS_BACKEND` is honoured), and checks that a gradient runs on it.
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@pixel-bert/model';

const info = await initBackend({ quiet: true });
const g = tf.tidy(() => {
  const x = tf.randomNormal([1, 8, 8, 3], 0, 1, 'float32', 1);
  const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2);
  return tf.grad((k: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same').square().sum())(w).abs().sum().dataSync()[0];
});
const skipped = info.skipped.map((s) => `${s.name} (${s.reason})`).join('; ');
console.log(`backend: ${info.name}${info.provider ? ` via ${info.provider}` : ''}${skipped ? `; not used: ${skipped}` : ''}`);
if (!Number.isFinite(g)) {
  console.error('error: a conv2d gradient on this backend was not finite');
  process.exit(1);
}
