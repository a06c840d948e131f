import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend/init';
import { createPixelBert, disposePixelBert, itmLogits, mlmLogits, mlmTargetsFor, paramCounts, pixelBertForward } from './pixelbert';

beforeAll(async () => {
  await initBackend({ quiet: true });
});

describe('paper-scale Pixel-BERT (shapes only, on a small image)', () => {
  it('ResNet-50 + 12×768×12 BERT: 2048-channel pixels projected to 768, joint sequence, heads', () => {
    const model = createPixelBert({
      backbone: { arch: 'resnet50' },
      hidden: 768,
      layers: 12,
      heads: 12,
      ffn: 3072,
      vocabSize: 30522,
      maxTextLength: 40,
      dropout: 0.1,
      pixelPositionEmbedding: false,
      taskHeads: ['mlm', 'itm'],
    });
    try {
      const counts = paramCounts(model);
      expect(counts.backbone).toBe(23_508_032); // torchvision ResNet-50 without fc
      expect(counts.encoder).toBe(85_054_464); // BERT-base encoder stack
      expect(counts.pixelEmbedding).toBe(2048 * 768 + 768 + 768);
      // 128 px: C5 is 4×4 (stride 32), the paper's 2×2 max-pool leaves 2×2 = 4 feature pixels
      const out = tf.tidy(() => {
        const o = pixelBertForward(model, tf.randomNormal([1, 128, 128, 3]) as tf.Tensor4D, undefined, tf.tensor2d([[101, 2023, 2003, 103, 102]], [1, 5], 'int32'), tf.ones([1, 5]) as tf.Tensor2D, { training: false });
        const t = mlmTargetsFor(model, o, [-100, -100, -100, 1037, -100]);
        return { hidden: o.hidden, grid: tf.tensor1d(o.pixels.grid), mlm: mlmLogits(model, o, t), itm: itmLogits(model, o) };
      });
      expect(out.grid.arraySync()).toEqual([2, 2]);
      expect(out.hidden.shape).toEqual([1, 5 + 4, 768]);
      expect(out.mlm.shape).toEqual([1, 30522]);
      expect(out.itm.shape).toEqual([1, 2]);
      expect(Number.isFinite(tf.sum(out.hidden).dataSync()[0]!)).toBe(true);
    } finally {
      disposePixelBert(model);
    }
  }, 120_000);
});
