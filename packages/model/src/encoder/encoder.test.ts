import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/init';
import { ParamScope, countParams } from '../params';
import { createEncoder, encoderForward, encoderParamCount } from './encoder';
import { forwardContext } from './nn';

beforeAll(async () => {
  await initBackend({ quiet: true });
});

describe('BERT encoder', () => {
  it('a 12-layer, 768-wide stack (BERT-base, ffn 3072) has 85,054,464 parameters', () => {
    const cfg = { hidden: 768, layers: 12, heads: 12, ffn: 3072 };
    expect(encoderParamCount(cfg)).toBe(85_054_464);
    // and the variables actually created add up to it (one layer built, ×12: building all 12
    // would allocate 340 MB in a unit test; every layer is made by the same code)
    const root = ParamScope.root(0);
    createEncoder(root.child('encoder'), { ...cfg, layers: 1 });
    expect(countParams(root.registry, 'encoder') * 12).toBe(85_054_464);
    expect([...root.registry.keys()]).toContain('encoder.layer.0.attention.self.query.weight');
    expect(root.registry.get('encoder.layer.0.intermediate.dense.weight')!.shape).toEqual([768, 3072]);
    root.registry.forEach((v) => v.dispose());
  });

  it('returns (B, L, d) hidden states and per-layer attention (B, nh, L, L) that ignores padding', () => {
    const root = ParamScope.root(1);
    const enc = createEncoder(root.child('encoder'), { hidden: 16, layers: 2, heads: 4, ffn: 32 });
    const x = tf.randomNormal([2, 5, 16], 0, 1, 'float32', 3) as tf.Tensor3D;
    const valid = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]);
    const out = encoderForward(enc, x, valid, forwardContext(false, 0.1), true);
    expect(out.hidden.shape).toEqual([2, 5, 16]);
    expect(out.attentions!.length).toBe(2);
    expect(out.attentions![0]!.shape).toEqual([2, 4, 5, 5]);
    const probs = out.attentions![1]!.arraySync() as number[][][][];
    // every query row of example 1 puts no weight on its two padded keys, and rows sum to 1
    for (const head of probs[1]!) {
      for (const row of head) {
        expect(row[3]! + row[4]!).toBeLessThan(1e-6);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      }
    }
    // changing what sits in the padded slots leaves the real positions' outputs unchanged
    const x2 = tf.concat([x.slice([0, 0, 0], [2, 3, 16]), tf.randomNormal([2, 2, 16], 5, 1, 'float32', 9)], 1) as tf.Tensor3D;
    const out2 = encoderForward(enc, x2, valid, forwardContext(false, 0.1));
    const real = (t: tf.Tensor) => t.slice([1, 0, 0], [1, 3, 16]);
    expect(tf.max(tf.abs(tf.sub(real(out.hidden), real(out2.hidden)))).dataSync()[0]).toBeLessThan(1e-5);
    root.registry.forEach((v) => v.dispose());
  });

  it('uses dropout only in training, reproducibly from (seed, step)', () => {
    const root = ParamScope.root(2);
    const enc = createEncoder(root.child('encoder'), { hidden: 8, layers: 1, heads: 2, ffn: 16 });
    const x = tf.randomNormal([1, 4, 8], 0, 1, 'float32', 4) as tf.Tensor3D;
    const valid = tf.ones([1, 4]) as tf.Tensor2D;
    const run = (training: boolean, step: number) => encoderForward(enc, x, valid, forwardContext(training, 0.3, 0, step)).hidden.dataSync();
    expect([...run(false, 0)]).toEqual([...run(false, 1)]);
    expect([...run(true, 0)]).toEqual([...run(true, 0)]);
    expect([...run(true, 0)]).not.toEqual([...run(true, 1)]);
    expect([...run(true, 0)]).not.toEqual([...run(false, 0)]);
    root.registry.forEach((v) => v.dispose());
  });

  it('rejects a hidden size that the heads do not divide', () => {
    expect(() => createEncoder(ParamScope.root(0), { hidden: 10, layers: 1, heads: 3, ffn: 8 })).toThrow(/not a multiple/);
  });
});
