import * as tf from '@tensorflow/tfjs';
import { fastPaths } from '../fast/fast-paths';

/**
 * Losses of the task heads and their masking conventions.
 *
 * MLM labels follow BERT/HF: an int array (B·T) over the text positions, holding
 * the original token id where the input token was selected for prediction (the
 * 15 %, whatever the 80/10/10 replacement did to the input) and IGNORE_INDEX
 * (-100) everywhere else, padding and [CLS]/[SEP] included. The data package does
 * the masking; the model only reads the labels.
 */
export const IGNORE_INDEX = -100;

export interface MlmTargets {
  /** (M) flat indices b·L + t into the (B, L) joint sequence; text starts at 0. */
  positions: Int32Array;
  /** (M) token ids to predict at those positions. */
  labels: Int32Array;
}

/** Picks the labelled text positions out of (B, T) labels for a joint sequence of length L. */
export function mlmTargets(labels: ArrayLike<number>, batch: number, textLength: number, seqLength: number, vocabSize: number): MlmTargets {
  if (labels.length !== batch * textLength) {
    throw new Error(`MLM labels: expected ${batch}×${textLength} entries, got ${labels.length}`);
  }
  const positions: number[] = [];
  const ids: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < textLength; t++) {
      const y = labels[b * textLength + t]!;
      if (y === IGNORE_INDEX) continue;
      if (!Number.isInteger(y) || y < 0 || y >= vocabSize) {
        throw new Error(`MLM labels[${b}][${t}] = ${y}: expected ${IGNORE_INDEX} or a token id in [0, ${vocabSize - 1}]`);
      }
      positions.push(b * seqLength + t);
      ids.push(y);
    }
  }
  return { positions: Int32Array.from(positions), labels: Int32Array.from(ids) };
}

/**
 * Mean softmax cross-entropy over rows, from logits (N, C) and int class ids (N).
 * The one-hot is built as int32 and cast (the wasm backend's float32 oneHot is wrong).
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, classes: Int32Array | number[]): tf.Scalar {
  const [n, c] = logits.shape;
  if (classes.length !== n) throw new Error(`cross-entropy: ${n} rows of logits but ${classes.length} labels`);
  if (n === 0) throw new Error('cross-entropy: no rows (nothing to predict)');
  const oneHot = tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(classes), 'int32'), c, 1, 0, 'int32'), 'float32');
  const logp = tf.logSoftmax(logits); // (N, C)
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logp), 1))) as tf.Scalar;
}

/** MLM loss: mean cross-entropy over the masked positions (logits from `mlmHeadForward`). */
export function mlmLoss(logits: tf.Tensor2D, targets: MlmTargets): tf.Scalar {
  return softmaxCrossEntropy(logits, targets.labels);
}

/** ITM loss: 2-way cross-entropy; label 1 = the sentence matches the image, 0 = negative pair. */
export function itmLoss(logits: tf.Tensor2D, matched: ArrayLike<number>): tf.Scalar {
  return softmaxCrossEntropy(logits, Array.from(matched, (m) => (m ? 1 : 0)));
}

/** NLVR² loss: 2-way cross-entropy; label 1 = the statement is true of the image pair. */
export function nlvr2Loss(logits: tf.Tensor2D, labels: ArrayLike<number>): tf.Scalar {
  return softmaxCrossEntropy(logits, Array.from(labels, (m) => (m ? 1 : 0)));
}

/**
 * VQA loss: binary cross-entropy with logits against soft answer scores
 * (VQA v2: min(#annotators giving the answer / 3, 1) per answer), summed over
 * the answer vocabulary and averaged over questions — the convention of the
 * bottom-up/UNITER line of VQA classifiers (equal to the all-element mean × A),
 * so the loss scale does not shrink as the answer vocabulary grows.
 */
