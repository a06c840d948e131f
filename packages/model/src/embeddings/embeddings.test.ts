import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/init';
import { forwardContext } from '../encoder/nn';
import { ParamScope } from '../params';
import { allPixels, samplePixels } from '../sampling/pixel-sampling';
import { createPixelEmbedding, pixelEmbeddingForward, pixelMaskFromImageMask } from './pixel';
import { createTextEmbedding, textEmbeddingForward, validateTokens } from './text';

let root: ParamScope;
beforeAll(async () => {
  await initBackend({ quiet: true });
});
afterEach(() => root?.registry.forEach((v) => v.dispose()));
const evalCtx = forwardContext(false, 0.1);

describe('text embedding (eq. 4)', () => {
  const cfg = { vocabSize: 20, hidden: 6, maxTextLength: 8 };

  it('is LayerNorm(w_i + p_i + s_w), s_w = token type 0', () => {
    root = ParamScope.root(0);
    const p = createTextEmbedding(root.child('embeddings'), cfg);
    const ids = tf.tensor2d([[1, 7, 19, 2]], [1, 4], 'int32');
    const out = textEmbeddingForward(p, ids, evalCtx).arraySync()[0]!;
    const W = p.word_embeddings.arraySync() as number[][];
    const P = p.position_embeddings.arraySync() as number[][];
    const S = p.token_type_embeddings.arraySync() as number[][];
    [1, 7, 19, 2].forEach((id, t) => {
      const sum = W[id]!.map((w, j) => w + P[t]![j]! + S[0]![j]!);
      const mean = sum.reduce((a, b) => a + b) / sum.length;
      const variance = sum.reduce((a, b) => a + (b - mean) ** 2, 0) / sum.length;
      sum.forEach((v, j) => expect(out[t]![j]!).toBeCloseTo((v - mean) / Math.sqrt(variance + 1e-12), 4));
    });
  });

  it('rejects bad token input with the item and the allowed range', () => {
    const ids = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');
    expect(() => validateTokens(ids([[1, 2, 20]]), undefined, cfg)).toThrow('tokenIds[0][2] = 20 is outside the vocabulary [0, 19]');
    expect(() => validateTokens(ids([[1, -1]]), undefined, cfg)).toThrow(/tokenIds\[0\]\[1\] = -1/);
    expect(() => validateTokens(ids([new Array(9).fill(1)]), undefined, cfg)).toThrow(/length 9 exceeds the position table \(maxTextLength 8\)/);
    expect(() => validateTokens(tf.zeros([0, 3], 'int32'), undefined, cfg)).toThrow(/empty batch/);
    expect(() => validateTokens(tf.zeros([3], 'int32'), undefined, cfg)).toThrow(/expected rank 2/);
    expect(() => validateTokens(ids([[1, 2]]), tf.ones([1, 3]), cfg)).toThrow(/tokenMask: expected shape \[1, 2\]/);
  });
});

