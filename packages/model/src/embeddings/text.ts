import * as tf from '@tensorflow/tfjs';
import type { ParamScope } from '../params';
import {
  BERT_INIT_STD,
  createLayerNorm,
  dropout,
  layerNorm,
  type ForwardContext,
  type LayerNorm,
} from '../encoder/nn';

/**
 * Sentence feature embedding, Pixel-BERT eq. (4):
 *   ŵ_i = LayerNorm(w_i + p_i + s_w)
 * w_i: WordPiece embedding, p_i: learned position embedding, s_w: the text's
 * semantic (segment) embedding. s_w is row 0 of BERT's `token_type_embeddings`
 * table, so a BERT checkpoint imports unchanged (BERT adds row 0 for segment A).
 *
 * Token ids arrive with BERT's specials already placed: `[CLS] w_1 … w_n [SEP]`
 * then padding; `tokenMask` is 1 on real tokens, 0 on padding.
 */
export interface TextEmbeddingConfig {
  vocabSize: number;
  hidden: number;
  maxTextLength: number; // size of the position table (HF max_position_embeddings)
}

export interface TextEmbedding {
  config: TextEmbeddingConfig;
  word_embeddings: tf.Variable; // [V, d] — also the MLM decoder (tied)
  position_embeddings: tf.Variable; // [P, d]
  token_type_embeddings: tf.Variable; // [2, d]: row 0 = s_w
  LayerNorm: LayerNorm;
}

export function createTextEmbedding(scope: ParamScope, config: TextEmbeddingConfig): TextEmbedding {
  const { vocabSize, hidden, maxTextLength } = config;
  const init = { kind: 'truncatedNormal', std: BERT_INIT_STD } as const;
  return {
    config,
    word_embeddings: scope.child('word_embeddings').variable('weight', [vocabSize, hidden], init),
    position_embeddings: scope.child('position_embeddings').variable('weight', [maxTextLength, hidden], init),
    token_type_embeddings: scope.child('token_type_embeddings').variable('weight', [2, hidden], init),
    LayerNorm: createLayerNorm(scope.child('LayerNorm'), hidden),
  };
}

/**
 * Checks token ids before any kernel runs: rank, batch, table bounds.
 * Throws an Error naming the offending item and the allowed range.
 */
export function validateTokens(
  tokenIds: tf.Tensor,
  tokenMask: tf.Tensor | undefined,
  cfg: TextEmbeddingConfig,
): void {
  if (tokenIds.rank !== 2) {
    throw new Error(`tokenIds: expected rank 2 [batch, length], got shape [${tokenIds.shape.join(', ')}]`);
  }
  const [B, T] = tokenIds.shape as [number, number];
  if (B === 0) throw new Error('tokenIds: empty batch (batch size 0); need at least one example');
  if (T === 0) throw new Error('tokenIds: empty text (length 0); need at least [CLS]');
  if (T > cfg.maxTextLength) {
    throw new Error(
      `tokenIds: text length ${T} exceeds the position table (maxTextLength ${cfg.maxTextLength}); ` +
        `truncate the text to at most ${cfg.maxTextLength} tokens or build the model with a larger maxTextLength`,
    );
  }
  if (tokenMask !== undefined && (tokenMask.rank !== 2 || tokenMask.shape[0] !== B || tokenMask.shape[1] !== T)) {
    throw new Error(`tokenMask: expected shape [${B}, ${T}] like tokenIds, got [${tokenMask.shape.join(', ')}]`);
  }
  const ids = tokenIds.dataSync();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) {
      throw new Error(
        `tokenIds[${Math.floor(i / T)}][${i % T}] = ${id} is outside the vocabulary [0, ${cfg.vocabSize - 1}]`,
      );
    }
  }
}

export function textEmbeddingForward(
  p: TextEmbedding,
  tokenIds: tf.Tensor2D, // (B, T) int32
  ctx: ForwardContext,
): tf.Tensor3D {
  const [B, T] = tokenIds.shape;
  const d = p.config.hidden;
  const w = tf.gather(p.word_embeddings, tokenIds.flatten()).reshape([B, T, d]); // (B, T, d)
  const pos = p.position_embeddings.slice([0, 0], [T, d]); // (T, d): positions 0..T-1
  const s_w = p.token_type_embeddings.slice([0, 0], [1, d]); // (1, d)
  const e = layerNorm(p.LayerNorm, tf.add(tf.add(w, pos), s_w)); // (B, T, d)
  return dropout(ctx, e) as tf.Tensor3D;
}
