import { describe, expect, it } from 'vitest';
import { computedBy, stageHash } from './hash';

describe('computedBy', () => {
  it("names TensorFlow's thread pools, so that stages trained on other thread counts never share a hash", () => {
    const one = computedBy('tensorflow', { TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1' });
    const two = computedBy('tensorflow', { TF_NUM_INTRAOP_THREADS: '2', TF_NUM_INTEROP_THREADS: '2' });
    expect(one).toBe('tensorflow threads 1/1');
    expect(two).not.toBe(one);
    expect(computedBy('tensorflow', {})).toBe('tensorflow threads default/default');
    const parts = { kind: 'pretrain', spec: { epochs: 1 }, parents: [], seed: 0 };
    expect(stageHash({ ...parts, code: `abc/${one}` })).not.toBe(stageHash({ ...parts, code: `abc/${two}` }));
  });

  it('leaves other backends as they are named (their kernels run one way)', () => {
    expect(computedBy('wasm', { TF_NUM_INTRAOP_THREADS: '2' })).toBe('wasm');
    expect(computedBy('cpu')).toBe('cpu');
  });
});
