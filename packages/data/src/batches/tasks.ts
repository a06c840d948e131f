// Batch builders for each task. Each takes the examples as token-id rows (no [CLS]/[SEP]) plus an
// image index the loader resolves to pixels, and a BatchCursor: the batch is a pure function of
// (examples, options, seed, epoch, step).

import type { Rng } from '../rng';
import { batchIndices, batchRng, stepsPerEpoch, type BatchCursor } from './order';
import { IGNORE_INDEX, maskRow, packRows, wrapRow, type PackOptions, type SpecialIds, type TextBatch } from './text';

export interface TextOptions extends PackOptions {
  specials: SpecialIds;
  batchSize: number;
  /** Drop a short last batch (default false: every example is seen each epoch). */
  dropLast?: boolean;
}

/** A caption (or region phrase) of one image. */
export interface CaptionExample {
  imageIndex: number;
  ids: readonly number[];
}

// ---- pre-training: MLM and ITM ------------------------------------------------------------------

export interface PretrainOptions extends TextOptions {
  mlm: boolean;
  itm: boolean;
  vocabSize: number;
  /** MLM masking probability (paper Sec. 3.3: 0.15). */
  mlmProbability?: number;
  /**
   * Hard ITM negatives (not in the paper): with probability `fraction` the negative is, among
   * `candidates` captions of other images drawn at random, the one sharing the most words with the
   * positive (ties: the first drawn); never a caption whose words equal the positive's.
   */
  itmHard?: { fraction: number; candidates: number };
  /**
   * What an ITM negative replaces (default `caption`, the paper's: the image with another image's
   * caption). `image`: the positive's own caption with another image of the batch — the image of the
   * batch's caption sharing the most words with it when the negative is hard (`itmHard`; candidates:
   * the batch's other images), a random one of them otherwise. Every caption then appears as often in
   * a negative as in a positive, so the text alone tells nothing, and the CNN sees no extra image.
   */
  itmReplace?: 'caption' | 'image';
  /**
   * What text ITM sees when MLM is on (default `masked`, one forward for both tasks: the positive
   * row serves MLM and ITM, the negative is masked alike). `unmasked` (UNITER's and ViLT's way):
   * every example gets a third row — its masked caption for MLM first, then the positive and the
   * negative with whole captions for ITM (ITM label -1 on the MLM row) — so that a masked word
   * never hides what tells a negative from its positive. Without MLM nothing is masked either way.
   */
  itmText?: 'masked' | 'unmasked';
}

/** ITM label of a row that ITM does not score (the MLM row with `itmText: 'unmasked'`). */
export const ITM_IGNORE = -1;

export interface PretrainBatch {
  /**
   * [R] image of each row. R = B, or 2B with ITM (positive then its negative, interleaved), or 3B
   * with MLM and `itmText: 'unmasked'` (MLM row, ITM positive, ITM negative).
   */
  imageIndex: Int32Array;
  /** Text rows per example (R / B): 1, 2 or 3. */
  rowsPerExample: number;
  text: TextBatch;
  /** [R, T] original ids at masked positions, IGNORE_INDEX elsewhere; null without MLM. */
  mlmLabels: Int32Array | null;
  /** [R] 1 = the caption belongs to the image, 0 = it does not, ITM_IGNORE = no ITM on the row; null without ITM. */
  itmLabels: Int32Array | null;
  /** [B] indices of the positive examples used. */
  exampleIndex: Int32Array;
  /** [B] with ITM: index of the example whose caption is positive b's negative; null without ITM. */
  itmNegativeIndex: Int32Array | null;
}

/**
 * One pre-training batch. ITM (Sec. 3.3): every positive (image, its caption) is followed by one
 * negative, the same image with the caption of a different image drawn uniformly. MLM is learnt on
 * the positive rows only: predicting words of a caption that does not describe the image would teach
 * the model to ignore the image (UNITER, Chen et al. 2020, masks matched pairs only, likewise). The
 * negatives' inputs are masked all the same (labels ignored), so that masking gives ITM no clue.
 */
