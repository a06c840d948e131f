// Pre-training (Sec. 3.3–3.4, 4.1): the row's MLM and/or ITM on COCO + Visual Genome captions, the
// sum of their losses; pixel random sampling keeps `count` feature pixels per image when the row
// turns it on, all of them otherwise. ITM: one negative (another image's caption) per positive.
import * as tf from '@tensorflow/tfjs';
import { ITM_IGNORE, buildPretrainBatch, captionDifference, readPretrainCorpus, specialIdsOf, type CaptionExample, type DifferenceKind, type PretrainOptions, type WordPieceTokenizer } from '@pixel-bert/data';
import { itmLogits, itmLoss, mlmLogits, mlmLoss, mlmTargetsFor, type PixelBertOutput, type TaskHead } from '@pixel-bert/model';
import type { Spec } from '@pixel-bert/spec';
import type { Evaluator, StageContext, StageDef, StepBatch } from '../runner/types';
import { pixelStreamMetrics } from './pixel-stream';
import { ROW_STAGE, StageInputError, argmaxRows, cocoValCaptions, evalForward, firstN, forwardBatch, mlmHits, pct, rowStagePart, textOptions } from './common';

const tasks = (spec: Spec) => (['mlm', 'itm'] as const).filter((t) => spec.pretrain.tasks[t]);

/** Whether MLM trains in this epoch (0-based): beside ITM, from `pretrain.mlm.fromEpoch` on (ITM first); alone, always. */
export function mlmInEpoch(spec: Spec, epoch: number): boolean {
  const { tasks, mlm } = spec.pretrain;
  return tasks.mlm && (!tasks.itm || epoch >= (mlm.fromEpoch ?? 0));
}

/** Batch options; `epoch` (training batches) applies the ITM-first schedule, without it (evaluation) every task of the row is on. */
function pretrainOptions(spec: Spec, ctx: Pick<StageContext, 'tokenizer'>, batchSize: number, epoch?: number): PretrainOptions {
  return { ...textOptions(spec, ctx.tokenizer, batchSize), mlm: epoch === undefined ? spec.pretrain.tasks.mlm : mlmInEpoch(spec, epoch), itm: spec.pretrain.tasks.itm, vocabSize: ctx.tokenizer.vocabSize, mlmProbability: spec.pretrain.mlm.probability, ...(spec.pretrain.itm.hard ? { itmHard: spec.pretrain.itm.hard } : {}), ...(spec.pretrain.itm.replace ? { itmReplace: spec.pretrain.itm.replace } : {}), ...(spec.pretrain.itm.text ? { itmText: spec.pretrain.itm.text } : {}) };
}

export function toStepBatch(b: ReturnType<typeof buildPretrainBatch>): StepBatch {
  const perRow: StepBatch['perRow'] = {};
  if (b.mlmLabels) perRow.mlm = b.mlmLabels;
  if (b.itmLabels) perRow.itm = b.itmLabels;
  return { examples: b.exampleIndex.length, rowsPerExample: b.rowsPerExample, imageIndex: b.imageIndex, text: b.text, perRow, perExample: {} };
}

/**
 * The batch with every row's image replaced by the next distinct image of the batch (captions,
 * masks and labels unchanged); undefined when the batch has a single image. MLM accuracy on it,
 * beside the accuracy with the true images, says how much of MLM comes from the image at all.
 */
export function withOtherImages(b: StepBatch): StepBatch | undefined {
  const distinct = [...new Set(b.imageIndex)];
  if (distinct.length < 2) return undefined;
  const next = new Map(distinct.map((f, i) => [f, distinct[(i + 1) % distinct.length]!]));
  return { ...b, imageIndex: Int32Array.from(b.imageIndex, (f) => next.get(f)!) };
}

/** A caption's words from its WordPiece ids (continuation pieces joined to their word). */
function wordsOf(tokenizer: WordPieceTokenizer, ids: readonly number[]): string[] {
  const words: string[] = [];
  for (const id of ids) {
    const t = tokenizer.vocab.token(id);
    if (t.startsWith(tokenizer.prefix) && words.length) words[words.length - 1] += t.slice(tokenizer.prefix.length);
    else words.push(t);
  }
  return words;
}

