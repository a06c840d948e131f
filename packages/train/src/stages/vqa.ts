// VQA fine-tuning (Sec. 4.3): an MLP on [CLS] over the answer vocabulary, binary cross-entropy
// against the soft scores of the ten human answers. Trained on the train2014 questions; validated on
// the val2014 questions of Karpathy-val images and tested on those of Karpathy-test images (no image
// of either was pre-trained on), scored as the official evaluation scores (eval's vqaScore).
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { buildAnswerVocab, buildVqaBatch, readKarpathy, readVqa, vqaSoftTarget, type VqaExample, type VqaQuestion } from '@pixel-bert/data';
import { estimate, vqaScore } from '@pixel-bert/eval';
import { vqaLogits, vqaLoss } from '@pixel-bert/model';
import type { Evaluator, StageDef, StepBatch } from '../runner/types';
import { ROW_STAGE, StageInputError, argmaxRows, evalForward, firstN, forwardBatch, orderedBatch, pct, ranges, rowStagePart, textOptions } from './common';

export const vqa: StageDef = {
  kind: 'vqa',
  heads: () => ['vqa'],
  ...ROW_STAGE,
  specPart: (spec) => rowStagePart(spec, spec.finetune.vqa),
  schedule: (spec) => spec.finetune.vqa,
  provides: [],

  async prepare(ctx) {
    const { spec, root, tokenizer } = ctx;
    const coco = join(root, 'coco');
    const read = (sub: string) =>
      readVqa(join(root, 'vqa', `v2_OpenEnded_mscoco_${sub}_questions.json`), join(root, 'vqa', `v2_mscoco_${sub}_annotations.json`), {
        maxBadFraction: spec.data.maxCorruptFraction,
        imageDir: join(coco, sub),
      });
    const train = read('train2014');
    const held = read('val2014');
    const A = spec.finetune.vqa.answerVocabSize;
    const vocab = buildAnswerVocab(train.questions, { topK: A });
    if (vocab.answers.length < A) {
      throw new StageInputError(`finetune.vqa.answerVocabSize is ${A}, but the VQA training questions under ${root}/vqa have only ${vocab.answers.length} distinct answers; set it to at most ${vocab.answers.length}`);
    }
    // Karpathy's split of the COCO images decides which held-out questions validate and which test.
    const split = new Map(readKarpathy(join(coco, 'dataset_coco.json'), { maxBadFraction: 1 }).images.map((im) => [im.id, im.split]));
    const files: string[] = [];
    const fileIndex = new Map<string, number>();
    const imageOf = (sub: string, q: VqaQuestion) => {
      const f = join(coco, sub, q.imageFile!);
      let i = fileIndex.get(f);
      if (i === undefined) fileIndex.set(f, (i = files.push(f) - 1));
      return i;
    };
    const examples: VqaExample[] = train.questions.map((q) => ({ imageIndex: imageOf('train2014', q), ids: tokenizer.ids(q.question), target: vqaSoftTarget(q.answers ?? [], vocab) }));
    const evalSet = (which: string) =>
      held.questions.filter((q) => split.get(q.imageId) === which).map((q) => ({ q, imageIndex: imageOf('val2014', q), ids: tokenizer.ids(q.question) }));
    const val = firstN(evalSet('val'), spec.trainer.valItems);
    const test = evalSet('test');
    if (test.length === 0) throw new StageInputError(`VQA: no val2014 question under ${root}/vqa is on a Karpathy test image; the test split is empty`);
    // Chance: always the most frequent training answer.
    const top = vocab.answers[0]!;
    const chance = estimate(test.map(({ q }) => vqaScore(top, q.answers ?? []))).mean;

    const evaluate = async (ev: Evaluator, items: typeof test) => {
      const scores: number[] = [];
      const types: (string | undefined)[] = [];
      for (const [a, z] of ranges(items.length, spec.trainer.evalBatchSize)) {
        const part = items.slice(a, z);
        const b = orderedBatch(spec, tokenizer, part.map((x) => x.ids), part.map((x) => x.imageIndex));
        const pred = await evalForward(ev, b, (out) => argmaxRows(vqaLogits(ev.model, out).dataSync() as Float32Array, A));
        part.forEach(({ q }, i) => {
          scores.push(vqaScore(vocab.answers[pred[i]!]!, q.answers ?? []));
          types.push(q.type);
        });
      }
      return { scores, types };
    };
    return {
      files,
      trainExamples: examples.length,
      describe: { trainQuestions: examples.length, valQuestions: val.length, testQuestions: test.length, answers: A, chanceScore: pct(chance) },
      batch: (c, batchSize) => toStepBatch(buildVqaBatch(examples, c, { ...textOptions(spec, tokenizer, batchSize), answerVocabSize: A })),
      validate: async (ev) => ({ score: pct(estimate((await evaluate(ev, val)).scores).mean) }),
      test: async (ev) => {
        const { scores, types } = await evaluate(ev, test);
        const all = estimate(scores);
        const m: Record<string, number> = { 'vqa.test.score': pct(all.mean), 'vqa.test.score_se': pct(all.stderr), 'vqa.test.n': all.n, 'vqa.test.chance': pct(chance) };
        for (const t of new Set(types)) if (t) m[`vqa.test.score.${t}`] = pct(estimate(scores.filter((_, i) => types[i] === t)).mean);
        return m;
      },
    };
  },

  loss(input) {
    const out = forwardBatch(input);
    const logits = vqaLogits(input.model, out);
    const targets = tf.tensor2d(input.batch.perExample.targets as Float32Array, logits.shape);
    const l = vqaLoss(logits, targets);
    return { total: l, parts: { vqa: l } };
  },
};

function toStepBatch(b: ReturnType<typeof buildVqaBatch>): StepBatch {
  return { examples: b.exampleIndex.length, rowsPerExample: 1, imageIndex: b.imageIndex, text: b.text, perRow: {}, perExample: { targets: b.targets } };
}

