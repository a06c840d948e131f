// The optimisers on the real model: the spec's optim section drives a smoke-size Pixel-BERT.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPixelBert, disposePixelBert, initBackend, itmLogits, itmLoss, mlmLogits, mlmLoss, mlmTargetsFor, parameterGroups, pixelBertConfigFor, pixelBertForward, type PixelBert } from '@pixel-bert/model';
import { loadRowSpec } from '@pixel-bert/spec';
import { batchNormNoDecay, bertNoDecay, createOptimizers, learningRates } from './index';

let model: PixelBert;
beforeAll(async () => {
  await initBackend({ quiet: true });
});
afterAll(() => disposePixelBert(model));

describe('optimisers from the spec on Pixel-BERT', () => {
  it('update every trainable variable of both groups and fit one fixed batch (loss falls)', () => {
    const { spec } = loadRowSpec({ row: 4, scale: 'smoke' });
    model = createPixelBert(pixelBertConfigFor(spec.model, { vocabSize: 64, taskHeads: ['mlm', 'itm'] }), 0);
    const groups = parameterGroups(model);
    // The exemptions match the names the model really has: batch norm in the CNN, biases and
    // LayerNorm in the Transformer — all vectors; every matrix and conv kernel is decayed.
    const spared = [...groups.cnn.filter((v) => batchNormNoDecay(v.name)), ...groups.transformer.filter((v) => bertNoDecay(v.name))];
    expect(groups.cnn.filter((v) => batchNormNoDecay(v.name)).length).toBeGreaterThan(4);
    expect(groups.transformer.filter((v) => v.name.includes('LayerNorm')).every((v) => bertNoDecay(v.name))).toBe(true);
    expect(spared.every((v) => v.shape.length === 1)).toBe(true);
    expect([...groups.cnn, ...groups.transformer].filter((v) => v.shape.length > 1).some((v) => batchNormNoDecay(v.name) || bertNoDecay(v.name))).toBe(false);
    const opt = createOptimizers(spec.optim, groups);
    const lr = learningRates(spec.optim, spec.pretrain.decayEpochs, 0);
    expect(lr).toEqual({ cnn: spec.optim.cnn.lr, transformer: spec.optim.transformer.lr });

    const B = 4;
    const T = 8;
    const S = spec.model.run.image.shortEdge;
    const images = tf.randomNormal([B, S, S, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i % T === 0 ? 1 : i % T === T - 1 ? 2 : 5 + ((i * 7) % 50))), [B, T], 'int32');
    const mask = tf.ones([B, T]) as tf.Tensor2D;
    const labels = new Int32Array(B * T).fill(-100);
    for (let i = 0; i < B * T; i++) if (i % T === 3) labels[i] = 5 + ((i * 7) % 50);
    const matched = [1, 0, 1, 0];
    const before = new Map([...groups.cnn, ...groups.transformer].map((v) => [v.name, v.clone()]));
    const losses: number[] = [];
    for (let step = 0; step < 12; step++) {
      tf.tidy(() => {
        const r = tf.variableGrads(() => {
          const o = pixelBertForward(model, images, undefined, ids, mask, { training: true, step, pixelSampling: { count: spec.pretrain.pixelSampling.count } });
          const t = mlmTargetsFor(model, o, labels);
          return tf.add(mlmLoss(mlmLogits(model, o, t), t), itmLoss(itmLogits(model, o), matched)) as tf.Scalar;
        });
        losses.push(r.value.dataSync()[0]!);
        const cnn = Object.fromEntries(groups.cnn.map((v) => [v.name, r.grads[v.name]!]));
        const tr = Object.fromEntries(groups.transformer.map((v) => [v.name, r.grads[v.name]!]));
        opt.cnn.step(cnn, lr.cnn);
        opt.transformer.step(tr, lr.transformer * 10); // a few steps must show movement: 1e-3 for the Transformer
      });
    }
    const unchanged = [...before].filter(([name, b]) => {
      const v = [...groups.cnn, ...groups.transformer].find((x) => x.name === name)!;
      return tf.tidy(() => tf.max(tf.abs(tf.sub(v, b))).dataSync()[0]!) === 0;
    });
    expect(unchanged.map(([n]) => n)).toEqual([]);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.slice(-3).reduce((a, b) => a + b) / 3).toBeLessThan(0.8 * (losses.slice(0, 3).reduce((a, b) => a + b) / 3));
    tf.dispose([...before.values(), images, ids, mask]);
    opt.cnn.dispose();
    opt.transformer.dispose();
  });
});
