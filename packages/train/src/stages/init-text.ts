// The stand-in for BERT's pre-training at the smoke/small scales (Sec. 4.1: every row starts from
// BERT): the text embeddings and the encoder learn text-only MLM on the pre-training captions (no
// image, no test caption). It passes on `embeddings.*`, `encoder.*` and the MLM head `cls.*`.
import * as tf from '@tensorflow/tfjs';
import { buildPretrainBatch, readPretrainCorpus, type CaptionExample, type PretrainOptions } from '@pixel-bert/data';
import { mlmHeadForward, mlmLoss, mlmTargets, textOnlyForward, type PixelBert } from '@pixel-bert/model';
import type { Spec } from '@pixel-bert/spec';
import type { StageContext, StageDef, StepBatch } from '../runner/types';
import { StageInputError, accumulationPart, cocoValCaptions, firstN, mlmHits, pct, textOptions, textTensors } from './common';

function options(spec: Spec, ctx: Pick<StageContext, 'tokenizer'>, batchSize: number): PretrainOptions {
  return { ...textOptions(spec, ctx.tokenizer, batchSize), mlm: true, itm: false, vocabSize: ctx.tokenizer.vocabSize, mlmProbability: spec.pretrain.mlm.probability };
}

function toStepBatch(b: ReturnType<typeof buildPretrainBatch>): StepBatch {
  return { examples: b.exampleIndex.length, rowsPerExample: 1, imageIndex: new Int32Array(0), text: b.text, perRow: { mlm: b.mlmLabels! }, perExample: {} };
}

function mlmOutput(model: PixelBert, b: StepBatch, o: { training: boolean; seed: number; step: number }) {
  const { ids, mask } = textTensors(b.text!);
  const hidden = textOnlyForward(model, ids, mask, o); // (B, T, d)
  const [B, T] = ids.shape;
  const t = mlmTargets(b.perRow.mlm!, B, T, T, model.config.vocabSize);
  return { t, logits: t.labels.length ? mlmHeadForward(model.mlmHead!, model.textEmbedding.word_embeddings, hidden, t.positions) : null };
}

export const initText: StageDef = {
  kind: 'init-text',
  heads: () => ['mlm'],
  specPart: (spec) => ({ init: spec.init.text, seed: spec.init.seed, encoder: spec.model.encoder, mlm: spec.pretrain.mlm, datasets: spec.pretrain.datasets, data: spec.data, adamw: spec.optim.transformer, evalBatchSize: spec.trainer.evalBatchSize, valItems: spec.trainer.valItems, ...accumulationPart(spec) }),
  seed: (spec) => spec.init.seed,
  schedule: (spec) => ({ epochs: spec.init.text.epochs, decayEpochs: [], batchSize: spec.init.text.batchSize }),
  learningRates: (spec) => ({ cnn: spec.optim.cnn.lr, transformer: spec.init.text.lr }),
  trains: () => 'text',
  imageSize: (spec) => spec.model.run.image,
  provides: ['embeddings.', 'encoder.', 'cls.'],

  async prepare(ctx) {
    const { spec } = ctx;
    const corpus = readPretrainCorpus(ctx.root, { datasets: spec.pretrain.datasets, tokenizer: ctx.tokenizer, maxBadFraction: spec.data.maxCorruptFraction });
    if (corpus.examples.length === 0) throw new StageInputError(`init-text: no captions under ${ctx.root} for ${spec.pretrain.datasets.join(' + ')}`);
    const val: CaptionExample[] = firstN(cocoValCaptions(ctx, []), spec.trainer.valItems);
    const evalOpts = options(spec, ctx, spec.trainer.evalBatchSize);
    return {
      files: [],
      trainExamples: corpus.examples.length,
      describe: { captions: corpus.examples.length, valCaptions: val.length },
      batch: (c, batchSize) => toStepBatch(buildPretrainBatch(corpus.examples, c, options(spec, ctx, batchSize))),
      validate: async (ev) => {
        let acc = { hit: 0, n: 0 };
        for (let step = 0; step * evalOpts.batchSize < val.length; step++) {
          const b = toStepBatch(buildPretrainBatch(val, { seed: 0, epoch: 0, step }, evalOpts));
          tf.tidy(() => {
            const { t, logits } = mlmOutput(ev.model, b, { training: false, seed: 0, step: 0 });
            if (!logits) return;
            const h = mlmHits(logits, t.labels);
            acc = { hit: acc.hit + h.hit, n: acc.n + h.n };
          });
        }
        return { mlm_accuracy: pct(acc.hit / Math.max(1, acc.n)) };
      },
    };
  },

  loss(input) {
    const { t, logits } = mlmOutput(input.model, input.batch, input);
    const l = logits ? mlmLoss(logits, t) : tf.scalar(0);
    return { total: l, parts: { mlm: l } };
  },
};
