// The model scripts' `small` pre-training problem: Pixel-BERT as the small scale's spec builds it
// (experiments/base.yaml sized by scales/small.yaml, through pixelBertConfigFor) with MLM + ITM
// heads, one fixed batch (the spec's batch size, normal-noise images at the spec's size, T = 20
// tokens over the generated world's vocabulary, ~15 % of the inner tokens labelled for MLM, ITM
// labels alternating) and its loss as a function of the step (dropout and pixel sample per step).
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { EXPERIMENTS_ROOT, defaultVocabSize, loadSpecFile } from '@pixel-bert/spec';
import { itmLoss, mlmLoss } from '../src/heads/losses';
import { createPixelBert, itmLogits, mlmLogits, mlmTargetsFor, parameterGroups, pixelBertForward, type PixelBert } from '../src/pixelbert';
import { pixelBertConfigFor } from '../src/spec-config';

export interface SmallProblem {
  model: PixelBert;
  /** Every trainable variable, CNN first. */
  vars: tf.Variable[];
  shape: { batch: number; image: number; backbone: string; encoder: string; ffn: number; tokens: number; vocab: number; pixelsKept: number };
  loss(step: number): tf.Scalar;
}

/** Call after initBackend. `sampling`: feature pixels kept per image (0 = all). */
export function smallPretrainProblem(sampling: number): SmallProblem {
  const { spec } = loadSpecFile(path.join(EXPERIMENTS_ROOT, 'base.yaml'), { scale: 'small' });
  const B = spec.pretrain.batchSize;
  const T = 20;
  const V = defaultVocabSize(spec.data);
  const model = createPixelBert(pixelBertConfigFor(spec.model, { vocabSize: V, taskHeads: ['mlm', 'itm'] }), 0);
  const S = spec.model.run.image.shortEdge;
  const images = tf.randomNormal([B, S, S, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const ids = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(-100);
  for (let i = 0; i < ids.length; i++) {
    const t = i % T;
    ids[i] = t === 0 ? 1 : t === T - 1 ? 2 : 5 + ((i * 7919) % (V - 5));
    if (t > 0 && t < T - 1 && (i * 2654435761) % 100 < 15) labels[i] = ids[i]!; // ~15 % predicted
  }
  const tokenIds = tf.tensor2d(ids, [B, T], 'int32');
  const tokenMask = tf.ones([B, T]) as tf.Tensor2D;
  const matched = Array.from({ length: B }, (_, i) => i % 2);
  const { cnn, transformer } = parameterGroups(model);
  const enc = spec.model.encoder;
  return {
    model,
    vars: [...cnn, ...transformer],
    shape: { batch: B, image: S, backbone: spec.model.run.arch, encoder: `${enc.layers}x${enc.hidden}x${enc.heads}`, ffn: enc.ffn, tokens: T, vocab: V, pixelsKept: sampling > 0 ? sampling : 64 },
    loss: (step) => {
      const o = pixelBertForward(model, images, undefined, tokenIds, tokenMask, {
        training: true,
        step,
        ...(sampling > 0 ? { pixelSampling: { count: sampling } } : {}),
      });
      const targets = mlmTargetsFor(model, o, labels);
      return tf.add(mlmLoss(mlmLogits(model, o, targets), targets), itmLoss(itmLogits(model, o), matched)) as tf.Scalar;
    },
  };
}
