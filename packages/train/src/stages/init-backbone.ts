// The stand-in for ImageNet pre-training at the smoke/small scales (Sec. 4.1: every row starts from
// an ImageNet-trained CNN): the backbone learns to classify generated scenes — which colours, shapes,
// colour-shape pairs, striped and large shapes are present (multi-label), and how many objects there
// are. Its scenes come from their own random stream (`init-backbone`), so they are none of the
// downstream images; only `backbone.*` is passed on.
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { COLOURS, DecodedImageCache, SHAPES, batchIndices, renderScene, rngFor, sampleScene, type Scene } from '@pixel-bert/data';
import { ParamScope, softmaxCrossEntropy, vqaLoss } from '@pixel-bert/model';
import type { Spec } from '@pixel-bert/spec';
import type { StageDef, StepBatch } from '../runner/types';
import { accumulationPart, argmaxRows, pct, ranges } from './common';

/** The attribute labels of a scene (42 of them) — present or not. */
const LABELS = [
  ...COLOURS.map((c) => (s: Scene) => s.objects.some((o) => o.colour === c)),
  ...SHAPES.map((h) => (s: Scene) => s.objects.some((o) => o.shape === h)),
  ...COLOURS.flatMap((c) => SHAPES.map((h) => (s: Scene) => s.objects.some((o) => o.colour === c && o.shape === h))),
  ...SHAPES.map((h) => (s: Scene) => s.objects.some((o) => o.shape === h && o.texture === 'striped')),
  ...SHAPES.map((h) => (s: Scene) => s.objects.some((o) => o.shape === h && o.size === 'large')),
];
const countClasses = (spec: Spec) => spec.data.synth.objectsPerImage.max + 1;
/** Held-out share of the generated scenes (validation). */
const HELD_OUT = 0.1;

