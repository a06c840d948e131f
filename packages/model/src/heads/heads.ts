import * as tf from '@tensorflow/tfjs';
import type { ParamScope } from '../params';
import {
  createLayerNorm,
  createLinear,
  gelu,
  layerNorm,
  linear,
  type LayerNorm,
  type Linear,
} from '../encoder/nn';

/**
 * Task heads on the shared trunk (Pixel-BERT Sections 3.4 and 4.x). Each is a
 * small function of the encoder output; its loss is in ./losses.
 *
 * Names: the MLM head uses BERT's `cls.predictions.*` so a `BertForPreTraining`
 * checkpoint can seed it; the others are new (`itm_head`, `vqa_head`, …).
 */

// ── MLM (Section 3.4): predict masked words from text and pixels ──────────────
/** BERT's LM head: transform (dense + GELU + LayerNorm), then a decoder tied to the word embeddings + own bias. */
export interface MlmHead {
  transform: { dense: Linear; LayerNorm: LayerNorm };
  bias: tf.Variable; // [V]
}

export function createMlmHead(scope: ParamScope, hidden: number, vocabSize: number): MlmHead {
  const t = scope.child('transform');
  return {
    transform: { dense: createLinear(t.child('dense'), hidden, hidden), LayerNorm: createLayerNorm(t.child('LayerNorm'), hidden) },
    bias: scope.variable('bias', [vocabSize], { kind: 'zeros' }),
  };
}

/**
 * Vocabulary logits at the masked positions only: the hidden states are gathered
 * first, so the [·, V] decoder product (the costliest matmul in BERT
 * pre-training) runs on ~15 % of the text tokens instead of every position.
 */
export function mlmHeadForward(
  p: MlmHead,
  wordEmbeddings: tf.Variable, // [V, d], tied decoder weight
  hidden: tf.Tensor3D, // (B, L, d)
  positions: Int32Array, // (M) flat indices b·L + t of masked text tokens
): tf.Tensor2D {
  const [B, L, d] = hidden.shape;
  const picked = tf.gather(hidden.reshape([B * L, d]), tf.tensor1d(positions, 'int32')); // (M, d)
  const h = layerNorm(p.transform.LayerNorm, gelu(linear(p.transform.dense, picked))); // (M, d)
  return tf.add(tf.matMul(h, wordEmbeddings, false, true), p.bias) as tf.Tensor2D; // (M, V)
}

// ── ITM (Section 3.4): does this sentence describe this image? ──────────────
/** Binary classifier on the pooled [CLS]; class 1 = matched pair, 0 = mismatched. */
export type ItmHead = Linear;

export function createItmHead(scope: ParamScope, hidden: number): ItmHead {
  return createLinear(scope, hidden, 2);
}

export function itmHeadForward(p: ItmHead, pooled: tf.Tensor2D): tf.Tensor2D {
  return linear(p, pooled) as tf.Tensor2D; // (B, 2)
}

// ── Two-layer MLP classifier shared by VQA and NLVR² ─────────────────────────
/**
 * Linear(in, 2d) → GELU → LayerNorm → Linear(2d, out): the answer classifier of
 * the region-based VLP models Pixel-BERT compares with (UNITER/LXMERT), which the
 * paper's "MLP on [CLS]" is read as.
 */
export interface MlpClassifier {
  dense: Linear;
  LayerNorm: LayerNorm;
  classifier: Linear;
}

function createMlp(scope: ParamScope, inDim: number, hiddenDim: number, outDim: number): MlpClassifier {
  return {
    dense: createLinear(scope.child('dense'), inDim, hiddenDim),
    LayerNorm: createLayerNorm(scope.child('LayerNorm'), hiddenDim),
    classifier: createLinear(scope.child('classifier'), hiddenDim, outDim),
  };
}

function mlpForward(p: MlpClassifier, x: tf.Tensor2D): tf.Tensor2D {
  return linear(p.classifier, layerNorm(p.LayerNorm, gelu(linear(p.dense, x)))) as tf.Tensor2D;
}

// ── VQA (Section 4.2): multi-label answer classification ──────────────────────
export type VqaHead = MlpClassifier;

export function createVqaHead(scope: ParamScope, hidden: number, answerVocabSize: number): VqaHead {
  return createMlp(scope, hidden, 2 * hidden, answerVocabSize);
}

/** Answer logits (B, A); train with `vqaLoss` against soft scores. */
export function vqaHeadForward(p: VqaHead, pooled: tf.Tensor2D): tf.Tensor2D {
  return mlpForward(p, pooled);
}

// ── NLVR² (Section 4.3): "pair" setting ────────────────────────────────────────
export type Nlvr2Head = MlpClassifier;

export function createNlvr2Head(scope: ParamScope, hidden: number): Nlvr2Head {
  return createMlp(scope, 2 * hidden, 2 * hidden, 2);
}

/**
 * Each NLVR² example is the sentence with its left image and with its right
 * image, run through the model as two rows: rows 2i and 2i+1 of `pooled`
 * (left, right). Their [CLS] vectors are concatenated → 2-way (1 = statement true).
 */
export function nlvr2HeadForward(p: Nlvr2Head, pooled: tf.Tensor2D): tf.Tensor2D {
  const [twoB, d] = pooled.shape;
  if (twoB % 2 !== 0) {
    throw new Error(`NLVR² head: expected an even number of rows (left/right image per example), got ${twoB}`);
  }
  return mlpForward(p, pooled.reshape([twoB / 2, 2 * d])); // (B, 2)
}

// ── Image-text retrieval (Section 4.4) ─────────────────────────────────────────
/** A similarity score for an (image, text) pair from its pooled [CLS]. */
export type RetrievalHead = Linear;

export function createRetrievalHead(scope: ParamScope, hidden: number): RetrievalHead {
  return createLinear(scope, hidden, 1);
}

export function retrievalHeadForward(p: RetrievalHead, pooled: tf.Tensor2D): tf.Tensor1D {
  return linear(p, pooled).reshape([-1]) as tf.Tensor1D; // (B,)
}
