import { describe, expect, it } from 'vitest';
import type { StepBatch } from '../runner/types';
import { withOtherImages } from './pretrain';

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