export function buildPretrainBatch(examples: readonly CaptionExample[], c: BatchCursor, o: PretrainOptions): PretrainBatch {
  if (!o.mlm && !o.itm) throw new Error('buildPretrainBatch: neither MLM nor ITM is enabled; a pre-training batch needs at least one task');
  const idx = batchIndices(examples.length, o.batchSize, c, o.dropLast);
  const rng = batchRng('pretrain', c);
  const rows: number[][] = [];
  const labels: number[][] = [];
  const images: number[] = [];
  const itm: number[] = [];
  const negatives: number[] = [];
  const separate = o.mlm && o.itm && o.itmText === 'unmasked';
  for (const i of idx) {
    const ex = examples[i] as CaptionExample;
    const row = wrapRow(ex.ids, o.specials, o.maxLength);
    if (o.mlm) {
      const m = maskRow(row, { specials: o.specials, vocabSize: o.vocabSize, probability: o.mlmProbability }, rng);
      rows.push(m.ids);
      labels.push(m.labels);
    } else rows.push(row);
    images.push(ex.imageIndex);
    if (o.itm) {
      if (separate) {
        // The MLM row is not an ITM row; the positive follows with its whole caption.
        itm.push(ITM_IGNORE);
        rows.push(row);
        labels.push(new Array<number>(row.length).fill(IGNORE_INDEX));
        images.push(ex.imageIndex);
      }
      itm.push(1);
      let negImage = ex.imageIndex;
      let negIds = ex.ids;
      if (o.itmReplace === 'image') {
        const neg = otherInBatch(examples, idx, ex, o.itmHard ? rng.next() < o.itmHard.fraction : false, rng);
        negatives.push(neg);
        negImage = examples[neg]!.imageIndex;
      } else {
        const neg = o.itmHard && rng.next() < o.itmHard.fraction ? drawSimilar(examples, ex, o.itmHard.candidates, rng) : drawOtherImage(examples, ex.imageIndex, rng);
        negatives.push(neg);
        negIds = examples[neg]!.ids;
      }
      const negRow = wrapRow(negIds, o.specials, o.maxLength);
      // The negative is masked like a positive (its words are not predicted): were only positives
      // masked, [MASK] itself would tell matched from mismatched pairs and ITM would learn that.
      rows.push(o.mlm && !separate ? maskRow(negRow, { specials: o.specials, vocabSize: o.vocabSize, probability: o.mlmProbability }, rng).ids : negRow);
      labels.push(new Array<number>(negRow.length).fill(IGNORE_INDEX));
      images.push(negImage);
      itm.push(0);
    }
  }
  const text = packRows(rows, o.specials, o);
  let mlmLabels: Int32Array | null = null;
  if (o.mlm) {
    mlmLabels = new Int32Array(text.batchSize * text.seqLen).fill(IGNORE_INDEX);
    labels.forEach((l, b) => l.forEach((v, t) => (mlmLabels![b * text.seqLen + t] = v)));
  }
  return { imageIndex: Int32Array.from(images), rowsPerExample: rows.length / idx.length, text, mlmLabels, itmLabels: o.itm ? Int32Array.from(itm) : null, exampleIndex: Int32Array.from(idx), itmNegativeIndex: o.itm ? Int32Array.from(negatives) : null };
}

/** The index of a caption of an image other than `imageIndex`, uniformly among the examples (rejection sampling). */
function drawOtherImage(examples: readonly CaptionExample[], imageIndex: number, rng: Rng): number {
  for (let tries = 0; tries < 1000; tries++) {
    const i = rng.int(examples.length);
    if ((examples[i] as CaptionExample).imageIndex !== imageIndex) return i;
  }
  const others = examples.flatMap((e, i) => (e.imageIndex !== imageIndex ? [i] : []));
  if (others.length === 0) throw new Error(`ITM needs captions of at least two images; all ${examples.length} examples belong to image ${imageIndex}`);
  return rng.pick(others);
}

/** Whether two captions are word for word the same. */
function sameWords(a: CaptionExample, b: CaptionExample): boolean {
  return a.ids.length === b.ids.length && a.ids.every((t, k) => t === b.ids[k]);
}

/** Words in common over words in either (Jaccard) of a caption's word set and another caption. */
function jaccard(words: ReadonlySet<number>, ids: readonly number[]): number {
  const other = new Set(ids);
  let shared = 0;
  for (const t of other) if (words.has(t)) shared++;
  return shared / (words.size + other.size - shared);
}

/** Of the `candidates` (example indices), the one sharing the most words with `ex`, never word for word `ex` (ties: the first); undefined when none is left. */
function mostSimilar(examples: readonly CaptionExample[], ex: CaptionExample, candidates: readonly number[]): number | undefined {
  const own = new Set(ex.ids);
  let best: number | undefined;
  let bestScore = -1;
  for (const i of candidates) {
    const e = examples[i] as CaptionExample;
    if (sameWords(e, ex)) continue;
    const score = jaccard(own, e.ids);
    if (score > bestScore) [best, bestScore] = [i, score];
  }
  return best;
}

/** Of `candidates` captions of other images, the one with the most words in common with `ex` (not word for word the same). */
function drawSimilar(examples: readonly CaptionExample[], ex: CaptionExample, candidates: number, rng: Rng): number {
  const drawn = Array.from({ length: candidates }, () => drawOtherImage(examples, ex.imageIndex, rng));
  return mostSimilar(examples, ex, drawn) ?? drawOtherImage(examples, ex.imageIndex, rng);
}

