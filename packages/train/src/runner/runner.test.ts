import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type PixelBert } from '@pixel-bert/model';
import { chunks, sliceBatch } from './images';
import { accumulate } from './runner';
import type { StageDef, StepBatch } from './types';

beforeAll(async () => {
  await initBackend({ quiet: true });
});

// A batch of 7 examples of 2 rows each; per-row x (width 3), per-example y.
function batch(): StepBatch {
  const rows = 14;
  return {
    examples: 7,
    rowsPerExample: 2,
    imageIndex: new Int32Array(0).fill(0),
    perRow: { x: Float32Array.from({ length: rows * 3 }, (_, i) => Math.sin(i + 1)) },
    perExample: { y: Float32Array.from({ length: 7 }, (_, i) => i / 7) },
  };
}

describe('gradient accumulation', () => {
  it('splits a batch at example boundaries and gives the gradient and loss of the whole batch', async () => {
    const w = tf.variable(tf.tensor1d([0.3, -0.2, 0.5]), true, 'accum_test_w');
    // loss = mean over examples of (Σ_rows x·w − y)², a per-example mean like every stage's loss
    const def = {
      loss: ({ batch: b }: { batch: StepBatch }) => {
        const x = tf.tensor2d(b.perRow.x as Float32Array, [b.examples * b.rowsPerExample, 3]);
        const pred = tf.sum(tf.reshape(tf.matMul(x, w.reshape([3, 1])), [b.examples, b.rowsPerExample]), 1);
        const l = tf.mean(tf.square(tf.sub(pred, tf.tensor1d(b.perExample.y as Float32Array)))) as tf.Scalar;
        return { total: l, parts: { mse: l } };
      },
    } as unknown as StageDef;
    const s = { model: {} as PixelBert, extra: new Map(), seed: 0, step: 0, spec: {} as never };
    const whole = await accumulate(def, batch(), 1, {} as never, [w], s);
    const parts3 = await accumulate(def, batch(), 3, {} as never, [w], s);
    expect(parts3.loss).toBeCloseTo(whole.loss, 6);
    expect(parts3.parts.mse).toBeCloseTo(whole.parts.mse!, 6);
    const g1 = whole.grads[w.name]!.dataSync();
    const g3 = parts3.grads[w.name]!.dataSync();
    for (let i = 0; i < 3; i++) expect(g3[i]).toBeCloseTo(g1[i]!, 6);
    w.dispose();
  });

  it('chunks cover every example once; a slice keeps rows, examples and text aligned', () => {
    expect(chunks(7, 3)).toEqual([[0, 2], [2, 4], [4, 7]]);
    expect(chunks(2, 4)).toEqual([[0, 1], [1, 2]]);
    const b = { ...batch(), text: { batchSize: 14, seqLen: 2, inputIds: Int32Array.from({ length: 28 }, (_, i) => i), attentionMask: new Int32Array(28).fill(1) } };
    const s = sliceBatch(b, 2, 4);
    expect(s.examples).toBe(2);
    expect(s.text!.batchSize).toBe(4);
    expect([...s.text!.inputIds]).toEqual([8, 9, 10, 11, 12, 13, 14, 15]); // rows 4–7
    expect([...(s.perExample.y as Float32Array)]).toEqual([2 / 7, 3 / 7].map(Math.fround));
    expect(s.perRow.x!.length).toBe(4 * 3);
  });
});

describe('the variables a stage trains', () => {
  it('leave out the parts its schedule freezes (finetune.<task>.freeze), and only those', async () => {
    const { loadRowSpec } = await import('@pixel-bert/spec');
    const { createPixelBert, disposePixelBert } = await import('@pixel-bert/model');
    const { vqa } = await import('../stages/vqa');
    const { stageModelConfig, trainedVariables } = await import('./runner');
    const spec = loadRowSpec({ row: 4, scale: 'smoke' }).spec;
    const frozen = { ...spec, finetune: { ...spec.finetune, vqa: { ...spec.finetune.vqa, freeze: ['pixel_embeddings', 'backbone'] as ('pixel_embeddings' | 'backbone')[] } } };
    const model = createPixelBert(stageModelConfig(vqa, { spec } as never, 64), 0);
    try {
      const all = trainedVariables(vqa, spec, model, new Map());
      const some = trainedVariables(vqa, frozen, model, new Map());
      const names = (g: { cnn: tf.Variable[]; transformer: tf.Variable[] }) => [...g.cnn, ...g.transformer].map((v) => v.name);
      expect(names(all).some((n) => n.startsWith('pixel_embeddings.'))).toBe(true);
      expect(all.cnn.length).toBeGreaterThan(0);
      expect(some.cnn).toEqual([]);
      expect(names(some).filter((n) => n.startsWith('pixel_embeddings.') || n.startsWith('backbone.'))).toEqual([]);
      // everything else still trains
      expect(names(some)).toEqual(names(all).filter((n) => !n.startsWith('pixel_embeddings.') && !n.startsWith('backbone.')));
    } finally {
      disposePixelBert(model);
    }
  });
});

describe('what an init stage hash covers', () => {
  it('includes several micro-batches (optim.accumulation), and leaves the key out at 1 so that earlier hashes hold', async () => {
    const { loadRowSpec } = await import('@pixel-bert/spec');
    const { initBackbone } = await import('../stages/init-backbone');
    const { initText } = await import('../stages/init-text');
    const one = loadRowSpec({ row: 4, scale: 'smoke' }).spec;
    const two = loadRowSpec({ row: 4, scale: 'smoke', set: ['optim.accumulation=2'] }).spec;
    for (const def of [initBackbone, initText]) {
      expect(def.specPart(one) as object, def.kind).not.toHaveProperty('accumulation');
      expect(def.specPart(two) as object, def.kind).toHaveProperty('accumulation', 2);
    }
  });
});
