import { describe, expect, it } from 'vitest';
import type { StepBatch } from '../runner/types';
import * as tf from '@tensorflow/tfjs';
import { ITM_IGNORE } from '@pixel-bert/data';
import { itmLoss } from '@pixel-bert/model';
import { loadRowSpec } from '@pixel-bert/spec';
import { itmPart, mlmInEpoch, withOtherImages } from './pretrain';

const batch = (imageIndex: number[]): StepBatch => ({
  examples: imageIndex.length / 2,
  rowsPerExample: 2,
  imageIndex: Int32Array.from(imageIndex),
  perRow: { mlm: Int32Array.from(imageIndex.map((_, i) => i)) },
  perExample: {},
});

describe('MLM with other images (how much MLM reads the image)', () => {
  it('gives every row the next distinct image of the batch and leaves text and labels alone', () => {
    const b = batch([7, 7, 3, 3, 9, 9]);
    const o = withOtherImages(b)!;
    expect([...o.imageIndex]).toEqual([3, 3, 9, 9, 7, 7]);
    expect(o.perRow.mlm).toBe(b.perRow.mlm);
    // no row keeps its own image
    o.imageIndex.forEach((f, i) => expect(f).not.toBe(b.imageIndex[i]));
  });
  it('has nothing to swap in a batch of one image', () => {
    expect(withOtherImages(batch([4, 4]))).toBeUndefined();
  });
});

describe('ITM loss over the rows ITM scores', () => {
  it('leaves out the MLM rows (ITM_IGNORE) and equals the loss over the remaining rows alone', () => {
    const logits = tf.tensor2d([[0.3, -1], [2, 0.5], [-0.2, 0.9], [5, -5], [1, 1], [0.1, 0.7]]);
    const labels = [ITM_IGNORE, 1, 0, ITM_IGNORE, 1, 0];
    const kept = tf.tensor2d([[2, 0.5], [-0.2, 0.9], [1, 1], [0.1, 0.7]]);
    expect(itmPart(logits, labels).dataSync()[0]).toBeCloseTo(itmLoss(kept, [1, 0, 1, 0]).dataSync()[0]!, 6);
    // Were the ignored rows read as labels, row 3's confident "no" would be counted as a wrong "yes".
    expect(itmPart(logits, labels).dataSync()[0]).not.toBeCloseTo(itmLoss(logits, [1, 1, 0, 1, 1, 0]).dataSync()[0]!, 2);
    // Without ignored rows it is itmLoss itself.
    expect(itmPart(kept, [1, 0, 1, 0]).dataSync()[0]).toBeCloseTo(itmLoss(kept, [1, 0, 1, 0]).dataSync()[0]!, 6);
  });
});

describe('ITM first (pretrain.mlm.fromEpoch)', () => {
  it('beside ITM, MLM trains from that epoch on; alone, from the start; 0 or unset: always', () => {
    const spec = (row: number, from: number) => loadRowSpec({ row, scale: 'small', set: [`pretrain.mlm.fromEpoch=${from}`] }).spec;
    expect([0, 1, 2, 3].map((e) => mlmInEpoch(spec(4, 2), e))).toEqual([false, false, true, true]);
    expect([0, 1, 2, 3].map((e) => mlmInEpoch(spec(2, 2), e))).toEqual([true, true, true, true]); // row 2: MLM alone
    expect([0, 1, 2, 3].map((e) => mlmInEpoch(spec(3, 2), e))).toEqual([false, false, false, false]); // row 3: no MLM
    expect([0, 1].map((e) => mlmInEpoch(spec(4, 0), e))).toEqual([true, true]);
    // small.yaml's own: ITM alone for 3 epochs; smoke leaves it unset: MLM from the start
    expect([0, 1, 2, 3].map((e) => mlmInEpoch(loadRowSpec({ row: 4, scale: 'small' }).spec, e))).toEqual([false, false, false, true]);
    expect([0, 1].map((e) => mlmInEpoch(loadRowSpec({ row: 4, scale: 'smoke' }).spec, e))).toEqual([true, true]);
  });
});