/**
 * For `itmReplace: 'image'`: an example of the batch with another image, whose image becomes `ex`'s
 * negative — the one whose caption shares the most words with `ex`'s (`hard`; ties: the first), or a
 * random one; never an image with a caption word for word ex's (ex's caption is true of it). A batch
 * without such an image draws from all examples instead.
 */
function otherInBatch(examples: readonly CaptionExample[], idx: ArrayLike<number>, ex: CaptionExample, hard: boolean, rng: Rng): number {
  const others = Array.from(idx).filter((i) => (examples[i] as CaptionExample).imageIndex !== ex.imageIndex && !sameWords(examples[i] as CaptionExample, ex));
  if (others.length === 0) return drawOtherImage(examples, ex.imageIndex, rng);
  return hard ? mostSimilar(examples, ex, others)! : rng.pick(others);
}

// ---- VQA ----------------------------------------------------------------------------------------

export interface VqaExample {
  imageIndex: number;
  ids: readonly number[];
  /** Sparse soft target over the answer vocabulary (readers' vqaSoftTarget). */
  target: { indices: readonly number[]; scores: readonly number[] };
}

export interface VqaBatch {
  imageIndex: Int32Array;
  text: TextBatch;
  /** [B, A] soft scores (Sec. 4.3: binary cross-entropy against these). */
  targets: Float32Array;
  answerVocabSize: number;
  exampleIndex: Int32Array;
}

export function buildVqaBatch(examples: readonly VqaExample[], c: BatchCursor, o: TextOptions & { answerVocabSize: number }): VqaBatch {
  const idx = batchIndices(examples.length, o.batchSize, c, o.dropLast);
  const A = o.answerVocabSize;
  const targets = new Float32Array(idx.length * A);
  const rows = idx.map((i, b) => {
    const ex = examples[i] as VqaExample;
    ex.target.indices.forEach((a, k) => {
      if (!(a >= 0 && a < A)) throw new Error(`VQA example ${i}: answer index ${a} outside the answer vocabulary (size ${A})`);
      targets[b * A + a] = ex.target.scores[k] as number;
    });
    return wrapRow(ex.ids, o.specials, o.maxLength);
  });
  return {
    imageIndex: Int32Array.from(idx.map((i) => (examples[i] as VqaExample).imageIndex)),
    text: packRows(rows, o.specials, o),
    targets,
    answerVocabSize: A,
    exampleIndex: Int32Array.from(idx),
  };
}

// ---- NLVR² --------------------------------------------------------------------------------------

export interface Nlvr2Example {
  /** [left (img0), right (img1)]. */
  imageIndex: readonly [number, number];
  ids: readonly number[];
  label: boolean;
}

export interface Nlvr2Batch {
  /** [2B]: rows 2i and 2i+1 are example i's left and right image with the same sentence
   * (the paper's "pair" setting: the two [CLS] vectors are concatenated for the classifier). */
  imageIndex: Int32Array;
  text: TextBatch;
  /** [B] 1 = true, 0 = false. */
  labels: Int32Array;
  exampleIndex: Int32Array;
}

export function buildNlvr2Batch(examples: readonly Nlvr2Example[], c: BatchCursor, o: TextOptions): Nlvr2Batch {
  const idx = batchIndices(examples.length, o.batchSize, c, o.dropLast);
  const rows: number[][] = [];
  const images: number[] = [];
  for (const i of idx) {
    const ex = examples[i] as Nlvr2Example;
    const row = wrapRow(ex.ids, o.specials, o.maxLength);
    rows.push(row, row);
    images.push(ex.imageIndex[0], ex.imageIndex[1]);
  }
  return {
    imageIndex: Int32Array.from(images),
    text: packRows(rows, o.specials, o),
    labels: Int32Array.from(idx.map((i) => ((examples[i] as Nlvr2Example).label ? 1 : 0))),
    exampleIndex: Int32Array.from(idx),
  };
}

// ---- image-text retrieval -----------------------------------------------------------------------

export interface RetrievalTrainBatch {
  /** [B·(1+K)]: group g = rows g·(1+K) … g·(1+K)+K, all of the same image. */
  imageIndex: Int32Array;
  /** Row g·(1+K) is the true caption, the next K are captions of other images. */
  text: TextBatch;
  groupSize: number;
  exampleIndex: Int32Array;
}

