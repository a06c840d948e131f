import * as tf from '@tensorflow/tfjs';
import { fusedBatchNormTrain } from '../fast/batch-norm';
import { fastPaths, onTensorflow } from '../fast/fast-paths';
import type { ParamScope } from '../params';

/**
 * Conv and batch-norm as plain functions over named variables. Weights are stored in tfjs's
 * layout ([kh, kw, in/groups, out]) under torchvision's names; the importer transposes
 * PyTorch's [out, in/groups, kh, kw] once at load time.
 */

export type GroupedConvMode = 'split' | 'blockDiagonal';

export interface Conv {
  weight: tf.Variable;
  stride: number;
  /** PyTorch-style symmetric zero padding (k // 2). tfjs 'same' pads bottom/right more at stride 2. */
  pad: number;
  groups: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
}

export function createConv(
  scope: ParamScope,
  name: string,
  inChannels: number,
  outChannels: number,
  kernel: number,
  stride: number,
  groups = 1,
  randomInit = true,
): Conv {
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new Error(`${scope.fullName(name)}: channels ${inChannels}→${outChannels} do not divide into ${groups} groups`);
  }
  // torchvision: kaiming_normal_(mode='fan_out', nonlinearity='relu'), fan_out = out·kh·kw.
  const weight = scope.variable(
    `${name}.weight`,
    [kernel, kernel, inChannels / groups, outChannels],
    randomInit ? { kind: 'heNormal', fanIn: outChannels * kernel * kernel } : { kind: 'zeros' },
  );
  return { weight, stride, pad: Math.floor(kernel / 2), groups, inChannels, outChannels, kernel };
}

/**
 * tfjs's conv2d has no `groups`. Two ways to build a grouped convolution:
 * - split: one conv per group on its slice of channels, outputs concatenated;
 * - blockDiagonal: one conv with a full [k, k, in, out] kernel that is zero off the diagonal
 *   blocks (`groups`× the multiply-adds, but a single kernel call).
 * Which is faster depends on the backend and on `groups` (measured in ../backbone/bench.ts);
 * `groupedConvMode` picks per call.
 */
export function conv2d(x: tf.Tensor4D, c: Conv, mode?: GroupedConvMode): tf.Tensor4D {
  const [xp, pad] = torchPadding(x, c.kernel, c.stride, c.pad);
  if (c.groups === 1) return tf.conv2d(xp, c.weight as tf.Tensor4D, c.stride, pad);
  const m = mode ?? groupedConvMode(c.groups);
  if (m === 'blockDiagonal') return tf.conv2d(xp, blockDiagonal(c), c.stride, pad);
  const xs = tf.split(xp, c.groups, 3);
  const ws = tf.split(c.weight as tf.Tensor4D, c.groups, 3);
  const ys = xs.map((xi, g) => tf.conv2d(xi as tf.Tensor4D, ws[g]! as tf.Tensor4D, c.stride, pad));
  return tf.concat(ys, 3) as tf.Tensor4D;
}

/**
 * PyTorch pads k//2 on every side. tfjs 'same' equals that only at stride 1 (odd k); at stride 2
 * TF-style 'same' pads bottom/right only, which shifts every window. The tensorflow backend
 * accepts only 'same'/'valid', so strided padded convs pad the input explicitly.
 */
export function torchPadding(x: tf.Tensor4D, kernel: number, stride: number, pad: number): [tf.Tensor4D, 'same' | 'valid'] {
  if (pad === 0) return [x, 'valid'];
  if (stride === 1 && kernel % 2 === 1 && pad === (kernel - 1) / 2) return [x, 'same'];
  return [tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]), 'valid'];
}

/**
 * torchvision's stem max-pool (3×3, stride 2, padding 1). Its input comes out of a ReLU, so
 * zero padding gives the same maxima as PyTorch's −∞ padding.
 */
export function stemMaxPool(x: tf.Tensor4D): tf.Tensor4D {
  return tf.maxPool(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, 'valid');
}

