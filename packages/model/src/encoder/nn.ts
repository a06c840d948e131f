import * as tf from '@tensorflow/tfjs';
import { deviceDropout } from '../fast/dropout';
import { fastPaths, onTensorflow } from '../fast/fast-paths';
import { layerNormFast } from '../fast/layer-norm';
import type { ParamScope } from '../params';

/**
 * The few building blocks every Transformer part uses, as plain functions over
 * named variables (STYLE.md: no tf.layers subclasses).
 *
 * Weight layout: a Linear weight is stored [in, out] (TF layout), so the forward
 * pass is `x · W` — a plain, non-transposed 2-D matmul, the one product the wasm
 * backend runs on its fast (XNNPACK) path. PyTorch/HF store [out, in]; the BERT
 * importer transposes.
 */

/** BERT's initializer_range (Devlin et al., 2019; HF BertConfig default 0.02). */
export const BERT_INIT_STD = 0.02;
/** BERT's LayerNorm epsilon (HF BertConfig.layer_norm_eps default 1e-12). */
export const LAYER_NORM_EPS = 1e-12;

export interface Linear {
  weight: tf.Variable; // [in, out]
  bias: tf.Variable; // [out]
}

export function createLinear(scope: ParamScope, inDim: number, outDim: number): Linear {
  return {
    weight: scope.variable('weight', [inDim, outDim], { kind: 'truncatedNormal', std: BERT_INIT_STD }),
    bias: scope.variable('bias', [outDim], { kind: 'zeros' }),
  };
}

/** y = x·W + b over the last axis; any leading shape, done as one 2-D matmul. */
export function linear(p: Linear, x: tf.Tensor): tf.Tensor {
  const [inDim, outDim] = p.weight.shape as [number, number];
  const lead = x.shape.slice(0, -1);
  const y = tf.add(tf.matMul(x.reshape([-1, inDim]), p.weight), p.bias); // (N, out)
  return y.reshape([...lead, outDim]);
}

export interface LayerNorm {
  weight: tf.Variable; // γ [d]
  bias: tf.Variable; // β [d]
}

export function createLayerNorm(scope: ParamScope, dim: number): LayerNorm {
  return {
    weight: scope.variable('weight', [dim], { kind: 'ones' }),
    bias: scope.variable('bias', [dim], { kind: 'zeros' }),
  };
}

/** LayerNorm over the last axis (Ba et al., 2016), biased variance as in PyTorch. */
export function layerNorm(p: LayerNorm, x: tf.Tensor, eps = LAYER_NORM_EPS): tf.Tensor {
  if (fastPaths().layerNorm) return layerNormFast(x, p.weight, p.bias, eps); // same math, closed-form gradient
  const { mean, variance } = tf.moments(x, -1, true);
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(normed, p.weight), p.bias);
}

/** Exact (erf) GELU, as BERT's "gelu" activation: x·Φ(x). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
}

/**
 * What a forward pass needs besides its inputs: whether it trains (dropout on) and
 * a deterministic source of dropout seeds, so a run is reproducible from (seed, step).
 */
export interface ForwardContext {
  training: boolean;
  dropout: number;
  /** A fresh seed for each random op in this forward pass. */
  nextSeed: () => number;
}

export function forwardContext(training: boolean, dropout: number, seed = 0, step = 0): ForwardContext {
  let counter = 0;
  return {
    training,
    dropout,
    nextSeed: () => hashSeed(seed, step, counter++),
  };
}

/** Inverted dropout in training only (scaled by 1/(1-p) so eval needs no rescaling). */
export function dropout(ctx: ForwardContext, x: tf.Tensor, rate = ctx.dropout): tf.Tensor {
  if (!ctx.training || rate <= 0) return x;
  if (fastPaths().deviceDropout && onTensorflow()) return deviceDropout(x, rate, ctx.nextSeed()); // noise drawn by TensorFlow
  return tf.dropout(x, rate, undefined, ctx.nextSeed());
}

/** A 31-bit seed mixed from integers (splitmix-style avalanche; same inputs → same seed). */
export function hashSeed(...parts: number[]): number {
  let h = 0x9e3779b9 | 0;
  for (const p of parts) {
    h = Math.imul(h ^ (p | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    // Also mix in the high bits of large integers (steps can exceed 2^31).
    h = Math.imul(h ^ Math.floor(p / 2 ** 32), 0x27d4eb2f);
    h ^= h >>> 15;
  }
  return h >>> 1;
}
