import { describe, expect, it } from 'vitest';
import { rowsByBackbone } from './rows';

describe('rowsByBackbone', () => {
  it('groups the rows by the backbone they run, in the order first met, with the first row\'s spec', () => {
    const g = rowsByBackbone([6, 1, 4], { scale: 'small' });
    expect([...g.keys()]).toEqual(['resnext-small', 'resnet-small']);
    expect(g.get('resnet-small')!.rows).toEqual([1, 4]);
    expect(g.get('resnet-small')!.resolved.spec.pretrain.tasks).toEqual({ mlm: false, itm: false }); // row 1's
    expect(g.get('resnext-small')!.rows).toEqual([6]);
    // spec options reach every row (--set, as train:init passes them)
    expect(rowsByBackbone([2], { scale: 'smoke', set: ['model.backbone=resnext152'] }).has('resnext-smoke')).toBe(true);
  });
});