/** Counts one outcome (1 hit, 0 miss, ½ a tie) under `key`. */
function tally(map: Map<string, { hit: number; n: number }>, key: string, hit: number): void {
  const acc = map.get(key) ?? { hit: 0, n: 0 };
  acc.hit += hit;
  acc.n++;
  map.set(key, acc);
}

/** Adds one evaluation forward's MLM hits (rows with masked words) to `acc`. */
function countMlm(acc: { hit: number; n: number }, ev: Evaluator, out: PixelBertOutput, labels: ArrayLike<number>): void {
  const t = mlmTargetsFor(ev.model, out, labels);
  if (!t.labels.length) return;
  const h = mlmHits(mlmLogits(ev.model, out, t), t.labels);
  acc.hit += h.hit;
  acc.n += h.n;
}

/** ITM loss over the rows ITM scores (labels other than ITM_IGNORE: with `itm.text: unmasked` the MLM rows are not). */
export function itmPart(logits: tf.Tensor2D, labels: ArrayLike<number>): tf.Scalar {
  const rows = Array.from(labels).flatMap((l, r) => (l === ITM_IGNORE ? [] : [r]));
  if (rows.length === labels.length) return itmLoss(logits, labels);
  return itmLoss(tf.gather(logits, rows), rows.map((r) => labels[r]!));
}

