// NLVR² fine-tuning (Sec. 4.3, "pair" setting): the statement goes through the model with the left
// image and with the right one; the two [CLS] vectors, concatenated, feed a 2-way classifier.
// Validated on dev, tested on test1: accuracy, consistency (all statements of an image pair right).
import { join } from 'node:path';
import { buildNlvr2Batch, readNlvr2, type Nlvr2Example } from '@pixel-bert/data';
import { consistency, estimate } from '@pixel-bert/eval';
import { nlvr2Logits, nlvr2Loss } from '@pixel-bert/model';
import type { Evaluator, StageDef, StepBatch } from '../runner/types';
import { ROW_STAGE, StageInputError, argmaxRows, evalForward, firstN, forwardBatch, orderedBatch, pct, ranges, rowStagePart, textOptions } from './common';

export const nlvr2: StageDef = {
  kind: 'nlvr2',
  heads: () => ['nlvr2'],
  ...ROW_STAGE,
  specPart: (spec) => rowStagePart(spec, spec.finetune.nlvr2),
  schedule: (spec) => spec.finetune.nlvr2,
  provides: [],

  async prepare(ctx) {
    const { spec, root, tokenizer } = ctx;
    const files: string[] = [];
    const read = (split: string) => {
      const imageDir = join(root, 'nlvr2', 'images', split);
      const ds = readNlvr2(join(root, 'nlvr2', 'data', `${split}.json`), { maxBadFraction: spec.data.maxCorruptFraction, imageDir });
      return ds.items.map((it) => ({ it, ids: tokenizer.ids(it.sentence), imageIndex: [files.push(join(imageDir, it.images[0])) - 1, files.push(join(imageDir, it.images[1])) - 1] as const }));
    };
    const train = read('train');
    const val = firstN(read('dev'), spec.trainer.valItems);
    const test = read('test1');
    if (train.length === 0 || test.length === 0) throw new StageInputError(`NLVR²: the train or test1 split under ${root}/nlvr2 is empty`);
    const examples: Nlvr2Example[] = train.map((x) => ({ imageIndex: x.imageIndex, ids: x.ids, label: x.it.label }));

    const judge = async (ev: Evaluator, items: typeof test) => {
      const right: boolean[] = [];
      for (const [a, z] of ranges(items.length, Math.max(1, Math.floor(spec.trainer.evalBatchSize / 2)))) {
        const part = items.slice(a, z);
        const b = orderedBatch(spec, tokenizer, part.flatMap((x) => [x.ids, x.ids]), part.flatMap((x) => [...x.imageIndex]), 2);
        const pred = await evalForward(ev, b, (out) => argmaxRows(nlvr2Logits(ev.model, out).dataSync() as Float32Array, 2));
        part.forEach((x, i) => right.push((pred[i] === 1) === x.it.label));
      }
      return right;
    };
    const rate = (right: boolean[]) => estimate(right.map(Number));
    return {
      files,
      trainExamples: examples.length,
      describe: { trainStatements: examples.length, devStatements: val.length, testStatements: test.length },
      batch: (c, batchSize) => toStepBatch(buildNlvr2Batch(examples, c, textOptions(spec, tokenizer, batchSize))),
      validate: async (ev) => ({ accuracy: pct(rate(await judge(ev, val)).mean) }),
      test: async (ev) => {
        const right = await judge(ev, test);
        const acc = rate(right);
        const m: Record<string, number> = {
          'nlvr2.test.accuracy': pct(acc.mean),
          'nlvr2.test.accuracy_se': pct(acc.stderr),
          'nlvr2.test.n': acc.n,
          'nlvr2.test.consistency': pct(consistency(right, test.map((x) => x.it.pairId)).mean),
        };
        for (const t of new Set(test.map((x) => x.it.type))) {
          if (!t) continue;
          m[`nlvr2.test.accuracy.${t}`] = pct(rate(right.filter((_, i) => test[i]!.it.type === t)).mean);
        }
        return m;
      },
    };
  },

  loss(input) {
    const out = forwardBatch(input);
    const l = nlvr2Loss(nlvr2Logits(input.model, out), input.batch.perExample.labels!);
    return { total: l, parts: { nlvr2: l } };
  },
};

function toStepBatch(b: ReturnType<typeof buildNlvr2Batch>): StepBatch {
  return { examples: b.exampleIndex.length, rowsPerExample: 2, imageIndex: b.imageIndex, text: b.text, perRow: {}, perExample: { labels: b.labels } };
}