/** Per examples array: each image's captions (as id strings), to tell a true caption from a negative. */
const captionsOfImage = new WeakMap<readonly CaptionExample[], Map<number, Set<string>>>();
function imageCaptions(examples: readonly CaptionExample[]): Map<number, Set<string>> {
  let m = captionsOfImage.get(examples);
  if (!m) {
    m = new Map();
    for (const e of examples) {
      let set = m.get(e.imageIndex);
      if (!set) m.set(e.imageIndex, (set = new Set()));
      set.add(e.ids.join(' '));
    }
    captionsOfImage.set(examples, m);
  }
  return m;
}

/**
 * Retrieval fine-tuning (Sec. 4.4): each positive (image, caption) with `negatives` (paper: 20)
 * captions of other images, drawn uniformly without repeats. A caption whose text is also one of the
 * positive image's own captions is not a negative (it describes the image word for word: in the
 * generated world half the captions do), so it is never drawn. The true caption is always first in
 * its group; the loss (softmax over the group, gradients through the hardest few) lives in train.
 * With `hard` (not in the paper), the first round(fraction × negatives) negatives of each group are
 * each, of `candidates` such captions, the one sharing the most words with the positive (as ITM's
 * hard negatives): captions that differ from it in an attribute or two rather than in everything.
 */
export function buildRetrievalTrainBatch(
  examples: readonly CaptionExample[],
  c: BatchCursor,
  o: TextOptions & { negatives: number; hard?: { fraction: number; candidates: number } },
): RetrievalTrainBatch {
  const idx = batchIndices(examples.length, o.batchSize, c, o.dropLast);
  const rng = batchRng('retrieval', c);
  const rows: number[][] = [];
  const images: number[] = [];
  for (const i of idx) {
    const ex = examples[i] as CaptionExample;
    rows.push(wrapRow(ex.ids, o.specials, o.maxLength));
    images.push(ex.imageIndex);
    const taken = new Set<number>();
    const own = imageCaptions(examples).get(ex.imageIndex)!;
    const draw = (): number => {
      for (let tries = 0; tries < 10_000; tries++) {
        const cand = rng.int(examples.length);
        const c = examples[cand] as CaptionExample;
        if (c.imageIndex !== ex.imageIndex && !taken.has(cand) && !own.has(c.ids.join(' '))) return cand;
      }
      throw new Error(`retrieval: could not draw ${o.negatives} distinct captions of images other than ${ex.imageIndex}, unlike its own captions, from ${examples.length} examples`);
    };
    const hardCount = o.hard ? Math.round(o.hard.fraction * o.negatives) : 0;
    const words = new Set(ex.ids);
    for (let k = 0; k < o.negatives; k++) {
      let j = draw();
      let best = k < hardCount ? jaccard(words, examples[j]!.ids) : 0;
      for (let n = 1; k < hardCount && n < o.hard!.candidates; n++) {
        const cand = draw();
        const score = jaccard(words, examples[cand]!.ids);
        if (score > best) [j, best] = [cand, score];
      }
      taken.add(j);
      rows.push(wrapRow((examples[j] as CaptionExample).ids, o.specials, o.maxLength));
      images.push(ex.imageIndex);
    }
  }
  return { imageIndex: Int32Array.from(images), text: packRows(rows, o.specials, o), groupSize: 1 + o.negatives, exampleIndex: Int32Array.from(idx) };
}

export interface RetrievalEvalBatch {
  /** Pairs (image, caption) of this batch; the score of pair k goes to matrix cell [image[k], caption[k]]. */
  image: Int32Array;
  caption: Int32Array;
  text: TextBatch;
}

/** Number of evaluation batches covering every (image, caption) pair of the test split. */
export function retrievalEvalSteps(numImages: number, numCaptions: number, batchSize: number): number {
  return stepsPerEpoch(numImages * numCaptions, batchSize);
}

/**
 * Batch `step` of the full ranking: all numImages × captions.length pairs in row-major order
 * (image-major), no randomness. Scoring every pair is what R@K over the whole split needs.
 */
export function retrievalEvalBatch(numImages: number, captions: readonly (readonly number[])[], step: number, o: Omit<TextOptions, 'dropLast'>): RetrievalEvalBatch {
  const M = captions.length;
  const total = numImages * M;
  const start = step * o.batchSize;
  if (!Number.isInteger(step) || step < 0 || start >= total) throw new Error(`retrieval eval: step ${step} outside 0..${retrievalEvalSteps(numImages, M, o.batchSize) - 1}`);
  const end = Math.min(total, start + o.batchSize);
  const image = new Int32Array(end - start);
  const caption = new Int32Array(end - start);
  const rows: number[][] = [];
  for (let k = start; k < end; k++) {
    image[k - start] = Math.floor(k / M);
    caption[k - start] = k % M;
    rows.push(wrapRow(captions[k % M] as readonly number[], o.specials, o.maxLength));
  }
  return { image, caption, text: packRows(rows, o.specials, o) };
}
