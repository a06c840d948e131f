// What the stage files share: text options from the spec, tensors of a batch, the forward pass of a
// batch, and evaluation in chunks.
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { packRows, readKarpathy, specialIdsOf, wrapRow, type CaptionExample, type TextBatch, type TextOptions, type WordPieceTokenizer } from '@pixel-bert/data';
import { pixelBertForward, type ForwardOptions, type PixelBertOutput } from '@pixel-bert/model';
import type { Spec } from '@pixel-bert/spec';
import type { Evaluator, LossInput, StageContext, StageDef, StepBatch } from '../runner/types';

/** A stage's data does not fit its spec (exit 2 before any training). */
export class StageInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StageInputError';
  }
}

export function textOptions(spec: Spec, tok: WordPieceTokenizer, batchSize: number): TextOptions {
  // Padding to the batch's longest row: captions are far shorter than maxTextLength, and the encoder's cost grows with the sequence.
  return { specials: specialIdsOf(tok), maxLength: spec.model.encoder.maxTextLength, batchSize, padTo: 'longest' };
}

export function textTensors(t: TextBatch): { ids: tf.Tensor2D; mask: tf.Tensor2D } {
  return { ids: tf.tensor2d(t.inputIds, [t.batchSize, t.seqLen], 'int32'), mask: tf.tensor2d(t.attentionMask, [t.batchSize, t.seqLen], 'int32') };
}

/** The model on a batch (rows mapped onto their images). */
export function forwardBatch(input: LossInput, extra: Partial<ForwardOptions> = {}): PixelBertOutput {
  const { model, batch, images } = input;
  if (!batch.text || !images) throw new Error('forwardBatch: the batch needs text and images');
  const { ids, mask } = textTensors(batch.text);
  return pixelBertForward(model, images.images, images.mask, ids, mask, {
    training: input.training,
    seed: input.seed,
    step: input.step,
    rowImage: images.rowImage,
    ...extra,
  });
}

/** [start, end) ranges of `n` items in chunks of `size`. */
export function ranges(n: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = 0; a < n; a += size) out.push([a, Math.min(n, a + size)]);
  return out;
}

/** The first `limit` items (0 = all). */
export function firstN<T>(items: readonly T[], limit: number): T[] {
  return limit > 0 ? items.slice(0, limit) : [...items];
}

/** Row-wise argmax of a (N, C) matrix given as its data. */
export function argmaxRows(values: Float32Array | Int32Array | Uint8Array, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r * cols < values.length; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (values[r * cols + c]! > values[r * cols + best]!) best = c;
    out.push(best);
  }
  return out;
}

/** Percent, rounded to 1e-4 (metric values in the contract are percentages). */
export const pct = (x: number) => Math.round(x * 1e6) / 1e4;

/**
 * Captions of the Karpathy `val` images of the COCO set (never pre-trained on, never a test image):
 * held-out text for the pre-training stages' validation. `files` grows by their images.
 */
export function cocoValCaptions(ctx: StageContext, files: string[]): CaptionExample[] {
  const dir = join(ctx.root, 'coco');
  const k = readKarpathy(join(dir, 'dataset_coco.json'), { maxBadFraction: ctx.spec.data.maxCorruptFraction, imageDir: dir });
  const out: CaptionExample[] = [];
  for (const im of k.images) {
    if (im.split !== 'val') continue;
    const imageIndex = files.push(join(dir, im.relPath)) - 1;
    for (const s of im.sentences) out.push({ imageIndex, ids: ctx.tokenizer.ids(s) });
  }
  return out;
}

/** Accuracy of MLM predictions at the labelled positions: correct count and total. */
export function mlmHits(logits: tf.Tensor2D, labels: Int32Array): { hit: number; n: number } {
  const pred = argmaxRows(logits.dataSync() as Float32Array, logits.shape[1]);
  let hit = 0;
  pred.forEach((p, i) => (hit += p === labels[i] ? 1 : 0));
  return { hit, n: pred.length };
}

/**
 * The model in evaluation mode on a batch; `read` turns its output into plain numbers inside a tidy
 * scope (every tensor of the pass is freed afterwards).
 */
export async function evalForward<T>(ev: Evaluator, b: StepBatch, read: (out: PixelBertOutput) => T): Promise<T> {
  const unique = [...new Set(b.imageIndex)];
  const pos = new Map(unique.map((f, i) => [f, i]));
  const im = await ev.images(unique);
  try {
    let result!: T;
    tf.tidy(() => {
      const out = forwardBatch({ model: ev.model, extra: ev.extra, batch: b, images: { ...im, rowImage: Int32Array.from(b.imageIndex, (f) => pos.get(f)!) }, training: false, seed: 0, step: 0, spec: ev.spec });
      result = read(out);
    });
    return result;
  } finally {
    im.images.dispose();
    im.mask.dispose();
  }
}

/** An evaluation batch in the items' own order: row r is `ids[r]` with the image `images[r]`. */
export function orderedBatch(spec: Spec, tok: WordPieceTokenizer, ids: readonly (readonly number[])[], images: readonly number[], rowsPerExample = 1): StepBatch {
  const o = textOptions(spec, tok, ids.length);
  return {
    examples: ids.length / rowsPerExample,
    rowsPerExample,
    imageIndex: Int32Array.from(images),
    text: packRows(ids.map((r) => wrapRow(r, o.specials, o.maxLength)), o.specials, o),
    perRow: {},
    perExample: {},
  };
}

/** What the stages that train the whole model at the row's seed and the paper's learning rates share. */
export const ROW_STAGE = {
  seed: (spec: Spec) => spec.seed,
  learningRates: (spec: Spec) => ({ cnn: spec.optim.cnn.lr, transformer: spec.optim.transformer.lr }),
  trains: () => 'all' as const,
  imageSize: (spec: Spec) => spec.model.run.image,
} satisfies Partial<StageDef>;

/**
 * An init stage's micro-batches (`optim.accumulation`) when there are several: they change its
 * batch-norm statistics and its losses' per-micro-batch means. Left out at 1 so that the hashes of
 * init stages computed before it was hashed stay valid.
 */
export function accumulationPart(spec: Spec): { accumulation?: number } {
  return spec.optim.accumulation === 1 ? {} : { accumulation: spec.optim.accumulation };
}

/**
 * The part of the spec a row stage's result depends on (its stage hash): its own section, the
 * model, the optimisers, the data and the evaluation sizes.
 */
export function rowStagePart(spec: Spec, own: unknown): unknown {
  const t = spec.trainer;
  return { own, model: spec.model, optim: spec.optim, data: spec.data, eval: { valItems: t.valItems, evalBatchSize: t.evalBatchSize, retrievalValImages: t.retrievalValImages } };
}