export function vqaLoss(logits: tf.Tensor2D, softScores: tf.Tensor2D): tf.Scalar {
  if (logits.shape.join() !== softScores.shape.join()) {
    throw new Error(`VQA loss: logits [${logits.shape.join(', ')}] and soft scores [${softScores.shape.join(', ')}] differ in shape`);
  }
  // Numerically stable BCE with logits: max(x,0) − x·z + log(1 + e^{−|x|})
  const x = logits;
  const z = softScores;
  const perAnswer = tf.add(tf.sub(tf.relu(x), tf.mul(x, z)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
  return tf.mean(tf.sum(perAnswer, 1)) as tf.Scalar;
}

/**
 * Retrieval loss with hard-negative mining (Section 4.4): each row of `scores`
 * is one query: column 0 the true pair, columns 1..N its negatives (paper: 20
 * random negatives). The softmax cross-entropy of the true pair is taken against
 * only the `hard` highest-scoring negatives of the row (paper: 5), so gradients
 * flow through the positive and those k negatives alone. The choice is made on the
 * device (top-k of the current scores; ties go to the lower column, as a stable sort
 * would) with no gradient through the choice itself; with the fast path
 * `deviceHardNegatives` off it is made on the host from the scores read back.
 */
export function retrievalLoss(scores: tf.Tensor2D, hard: number): tf.Scalar {
  const [B, cols] = scores.shape;
  const n = cols - 1;
  if (n < 1) throw new Error('retrieval loss: need at least one negative per query (scores must have ≥ 2 columns)');
  if (!Number.isInteger(hard) || hard < 1 || hard > n) {
    throw new Error(`retrieval loss: hard negatives must be an integer in [1, ${n}], got ${hard}`);
  }
  // Every negative kept: the plain softmax (and no one-hot of depth 1 when there is one negative).
  if (hard === n) return softmaxCrossEntropy(scores, new Array<number>(B).fill(0));
  const keepMask = fastPaths().deviceHardNegatives ? hardNegativeMaskOnDevice(scores, hard) : hardNegativeMaskOnHost(scores, hard);
  // Dropped negatives get −1e9: exp underflows to 0, so they neither count nor get gradient.
  const masked = tf.where(keepMask, scores, tf.fill([B, cols], -1e9)) as tf.Tensor2D;
  return softmaxCrossEntropy(masked, new Array<number>(B).fill(0));
}

/** (B, 1+N) bool: the true pair and the `hard` top-scoring negatives of each row, chosen on the device. */
function hardNegativeMaskOnDevice(scores: tf.Tensor2D, hard: number): tf.Tensor2D {
  const [B, cols] = scores.shape;
  // A custom gradient of zero cuts the tape here: TopK has no gradient, and the choice gets none.
  const choose = tf.customGrad(((s: tf.Tensor) => {
    const { indices } = tf.topk(s.slice([0, 1], [B, cols - 1]), hard); // (B, hard) among the N negatives
    // int32 one-hot then summed (the wasm backend's float32 oneHot is wrong): 1 at each chosen negative.
    const chosen = tf.sum(tf.oneHot(indices, cols - 1, 1, 0, 'int32'), 1); // (B, N)
    return { value: tf.concat([tf.ones([B, 1], 'int32'), chosen], 1), gradFunc: () => tf.zeros([B, cols]) }; // s itself may be freed by then
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return tf.cast(choose(scores), 'bool') as tf.Tensor2D;
}

/** The same mask from the scores read back to the host (stable sort: ties to the lower column). */
function hardNegativeMaskOnHost(scores: tf.Tensor2D, hard: number): tf.Tensor2D {
  const [B, cols] = scores.shape;
  const n = cols - 1;
  const values = scores.dataSync();
  const keep = new Int32Array(B * cols);
  for (let b = 0; b < B; b++) {
    keep[b * cols] = 1; // the true pair
    const negs = Array.from({ length: n }, (_, j) => j + 1).sort((i, j) => values[b * cols + j]! - values[b * cols + i]!);
    for (const j of negs.slice(0, hard)) keep[b * cols + j] = 1;
  }
  return tf.cast(tf.tensor2d(keep, [B, cols], 'int32'), 'bool') as tf.Tensor2D;
}