export const initBackbone: StageDef = {
  kind: 'init-backbone',
  heads: () => [],
  specPart: (spec) => ({ init: spec.init.backbone, seed: spec.init.seed, arch: spec.model.run.arch, image: spec.model.run.image, frozen: [spec.model.frozenStages, spec.model.frozenBatchNorm], world: { size: spec.data.synth.imageSize, objects: spec.data.synth.objectsPerImage }, sgd: spec.optim.cnn, evalBatchSize: spec.trainer.evalBatchSize, ...accumulationPart(spec) }),
  seed: (spec) => spec.init.seed,
  schedule: (spec) => ({ epochs: spec.init.backbone.epochs, decayEpochs: [], batchSize: spec.init.backbone.batchSize }),
  learningRates: (spec) => ({ cnn: spec.init.backbone.lr, transformer: spec.optim.transformer.lr }),
  trains: () => 'backbone',
  imageSize: (spec) => spec.model.run.image,
  provides: ['backbone.'],

  extraParams(spec, model) {
    const scope = ParamScope.root(spec.init.seed + 1).child('init_classifier');
    scope.variable('weight', [model.backbone.outChannels, LABELS.length + countClasses(spec)], { kind: 'truncatedNormal', std: 0.01 });
    scope.variable('bias', [LABELS.length + countClasses(spec)], { kind: 'zeros' });
    return scope.registry;
  },

  async prepare(ctx) {
    const { spec } = ctx;
    const n = spec.init.backbone.images;
    const { imageSize, objectsPerImage } = spec.data.synth;
    const { shortEdge: H, longEdge: W } = spec.model.run.image;
    const rgb: Uint8Array[] = [];
    const labels = new Float32Array(n * LABELS.length);
    const counts = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const scene = sampleScene(rngFor(spec.init.seed, 'init-backbone', i), { imageSize, objectsMin: objectsPerImage.min, objectsMax: objectsPerImage.max });
      let px: Uint8Array = renderScene(scene);
      if (H !== imageSize || W !== imageSize) px = await sharp(px, { raw: { width: imageSize, height: imageSize, channels: 3 } }).resize(W, H, { fit: 'fill' }).raw().toBuffer();
      rgb.push(px);
      LABELS.forEach((f, k) => (labels[i * LABELS.length + k] = f(scene) ? 1 : 0));
      counts[i] = scene.objects.length;
    }
    const nVal = Math.max(1, Math.round(n * HELD_OUT));
    const nTrain = n - nVal;
    const files = rgb.map((_, i) => `<generated scene ${i}>`);
    const memoryImages = DecodedImageCache.fromRgb(files, rgb, rgb.map(() => [H, W] as [number, number]));
    const pick = (ix: readonly number[]): StepBatch => ({
      examples: ix.length,
      rowsPerExample: 1,
      imageIndex: Int32Array.from(ix),
      perRow: {},
      perExample: { labels: Float32Array.from(ix.flatMap((i) => [...labels.subarray(i * LABELS.length, (i + 1) * LABELS.length)])), counts: Int32Array.from(ix, (i) => counts[i]!) },
    });
    return {
      files,
      memoryImages,
      trainExamples: nTrain,
      describe: { scenes: n, heldOut: nVal, labels: LABELS.length, countClasses: countClasses(spec) },
      batch: (c, batchSize) => pick(batchIndices(nTrain, batchSize, c)),
      validate: async (ev) => {
        const scores: number[][] = [];
        let countHits = 0;
        const val = Array.from({ length: nVal }, (_, i) => nTrain + i);
        for (const [a, z] of ranges(nVal, spec.trainer.evalBatchSize)) {
          const ix = val.slice(a, z);
          const im = await ev.images(ix);
          const logits = tf.tidy(() => classify(ev.model.backbone, ev.extra, im.images, false).dataSync() as Float32Array);
          im.images.dispose();
          im.mask.dispose();
          const width = LABELS.length + countClasses(spec);
          ix.forEach((_, r) => scores.push(Array.from(logits.subarray(r * width, r * width + LABELS.length))));
          const pred = argmaxRows(logits, width).map((_, r) => argmaxRows(logits.subarray(r * width + LABELS.length, (r + 1) * width), countClasses(spec))[0]);
          ix.forEach((i, r) => (countHits += pred[r] === counts[i] ? 1 : 0));
        }
        const truth = val.map((i) => Array.from(labels.subarray(i * LABELS.length, (i + 1) * LABELS.length)));
        return { map: pct(meanAveragePrecision(scores, truth)), count_accuracy: pct(countHits / nVal) };
      },
    };
  },

  loss(input) {
    const { images, batch, extra, model } = input;
    const logits = classify(model.backbone, extra, images!.images, input.training);
    const L = LABELS.length;
    const [B, width] = logits.shape;
    const attributes = vqaLoss(logits.slice([0, 0], [B, L]) as tf.Tensor2D, tf.tensor2d(batch.perExample.labels as Float32Array, [B, L])); // binary cross-entropy per label
    const count = softmaxCrossEntropy(logits.slice([0, L], [B, width - L]) as tf.Tensor2D, batch.perExample.counts as Int32Array);
    return { total: tf.add(attributes, count) as tf.Scalar, parts: { attributes, count } };
  },
};

/** Logits of the classifier on the backbone's pooled map, averaged over its pixels (as ImageNet's heads do). */
function classify(backbone: import('@pixel-bert/model').Backbone, extra: Map<string, tf.Variable>, images: tf.Tensor4D, training: boolean): tf.Tensor2D {
  const pooled = backbone.forward(images, { training }).pooled; // (B, h, w, C)
  const feat = tf.mean(pooled, [1, 2]); // (B, C)
  return tf.add(tf.matMul(feat, extra.get('init_classifier.weight')!), extra.get('init_classifier.bias')!) as tf.Tensor2D;
}

/** Mean over labels of the average precision of ranking the items by score (labels with no positive skipped). */
export function meanAveragePrecision(scores: number[][], truth: number[][]): number {
  const L = truth[0]?.length ?? 0;
  const aps: number[] = [];
  for (let k = 0; k < L; k++) {
    const order = scores.map((s, i) => [s[k]!, truth[i]![k]!] as const).sort((a, b) => b[0] - a[0]);
    const positives = order.filter(([, t]) => t > 0).length;
    if (positives === 0) continue;
    let hits = 0;
    let sum = 0;
    order.forEach(([, t], r) => {
      if (t > 0) sum += ++hits / (r + 1);
    });
    aps.push(sum / positives);
  }
  return aps.length ? aps.reduce((a, b) => a + b, 0) / aps.length : 0;
}