/** The grouped kernel [k, k, in/g, out] as a full [k, k, in, out] one, zero between groups. */
export function blockDiagonal(c: Conv): tf.Tensor4D {
  const cin = c.inChannels / c.groups;
  const blocks = tf.split(c.weight as tf.Tensor4D, c.groups, 3).map((w, g) =>
    tf.pad(w, [[0, 0], [0, 0], [g * cin, c.inChannels - (g + 1) * cin], [0, 0]]),
  );
  return tf.concat(blocks, 3) as tf.Tensor4D;
}

let modeOverride: GroupedConvMode | undefined;

/** For benchmarks and tests: force one strategy (undefined restores the automatic choice). */
export function setGroupedConvMode(mode: GroupedConvMode | undefined): void {
  modeOverride = mode;
}

/**
 * Block-diagonal wastes (groups − 1)/groups of its multiply-adds; splitting costs one kernel
 * call per group. Measured (src/kernels/bench.ts, forward + backward): at 4 groups, 64 channels,
 * 32², batch 32: split 545 ms vs 589 ms on wasm, 83 ms vs 193 ms on tensorflow; at 32 groups,
 * 512 channels, 14², batch 2: 144 ms vs 1600 ms (wasm), 25 ms vs 165 ms (tensorflow). So split,
 * at every group count measured; block-diagonal stays as a checked alternative.
 */
export function groupedConvMode(_groups: number): GroupedConvMode {
  return modeOverride ?? 'split';
}

export interface BatchNorm {
  weight: tf.Variable;
  bias: tf.Variable;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
  name: string;
}

/** PyTorch BatchNorm2d defaults. */
export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

export function createBatchNorm(scope: ParamScope, name: string, channels: number): BatchNorm {
  return {
    weight: scope.variable(`${name}.weight`, [channels], { kind: 'ones' }),
    bias: scope.variable(`${name}.bias`, [channels], { kind: 'zeros' }),
    runningMean: scope.buffer(`${name}.running_mean`, [channels], { kind: 'zeros' }),
    runningVar: scope.buffer(`${name}.running_var`, [channels], { kind: 'ones' }),
    name: scope.fullName(name),
  };
}

/**
 * Training mode normalises with the batch's statistics and moves the running ones (PyTorch:
 * momentum 0.1, unbiased variance for the running estimate). Eval mode (and frozen BN, as in
 * Detectron's FrozenBatchNorm) uses the running statistics: y = x·scale + shift.
 */
export function batchNorm(x: tf.Tensor4D, bn: BatchNorm, training: boolean): tf.Tensor4D {
  if (!training) {
    const scale = tf.mul(bn.weight, tf.rsqrt(tf.add(bn.runningVar, BN_EPS)));
    const shift = tf.sub(bn.bias, tf.mul(bn.runningMean, scale));
    return tf.add(tf.mul(x, scale), shift);
  }
  const n = x.size / x.shape[3];
  if (fastPaths().fusedBatchNorm && onTensorflow() && n > 1) {
    // Same math in TensorFlow's fused kernels (../fast/batch-norm): 2 kernels instead of ~37.
    const { y, mean, unbiasedVariance } = fusedBatchNormTrain(x, bn.weight as tf.Tensor1D, bn.bias as tf.Tensor1D, BN_EPS);
    tf.tidy(() => {
      bn.runningMean.assign(tf.add(tf.mul(bn.runningMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
      bn.runningVar.assign(tf.add(tf.mul(bn.runningVar, 1 - BN_MOMENTUM), tf.mul(unbiasedVariance, BN_MOMENTUM)));
    });
    tf.dispose([mean, unbiasedVariance]);
    return y;
  }
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  // Running statistics are state, not part of the loss: updated from detached copies.
  tf.tidy(() => {
    const m = tf.clone(mean);
    const v = tf.mul(variance, n > 1 ? n / (n - 1) : 1);
    bn.runningMean.assign(tf.add(tf.mul(bn.runningMean, 1 - BN_MOMENTUM), tf.mul(m, BN_MOMENTUM)));
    bn.runningVar.assign(tf.add(tf.mul(bn.runningVar, 1 - BN_MOMENTUM), tf.mul(v, BN_MOMENTUM)));
  });
  const scale = tf.mul(bn.weight, tf.rsqrt(tf.add(variance, BN_EPS)));
  return tf.add(tf.mul(tf.sub(x, mean), scale), bn.bias);
}
