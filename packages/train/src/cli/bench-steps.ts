// The training steps data:bench feeds: the real Pixel-BERT step (from @pixel-bert/model, on the
// fastest backend this install has) at the `small` scale's or the paper's shape, or a stand-in
// for a step bound by an accelerator where the real one is impractical here.
import path from 'node:path';
import type { ImageBatch } from '@pixel-bert/data';
import { EXPERIMENTS_ROOT, defaultVocabSize, loadSpecFile } from '@pixel-bert/spec';
import { createOptimizers, learningRates } from '../optim/index';

export interface BenchStep {
  /** What runs, for the printout and the JSON line. */
  describe: string;
  /** tfjs backend of a model step. */
  backend?: string;
  /** One training step on this batch; returns when its results are computed. */
  run(batch: ImageBatch, step: number): void;
}

/**
 * Forward, backward and update of Pixel-BERT as the `small` scale's spec builds it (or the paper's):
 * the backbone on the batch's images with their pixel mask, the encoder, pixel random sampling,
 * MLM + ITM losses, and the paper's update (Sec. 4.2): SGD with momentum and weight decay on the
 * CNN, AdamW on the Transformer, at the spec's epoch-0 learning rates.
 * The text side is fixed (20 tokens, 15 % masked): it is the image feed that is being measured.
 */
export async function modelStep(batchSize: number, scale: 'small' | 'paper' = 'small'): Promise<BenchStep> {
  const tf = await import('@tensorflow/tfjs');
  const m = await import('@pixel-bert/model');
  const info = await m.initBackend({ quiet: true });
  const { spec } = loadSpecFile(path.join(EXPERIMENTS_ROOT, 'base.yaml'), { scale });
  const T = 20;
  const V = defaultVocabSize(spec.data); // the generated world's WordPiece size, or BERT-base uncased's
  const model = m.createPixelBert(m.pixelBertConfigFor(spec.model, { vocabSize: V, taskHeads: ['mlm', 'itm'] }), 0);
  const keep = spec.pretrain.pixelSampling.count;
  const enc = spec.model.encoder;
  const name = `${spec.model.run.arch} + ${enc.layers}×${enc.hidden} encoder`;
  const ids = new Int32Array(batchSize * T);
  const labels = new Int32Array(batchSize * T).fill(-100);
  for (let i = 0; i < ids.length; i++) {
    const t = i % T;
    ids[i] = t === 0 ? 1 : t === T - 1 ? 2 : 5 + ((i * 7919) % (V - 5));
    if (t > 0 && t < T - 1 && (i * 2654435761) % 100 < 15) labels[i] = ids[i]!;
  }
  const tokenIds = tf.tensor2d(ids, [batchSize, T], 'int32');
  const tokenMask = tf.ones([batchSize, T]) as import('@tensorflow/tfjs').Tensor2D;
  const matched = Array.from({ length: batchSize }, (_, i) => i % 2);
  const { cnn, transformer } = m.parameterGroups(model);
  const opt = createOptimizers(spec.optim, { cnn, transformer });
  const lr = learningRates(spec.optim, spec.pretrain.decayEpochs, 0);
  const cnnNames = new Set(cnn.map((v) => v.name));
  return {
    describe: `Pixel-BERT ${scale} step (${name}, fwd+bwd+update) on ${info.name}`,
    backend: info.name,
    run(batch, step) {
      if (batch.batch !== batchSize) throw new Error(`bench model step: built for batches of ${batchSize}, got ${batch.batch}`);
      tf.tidy(() => {
        const images = tf.tensor4d(batch.pixels, [batch.batch, batch.height, batch.width, 3]);
        const mask = tf.tensor3d(batch.mask, [batch.batch, batch.height, batch.width], 'int32');
        const r = tf.variableGrads(() => {
          const o = m.pixelBertForward(model, images, mask, tokenIds, tokenMask, { training: true, step, pixelSampling: { count: keep } });
          const targets = m.mlmTargetsFor(model, o, labels);
          return tf.add(m.mlmLoss(m.mlmLogits(model, o, targets), targets), m.itmLoss(m.itmLogits(model, o), matched)) as import('@tensorflow/tfjs').Scalar;
        }, [...cnn, ...transformer]);
        const cnnGrads: Record<string, import('@tensorflow/tfjs').Tensor> = {};
        const trGrads: Record<string, import('@tensorflow/tfjs').Tensor> = {};
        for (const [k, g] of Object.entries(r.grads)) (cnnNames.has(k) ? cnnGrads : trGrads)[k] = g;
        opt.cnn.step(cnnGrads, lr.cnn);
        opt.transformer.step(trGrads, lr.transformer);
        r.value.dataSync();
      });
    },
  };
}

/**
 * A stand-in for a step bound by an accelerator, for the paper size (whose real step takes ~22 s
 * per image on a 2-core CPU): the batch is copied once, as uploading it to the device copies it,
 * and then the training thread blocks until `ms` have passed since the step began, as a thread
 * waiting on a GPU does. It holds no CPU while blocked, so it asks whether the loader keeps up
 * with a fast step, not whether decoding slows a CPU step (the real small-size steps ask that).
 */
export function acceleratorStep(ms: number): BenchStep {
  let upload = new Float32Array(0);
  const blocker = new Int32Array(new SharedArrayBuffer(4));
  return {
    describe: `accelerator-bound stand-in (copies the batch, then blocks until ${ms} ms have passed)`,
    run(b) {
      const t0 = performance.now();
      if (upload.length < b.pixels.length) upload = new Float32Array(b.pixels.length);
      upload.set(b.pixels);
      const left = ms - (performance.now() - t0);
      if (left > 0) Atomics.wait(blocker, 0, 0, left);
    },
  };
}
