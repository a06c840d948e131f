import * as tf from '@tensorflow/tfjs';
import type { ParamScope } from '../params';
import {
  createLayerNorm,
  createLinear,
  dropout,
  gelu,
  layerNorm,
  linear,
  type ForwardContext,
  type LayerNorm,
  type Linear,
} from './nn';

/**
 * The cross-modality Transformer of Pixel-BERT (Section 3.1/3.4): a BERT encoder
 * (Vaswani et al., 2017; Devlin et al., 2019) — post-LN blocks of multi-head
 * self-attention and a GELU feed-forward — over the joint sequence
 * `[CLS] w_1 … w_n [SEP] v_1 … v_k`.
 *
 * Parameter names follow Hugging Face `BertModel` one-to-one
 * (`encoder.layer.3.attention.self.query.weight`, …) so importing BERT is a
 * name mapping (weights transposed: ours are [in, out]).
 */
export interface EncoderConfig {
  hidden: number; // d
  layers: number; // L
  heads: number; // nh; d must divide by it
  ffn: number; // intermediate size (BERT: 4d)
}

export interface EncoderLayer {
  attention: {
    self: { query: Linear; key: Linear; value: Linear };
    output: { dense: Linear; LayerNorm: LayerNorm };
  };
  intermediate: { dense: Linear };
  output: { dense: Linear; LayerNorm: LayerNorm };
}

export interface Encoder {
  config: EncoderConfig;
  layer: EncoderLayer[];
}

export function createEncoder(scope: ParamScope, config: EncoderConfig): Encoder {
  const { hidden: d, layers, heads, ffn } = config;
  if (d % heads !== 0) {
    throw new Error(`encoder: hidden size ${d} is not a multiple of the number of heads ${heads}`);
  }
  const layer: EncoderLayer[] = [];
  for (let i = 0; i < layers; i++) {
    const s = scope.child('layer').child(i);
    const att = s.child('attention');
    layer.push({
      attention: {
        self: {
          query: createLinear(att.child('self').child('query'), d, d),
          key: createLinear(att.child('self').child('key'), d, d),
          value: createLinear(att.child('self').child('value'), d, d),
        },
        output: {
          dense: createLinear(att.child('output').child('dense'), d, d),
          LayerNorm: createLayerNorm(att.child('output').child('LayerNorm'), d),
        },
      },
      intermediate: { dense: createLinear(s.child('intermediate').child('dense'), d, ffn) },
      output: {
        dense: createLinear(s.child('output').child('dense'), ffn, d),
        LayerNorm: createLayerNorm(s.child('output').child('LayerNorm'), d),
      },
    });
  }
  return { config, layer };
}

/**
 * Additive attention mask from a validity mask: 0 where a key may be attended,
 * -10000 where it is padding (BERT's value: exp(-1e4) underflows to 0 in the
 * softmax, yet stays finite so fully padded rows give no NaN).
 */
export function additiveAttentionMask(validMask: tf.Tensor2D): tf.Tensor4D {
  const [B, L] = validMask.shape;
  return tf.mul(tf.sub(1, tf.cast(validMask, 'float32')), -10000).reshape([B, 1, 1, L]); // (B, 1, 1, L)
}

export interface EncoderOutput {
  hidden: tf.Tensor3D; // (B, L, d): last layer
  /** Per layer (B, nh, L, L) softmax probabilities (row = query, column = key); only on request. */
  attentions?: tf.Tensor4D[];
}

export function encoderForward(
  enc: Encoder,
  x: tf.Tensor3D, // (B, L, d): embedded joint sequence
  validMask: tf.Tensor2D, // (B, L): 1 real token/pixel, 0 padding
  ctx: ForwardContext,
  returnAttention = false,
): EncoderOutput {
  const mask = additiveAttentionMask(validMask);
  const attentions: tf.Tensor4D[] = [];
  let h: tf.Tensor3D = x;
  for (const layer of enc.layer) {
    const out = layerForward(enc.config, layer, h, mask, ctx);
    h = out.hidden;
    if (returnAttention) attentions.push(out.probs);
  }
  return returnAttention ? { hidden: h, attentions } : { hidden: h };
}

function layerForward(
  cfg: EncoderConfig,
  p: EncoderLayer,
  x: tf.Tensor3D, // (B, L, d)
  mask: tf.Tensor4D, // (B, 1, 1, L)
  ctx: ForwardContext,
): { hidden: tf.Tensor3D; probs: tf.Tensor4D } {
  const [B, L, d] = x.shape;
  const nh = cfg.heads;
  const hs = d / nh;
  const x2 = x.reshape([B * L, d]); // (B·L, d): projections stay 2-D matmuls
  const splitHeads = (t: tf.Tensor) => t.reshape([B, L, nh, hs]).transpose([0, 2, 1, 3]); // (B, nh, L, hs)

  // Multi-head self-attention: softmax(QKᵀ/√hs + mask) V
  const q = splitHeads(linear(p.attention.self.query, x2));
  const k = splitHeads(linear(p.attention.self.key, x2));
  const v = splitHeads(linear(p.attention.self.value, x2));
  const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(hs)), mask); // (B, nh, L, L)
  const probs = tf.softmax(scores) as tf.Tensor4D; // (B, nh, L, L)
  const context = tf
    .matMul(dropout(ctx, probs), v) // (B, nh, L, hs)
    .transpose([0, 2, 1, 3])
    .reshape([B * L, d]); // (B·L, d)
  const attnOut = dropout(ctx, linear(p.attention.output.dense, context));
  const h1 = layerNorm(p.attention.output.LayerNorm, tf.add(attnOut, x2)); // post-LN: (B·L, d)

  // Position-wise feed-forward with GELU
  const inter = gelu(linear(p.intermediate.dense, h1)); // (B·L, ffn)
  const ffOut = dropout(ctx, linear(p.output.dense, inter)); // (B·L, d)
  const h2 = layerNorm(p.output.LayerNorm, tf.add(ffOut, h1));
  return { hidden: h2.reshape([B, L, d]), probs };
}

/** BERT pooler: tanh(W·h_[CLS] + b), the sentence-pair summary used by the [CLS] heads. */
export interface Pooler {
  dense: Linear;
}

export function createPooler(scope: ParamScope, hidden: number): Pooler {
  return { dense: createLinear(scope.child('dense'), hidden, hidden) };
}

export function poolerForward(p: Pooler, hidden: tf.Tensor3D): tf.Tensor2D {
  const [B, , d] = hidden.shape;
  const cls = hidden.slice([0, 0, 0], [B, 1, d]).reshape([B, d]); // (B, d): the [CLS] position
  return tf.tanh(linear(p.dense, cls)) as tf.Tensor2D;
}

/** Closed-form parameter count of an encoder stack (no embeddings, no pooler). */
export function encoderParamCount({ hidden: d, layers, ffn }: EncoderConfig): number {
  const attention = 4 * (d * d + d) + 2 * d; // Q, K, V, output dense + LayerNorm
  const feedForward = d * ffn + ffn + ffn * d + d + 2 * d; // intermediate + output dense + LayerNorm
  return layers * (attention + feedForward);
}
