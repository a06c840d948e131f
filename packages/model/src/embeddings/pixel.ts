import * as tf from '@tensorflow/tfjs';
import type { ParamScope } from '../params';
import {
  BERT_INIT_STD,
  createLayerNorm,
  createLinear,
  layerNorm,
  dropout,
  linear,
  type ForwardContext,
  type LayerNorm,
  type Linear,
} from '../encoder/nn';
import type { PixelSelection } from '../sampling/pixel-sampling';

/**
 * Image feature embedding, Pixel-BERT eq. (5):
 *   v̂_k = v_k + s_v
 * v_k: the k-th "pixel" of the CNN's pooled feature map, projected to the hidden
 * size by a 1×1 convolution (a Linear over channels: the CNN's C (2048 for
 * ResNet-50) must meet the Transformer's d); s_v: one visual semantic embedding
 * shared by all pixels — it tells the Transformer these tokens are visual, and,
 * being shared, acts as a bias on the CNN output (Section 3.2).
 *
 * The paper adds no spatial position embedding; `positionEmbedding: true` adds a
 * learned row + column embedding (an option for ablations, off by default).
 * No LayerNorm here by default: eq. (5) has none (the text side's eq. (4) has one). `layerNorm:
 * true` normalises each pixel token as eq. (4) does each word (LayerNorm(v_k + s_v)), as UNITER and
 * LXMERT do their visual features — an option off the paper's path (see experiments/scales/small.yaml).
 * Dropout (training only) as on BERT's embedding output, so both modalities
 * enter the encoder with the same regularisation.
 */
export interface PixelEmbeddingConfig {
  channels: number; // C of the backbone's output
  hidden: number; // d
  positionEmbedding: boolean;
  /** Largest feature grid side the position table covers (only with positionEmbedding). */
  maxGrid: number;
  /** LayerNorm over each pixel token (not in the paper; default off). */
  layerNorm?: boolean;
}

export interface PixelEmbedding {
  config: PixelEmbeddingConfig;
  projection: Linear; // [C, d]: the 1×1 convolution
  s_v: tf.Variable; // [d]
  row_embeddings?: tf.Variable; // [maxGrid, d]
  col_embeddings?: tf.Variable; // [maxGrid, d]
  LayerNorm?: LayerNorm;
}

export function createPixelEmbedding(scope: ParamScope, config: PixelEmbeddingConfig): PixelEmbedding {
  const { channels, hidden, positionEmbedding, maxGrid } = config;
  const init = { kind: 'truncatedNormal', std: BERT_INIT_STD } as const;
  const p: PixelEmbedding = {
    config,
    projection: createLinear(scope.child('projection'), channels, hidden),
    s_v: scope.variable('s_v', [hidden], init),
  };
  if (positionEmbedding) {
    p.row_embeddings = scope.child('row_embeddings').variable('weight', [maxGrid, hidden], init);
    p.col_embeddings = scope.child('col_embeddings').variable('weight', [maxGrid, hidden], init);
  }
  if (config.layerNorm) p.LayerNorm = createLayerNorm(scope.child('LayerNorm'), hidden);
  return p;
}

/**
 * Validity of each feature pixel from the validity of the image pixels: feature
 * cell (i, j) covers image rows [i·s, (i+1)·s) and columns [j·s, (j+1)·s), s the
 * backbone's total stride; it is valid when any image pixel in it is (images in a
 * batch are padded at the bottom/right to a common size). Image pixels beyond the
 * grid (the CNN's floor arithmetic drops partial cells) are ignored.
 * Returns (B·h·w) 0/1 in raster order.
 */
export function pixelMaskFromImageMask(
  imageMask: ArrayLike<number>, // (B·H·W) 1 image, 0 padding
  batch: number,
  imageH: number,
  imageW: number,
  grid: { h: number; w: number; stride: number },
): Float32Array {
  if (imageMask.length !== batch * imageH * imageW) {
    throw new Error(`imageMask: expected ${batch}×${imageH}×${imageW} entries, got ${imageMask.length}`);
  }
  const { h, w, stride } = grid;
  const out = new Float32Array(batch * h * w);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < Math.min(imageH, h * stride); y++) {
      const row = b * imageH * imageW + y * imageW;
      const cell = b * h * w + Math.floor(y / stride) * w;
      for (let x = 0; x < Math.min(imageW, w * stride); x++) {
        if (imageMask[row + x]! > 0) out[cell + Math.floor(x / stride)] = 1;
      }
    }
  }
  return out;
}

export function pixelEmbeddingForward(
  p: PixelEmbedding,
  features: tf.Tensor4D, // (B, h, w, C): the backbone's pooled map
  selection: PixelSelection, // which pixels enter the sequence (all, or a random sample)
  ctx: ForwardContext,
): tf.Tensor3D {
  const [B, h, w, C] = features.shape;
  const { hidden: d, maxGrid } = p.config;
  if (C !== p.config.channels) {
    throw new Error(`pixel embedding: feature map has ${C} channels, projection expects ${p.config.channels}`);
  }
  const k = selection.k;
  const flat = features.reshape([B * h * w, C]); // (B·h·w, C)
  // With every pixel selected in raster order the gather is the identity: skip it.
  const picked =
    k === h * w && isIdentity(selection.indices) ? flat : tf.gather(flat, tf.tensor1d(selection.indices, 'int32')); // (B·k, C)
  let v = tf.add(linear(p.projection, picked), p.s_v); // (B·k, d): v_k + s_v
  if (p.row_embeddings && p.col_embeddings) {
    if (h > maxGrid || w > maxGrid) {
      throw new Error(`pixel position embedding: grid ${h}×${w} exceeds the table size ${maxGrid}`);
    }
    const rows = new Int32Array(selection.indices.length);
    const cols = new Int32Array(selection.indices.length);
    selection.indices.forEach((flatIndex, i) => {
      const inImage = flatIndex % (h * w);
      rows[i] = Math.floor(inImage / w);
      cols[i] = inImage % w;
    });
    v = tf.add(v, tf.add(tf.gather(p.row_embeddings, rows), tf.gather(p.col_embeddings, cols)));
  }
  if (p.LayerNorm) v = layerNorm(p.LayerNorm, v);
  return dropout(ctx, v).reshape([B, k, d]) as tf.Tensor3D; // (B, k, d)
}

function isIdentity(indices: Int32Array): boolean {
  for (let i = 0; i < indices.length; i++) if (indices[i] !== i) return false;
  return true;
}