export const pretrain: StageDef = {
  kind: 'pretrain',
  heads: (spec) => tasks(spec) as TaskHead[],
  ...ROW_STAGE,
  specPart: (spec) => rowStagePart(spec, spec.pretrain),
  schedule: (spec) => spec.pretrain,
  provides: ['backbone.', 'pixel_embeddings.', 'embeddings.', 'encoder.', 'pooler.'],

  async prepare(ctx) {
    const { spec } = ctx;
    if (tasks(spec).length === 0) throw new StageInputError('pre-training needs at least one task (pretrain.tasks.mlm or .itm)');
    const corpus = readPretrainCorpus(ctx.root, { datasets: spec.pretrain.datasets, tokenizer: ctx.tokenizer, maxBadFraction: spec.data.maxCorruptFraction });
    if (corpus.examples.length === 0) throw new StageInputError(`pre-training: no captions under ${ctx.root} for ${spec.pretrain.datasets.join(' + ')}`);
    const files = [...corpus.files];
    const val = firstN(cocoValCaptions(ctx, files), spec.trainer.valItems);
    const evalOpts = pretrainOptions(spec, ctx, spec.trainer.evalBatchSize);
    const differenceOf = (examples: readonly CaptionExample[], pos: number, neg: number): DifferenceKind =>
      captionDifference(wordsOf(ctx.tokenizer, examples[pos]!.ids), wordsOf(ctx.tokenizer, examples[neg]!.ids));
    return {
      files,
      trainExamples: corpus.examples.length,
      describe: { captions: corpus.examples.length, images: corpus.files.length, valCaptions: val.length, sets: spec.pretrain.datasets.join('+') },
      batch: (c, batchSize) => toStepBatch(buildPretrainBatch(corpus.examples, c, pretrainOptions(spec, ctx, batchSize, c.epoch))),
      validate: async (ev) => {
        // Held-out captions of Karpathy val images, masked and paired as in training, with a fixed draw.
        const mlm = { hit: 0, n: 0 };
        const mlmOther = { hit: 0, n: 0 };
        const itm = { hit: 0, n: 0 };
        // ITM per kind of pair: the matched ones, and the negatives by what tells them from the positive
        // (with hard negatives: the attribute a model must read from the pixels to refuse them).
        const itmBy = new Map<string, { hit: number; n: number }>();
        const rankBy = new Map<string, { hit: number; n: number }>();
        for (let step = 0; step * evalOpts.batchSize < val.length; step++) {
          const raw = buildPretrainBatch(val, { seed: 0, epoch: 0, step }, evalOpts);
          const b = toStepBatch(raw);
          if (b.perRow.mlm) {
            // The same masked captions with another image of the batch: how much MLM reads the image.
            const other = withOtherImages(b);
            if (other) await evalForward(ev, other, (out) => countMlm(mlmOther, ev, out, other.perRow.mlm!));
          }
          await evalForward(ev, b, (out) => {
            if (b.perRow.mlm) countMlm(mlm, ev, out, b.perRow.mlm);
            if (b.perRow.itm) {
              const logits = itmLogits(ev.model, out).dataSync() as Float32Array;
              const pred = argmaxRows(logits, 2);
              const margin = (r: number): number => logits[2 * r + 1]! - logits[2 * r]!;
              // Each example's last two rows are its ITM pair: the positive, then its negative
              // (before them, with `itm.text: unmasked`, the example's MLM row).
              const g = b.rowsPerExample;
              for (let i = 0; i < b.examples; i++) {
                const [p, q] = [i * g + g - 2, i * g + g - 1];
                const kind = differenceOf(val, raw.exampleIndex[i]!, raw.itmNegativeIndex![i]!);
                const [pos, neg] = [pred[p] === 1 ? 1 : 0, pred[q] === 0 ? 1 : 0];
                itm.hit += pos + neg;
                itm.n += 2;
                tally(itmBy, 'matched', pos);
                tally(itmBy, kind, neg);
                // Ranking: does the caption of the image score above its negative (no threshold, what retrieval asks)?
                const d = margin(p) - margin(q);
                const rank = d > 0 ? 1 : d === 0 ? 0.5 : 0;
                tally(rankBy, 'all', rank);
                tally(rankBy, kind, rank);
              }
            }
          });
        }
        const m: Record<string, number> = {};
        if (mlm.n) m.mlm_accuracy = pct(mlm.hit / mlm.n);
        if (mlmOther.n) m.mlm_accuracy_other_image = pct(mlmOther.hit / mlmOther.n);
        if (itm.n) m.itm_accuracy = pct(itm.hit / itm.n);
        for (const [k, v] of [...itmBy].sort(([a], [b]) => a.localeCompare(b))) m[`itm_accuracy_${k}`] = pct(v.hit / v.n);
        for (const [k, v] of [...rankBy].sort(([a], [b]) => a.localeCompare(b))) m[k === 'all' ? 'itm_ranking' : `itm_ranking_${k}`] = pct(v.hit / v.n);
        return m;
      },
      // On a generated world: how plainly the pixel stream carries colour and shape (pixel-stream.ts).
      test: async (ev) => pixelStreamMetrics(ev.model, ctx.root, specialIdsOf(ctx.tokenizer)),
    };
  },

  loss(input) {
    const { spec, batch } = input;
    const ps = spec.pretrain.pixelSampling;
    const out = forwardBatch(input, ps.enabled ? { pixelSampling: { count: ps.count } } : {});
    const parts: Record<string, tf.Scalar> = {};
    if (batch.perRow.mlm) {
      const t = mlmTargetsFor(input.model, out, batch.perRow.mlm);
      if (t.labels.length) parts.mlm = mlmLoss(mlmLogits(input.model, out, t), t);
    }
    if (batch.perRow.itm) parts.itm = itmPart(itmLogits(input.model, out), batch.perRow.itm);
    // the parts are logged as they are; the total weighs them (pretrain.<task>.weight, 1 = the paper's sum)
    const weight = { mlm: spec.pretrain.mlm.weight ?? 1, itm: spec.pretrain.itm.weight ?? 1 };
    const total = Object.entries(parts)
      .map(([k, v]) => {
        const w = weight[k as keyof typeof weight];
        return w === 1 ? v : (tf.mul(v, w) as tf.Scalar);
      })
      .reduce((a, b) => tf.add(a, b) as tf.Scalar);
    return { total, parts };
  },
};