describe('pixel embedding (eq. 5)', () => {
  it('derives feature-pixel validity from the padded image mask', () => {
    // 2 images padded to 64×64; the second is 40 high × 24 wide; stride 16 → 4×4 grid
    const H = 64;
    const mask = new Float32Array(2 * H * H);
    mask.fill(1, 0, H * H);
    for (let y = 0; y < 40; y++) for (let x = 0; x < 24; x++) mask[H * H + y * H + x] = 1;
    const m = pixelMaskFromImageMask(mask, 2, H, H, { h: 4, w: 4, stride: 16 });
    expect([...m.slice(0, 16)]).toEqual(new Array(16).fill(1));
    // rows 0..2 (ceil(40/16) = 3), columns 0..1 (ceil(24/16) = 2)
    expect([...m.slice(16)]).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]);
    // a 70-pixel side with stride 16 gives 4 cells (floor): pixels 64..69 lie outside the grid
    const wide = new Float32Array(70 * 70);
    for (let y = 64; y < 70; y++) for (let x = 0; x < 70; x++) wide[y * 70 + x] = 1;
    expect([...pixelMaskFromImageMask(wide, 1, 70, 70, { h: 4, w: 4, stride: 16 })]).toEqual(new Array(16).fill(0));
  });

  it('is the 1×1 projection of each pixel plus the shared s_v; sampling gathers the chosen pixels', () => {
    root = ParamScope.root(1);
    const p = createPixelEmbedding(root.child('pixel_embeddings'), { channels: 5, hidden: 4, positionEmbedding: false, maxGrid: 8 });
    tf.tidy(() => p.projection.bias.assign(tf.tensor1d([0.1, -0.2, 0.3, 0])));
    const feats = tf.randomNormal([2, 3, 3, 5], 0, 1, 'float32', 2) as tf.Tensor4D;
    const valid = new Float32Array(18).fill(1);
    const full = pixelEmbeddingForward(p, feats, allPixels(valid, 2, 9), evalCtx);
    expect(full.shape).toEqual([2, 9, 4]);
    // pixel (b=1, y=2, x=0) by hand
    const f = (feats.arraySync() as number[][][][])[1]![2]![0]!;
    const W = p.projection.weight.arraySync() as number[][];
    const b = p.projection.bias.arraySync() as number[];
    const sv = p.s_v.arraySync() as number[];
    const manual = [0, 1, 2, 3].map((j) => f.reduce((a, fc, c) => a + fc * W[c]![j]!, 0) + b[j]! + sv[j]!);
    const got = (full.arraySync() as number[][][])[1]![6]!;
    manual.forEach((v, j) => expect(got[j]!).toBeCloseTo(v, 4));

    const sel = samplePixels(valid, 2, 9, { count: 4, seed: 0, step: 3 });
    const sampled = pixelEmbeddingForward(p, feats, sel, evalCtx);
    expect(sampled.shape).toEqual([2, 4, 4]);
    const want = tf.gather(full.reshape([18, 4]), tf.tensor1d(sel.indices, 'int32')).reshape([2, 4, 4]);
    expect(tf.max(tf.abs(tf.sub(sampled, want))).dataSync()[0]).toBeLessThan(1e-5);
  });

  it('optional LayerNorm (off the paper\'s path) normalises each pixel token: LayerNorm(v_k + s_v)', () => {
    root = ParamScope.root(3);
    const cfg = { channels: 5, hidden: 4, positionEmbedding: false, maxGrid: 8 };
    const plain = createPixelEmbedding(root.child('plain'), cfg);
    const normed = createPixelEmbedding(root.child('normed'), { ...cfg, layerNorm: true });
    expect(root.registry.has('normed.LayerNorm.weight')).toBe(true);
    expect([...root.registry.keys()].some((k) => k.startsWith('plain.LayerNorm'))).toBe(false);
    tf.tidy(() => {
      normed.projection.weight.assign(plain.projection.weight);
      normed.projection.bias.assign(plain.projection.bias);
      normed.s_v.assign(plain.s_v);
    });
    const feats = tf.randomNormal([1, 2, 2, 5], 0, 3, 'float32', 4) as tf.Tensor4D;
    const sel = allPixels(new Float32Array(4).fill(1), 1, 4);
    const v = pixelEmbeddingForward(plain, feats, sel, evalCtx);
    const want = tf.div(tf.sub(v, tf.mean(v, -1, true)), tf.sqrt(tf.add(tf.moments(v, -1, true).variance, 1e-12)));
    const got = pixelEmbeddingForward(normed, feats, sel, evalCtx);
    expect(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]).toBeLessThan(1e-4);
  });

  it('optional row/column position embedding follows each pixel to where sampling puts it', () => {
    root = ParamScope.root(2);
    const p = createPixelEmbedding(root.child('pixel_embeddings'), { channels: 3, hidden: 4, positionEmbedding: true, maxGrid: 4 });
    expect(root.registry.has('pixel_embeddings.row_embeddings.weight')).toBe(true);
    const feats = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D; // zero features: output = s_v + row + col (+ bias 0)
    const sel = { k: 1, indices: Int32Array.from([3]), mask: Float32Array.from([1]) }; // pixel (y=1, x=1)
    const got = pixelEmbeddingForward(p, feats, sel, evalCtx).reshape([4]);
    const want = tf.add(tf.add(p.s_v, p.row_embeddings!.gather([1]).reshape([4])), p.col_embeddings!.gather([1]).reshape([4]));
    expect(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]).toBeLessThan(1e-6);
    expect(() => pixelEmbeddingForward(p, tf.zeros([1, 5, 5, 3]) as tf.Tensor4D, allPixels(new Float32Array(25).fill(1), 1, 25), evalCtx)).toThrow(/exceeds the table size 4/);
  });
});
