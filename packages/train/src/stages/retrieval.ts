// Image-text retrieval fine-tuning (Sec. 4.4): a score from an FC layer on [CLS]; for each true
// (image, caption) pair, softmax cross-entropy against `negatives` captions of other images, the
// gradient taken through only the `hardNegatives` highest-scoring of them; only the Transformer is
// fine-tuned unless the spec says otherwise. Tested by ranking every caption of the test split
// against every image (R@1/5/10 both ways): the CNN runs once per image, the text embedding once per
// caption, and only the encoder per pair. A row pre-trained with ITM starts its score head from the
// ITM head (matched − mismatched logit), as UNITER does; the paper does not say.
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { buildRetrievalTrainBatch, generatedScenes, readKarpathy, type CaptionExample, type KarpathyImage } from '@pixel-bert/data';
import { groupRankerRecall, recallAtK } from '@pixel-bert/eval';
import { embedImages, embedTexts, jointForward, retrievalHeadForward, retrievalHeadFromItm, retrievalLoss, retrievalScores } from '@pixel-bert/model';
import type { Evaluator, StageDef, StepBatch } from '../runner/types';
import { ROW_STAGE, StageInputError, forwardBatch, orderedBatch, pct, ranges, rowStagePart, textOptions, textTensors } from './common';

interface Split {
  /** Index into the stage's files of each image. */
  images: number[];
  /** Each image's id in the Karpathy file (`imgid`). */
  ids: number[];
  captions: { ids: number[]; image: number; type?: string }[];
}

export const retrieval: StageDef = {
  kind: 'retrieval',
  heads: () => ['retrieval'],
  ...ROW_STAGE,
  specPart: (spec) => rowStagePart(spec, spec.finetune.retrieval),
  schedule: (spec) => spec.finetune.retrieval,
  trains: (spec) => (spec.finetune.retrieval.finetuneCnn ? 'all' : 'transformer'),
  // A row pre-trained with ITM starts ranking with its ITM head (matched − mismatched logit).
  seedHeads(model, init) {
    const pre = init.find((s) => s.kind === 'stage' && s.stage === 'pretrain');
    if (pre?.kind !== 'stage' || !retrievalHeadFromItm(model, pre.weights)) return [];
    return ['the retrieval head from pretrain\'s ITM head (score = matched − mismatched logit)'];
  },
  provides: [],

  async prepare(ctx) {
    const { spec, root, tokenizer } = ctx;
    const r = spec.finetune.retrieval;
    const imageDir = join(root, 'flickr30k', 'flickr30k-images');
    const k = readKarpathy(join(root, 'flickr30k', 'dataset_flickr30k.json'), { maxBadFraction: spec.data.maxCorruptFraction, imageDir });
    const files: string[] = [];
    const split = (which: string, limit = 0): Split => {
      let ims: KarpathyImage[] = k.images.filter((im) => im.split === which || (which === 'train' && im.split === 'restval'));
      if (limit > 0) ims = ims.slice(0, limit);
      const out: Split = { images: [], ids: [], captions: [] };
      for (const im of ims) {
        const f = files.push(join(imageDir, im.relPath)) - 1;
        out.images.push(f);
        out.ids.push(im.id);
        im.sentences.forEach((s, j) => out.captions.push({ ids: tokenizer.ids(s), image: out.images.length - 1, ...(im.sentenceTypes?.[j] ? { type: im.sentenceTypes[j] } : {}) }));
      }
      return out;
    };
    // A generated world's scenes, for the reference that knows only each image's object count.
    const scenes = generatedScenes(root);
    const train = split('train');
    const val = split('val', spec.trainer.retrievalValImages);
    const test = split('test');
    const examples: CaptionExample[] = train.captions.map((c) => ({ imageIndex: train.images[c.image]!, ids: c.ids }));
    const otherImages = train.images.length - 1;
    if (examples.length === 0 || test.images.length === 0) throw new StageInputError(`retrieval: the train or test split of ${root}/flickr30k is empty`);
    const otherCaptions = examples.length - Math.max(...train.images.map((f) => examples.filter((e) => e.imageIndex === f).length));
    if (r.negatives > otherCaptions) {
      throw new StageInputError(`finetune.retrieval.negatives is ${r.negatives}, but a training caption has only ${otherCaptions} captions of other images to draw from (${otherImages} other images); set it to at most ${otherCaptions}`);
    }
    return {
      files,
      trainExamples: examples.length,
      describe: { trainCaptions: examples.length, trainImages: train.images.length, valImages: val.images.length, testImages: test.images.length, testCaptions: test.captions.length },
      batch: (c, batchSize) => toStepBatch(buildRetrievalTrainBatch(examples, c, { ...textOptions(spec, tokenizer, batchSize), negatives: r.negatives, ...(r.hard ? { hard: r.hard } : {}) })),
      validate: async (ev) => {
        const m = rank(await scoreMatrix(ev, val), val);
        return { tr_r1: m.tr['R@1']!, ir_r1: m.ir['R@1']! };
      },
      test: async (ev) => {
        const m = rank(await scoreMatrix(ev, test), test);
        const out: Record<string, number> = {
          'retrieval.test.tr_r1': m.tr['R@1']!,
          'retrieval.test.tr_r5': m.tr['R@5']!,
          'retrieval.test.tr_r10': m.tr['R@10']!,
          'retrieval.test.ir_r1': m.ir['R@1']!,
          'retrieval.test.ir_r5': m.ir['R@5']!,
          'retrieval.test.ir_r10': m.ir['R@10']!,
          'retrieval.test.tr_r1_se': m.se.tr,
          'retrieval.test.ir_r1_se': m.se.ir,
          'retrieval.test.images': test.images.length,
          'retrieval.test.captions': test.captions.length,
        };
        for (const [t, v] of Object.entries(m.irByType)) out[`retrieval.test.ir_r1.${t}`] = v;
        Object.assign(out, references(test, scenes));
        return out;
      },
    };

    /** S[i][c]: the model's score of image i with caption c, for every pair of the split. */
    async function scoreMatrix(ev: Evaluator, s: Split): Promise<Float32Array[]> {
      const all = orderedBatch(spec, tokenizer, s.captions.map((c) => c.ids), s.captions.map(() => 0));
      const T = all.text!.seqLen;
      const M = s.captions.length;
      const { ids, mask: tokenMask } = textTensors(all.text!);
      const words = tf.tidy(() => embedTexts(ev.model, ids, tokenMask)); // (M, T, d): once per caption
      const pixels: tf.Tensor3D[] = [];
      const pixelMasks: tf.Tensor2D[] = [];
      for (const [a, z] of ranges(s.images.length, spec.trainer.evalBatchSize)) {
        const im = await ev.images(s.images.slice(a, z));
        const e = tf.tidy(() => embedImages(ev.model, im.images, im.mask)); // the CNN once per image
        pixels.push(e.v);
        pixelMasks.push(e.mask);
        im.images.dispose();
        im.mask.dispose();
      }
      const V = tf.concat(pixels, 0) as tf.Tensor3D;
      const VM = tf.concat(pixelMasks, 0) as tf.Tensor2D;
      for (const t of [...pixels, ...pixelMasks]) t.dispose();
      const S = s.images.map(() => new Float32Array(M));
      const pairs = Math.max(1, spec.trainer.evalBatchSize);
      try {
        for (let i = 0; i < s.images.length; i++) {
          for (const [a, z] of ranges(M, pairs)) {
            const scores = tf.tidy(() => {
              const n = z - a;
              const img = tf.fill([n], i, 'int32');
              const w = words.slice([a, 0, 0], [n, T, -1]);
              const wm = tokenMask.slice([a, 0], [n, T]);
              const { pooled } = jointForward(ev.model, w, wm as tf.Tensor2D, tf.gather(V, img) as tf.Tensor3D, tf.gather(VM, img) as tf.Tensor2D);
              return retrievalHeadForward(ev.model.retrievalHead!, pooled).dataSync() as Float32Array;
            });
            S[i]!.set(scores, a);
          }
        }
      } finally {
        for (const t of [words, ids, tokenMask, V, VM]) t.dispose();
      }
      return S;
    }
  },

  loss(input) {
    const r = input.spec.finetune.retrieval;
    const out = forwardBatch(input, { backboneTraining: r.finetuneCnn });
    const scores = retrievalScores(input.model, out).reshape([input.batch.examples, input.batch.rowsPerExample]) as tf.Tensor2D;
    const l = retrievalLoss(scores, r.hardNegatives);
    return { total: l, parts: { retrieval: l } };
  },
};

function toStepBatch(b: ReturnType<typeof buildRetrievalTrainBatch>): StepBatch {
  return { examples: b.exampleIndex.length, rowsPerExample: b.groupSize, imageIndex: b.imageIndex, text: b.text, perRow: {}, perExample: {} };
}

/**
 * What reference rankers would score on the split, R@1/5/10 both ways (percent): `chance` (every
 * candidate tied) and, on a generated world, `counting` (a model that knows only how many objects
 * each image holds: it ties every candidate of the query's object count, puts the others last).
 */
function references(s: Split, scenes: ReturnType<typeof generatedScenes>): Record<string, number> {
  const captionImage = s.captions.map((c) => c.image);
  const out: Record<string, number> = {};
  const put = (name: string, r: ReturnType<typeof groupRankerRecall>) => {
    for (const dir of ['tr', 'ir'] as const) for (const [k, v] of Object.entries(r[dir])) out[`retrieval.test.${name}.${dir}_r${k.slice(2)}`] = pct(v);
  };
  put('chance', groupRankerRecall(s.images.map(() => 0), captionImage));
  if (scenes) put('counting', groupRankerRecall(s.ids.map((id) => scenes('flickr30k', id).objects.length), captionImage));
  return out;
}

/** Recall@K both ways (percent) from the score matrix, image retrieval R@1 per caption type. */
function rank(S: Float32Array[], s: Split) {
  const capsOf = s.images.map((_, i) => s.captions.flatMap((c, j) => (c.image === i ? [j] : [])));
  const rows = S.map((r) => Array.from(r));
  const cols = s.captions.map((_, j) => S.map((r) => r[j]!));
  const tr = recallAtK(rows, (q) => capsOf[q]!);
  const ir = recallAtK(cols, (q) => [s.captions[q]!.image]);
  const irByType: Record<string, number> = {};
  for (const t of new Set(s.captions.map((c) => c.type))) {
    if (!t) continue;
    const qs = s.captions.flatMap((c, j) => (c.type === t ? [j] : []));
    irByType[t] = pct(recallAtK(qs.map((j) => cols[j]!), (q) => [s.captions[qs[q]!]!.image], [1])['R@1']!.mean);
  }
  const p = (r: Record<string, { mean: number }>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, pct(v.mean)]));
  return { tr: p(tr), ir: p(ir), se: { tr: pct(tr['R@1']!.stderr), ir: pct(ir['R@1']!.stderr) }, irByType };
}
