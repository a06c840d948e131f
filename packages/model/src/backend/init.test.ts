import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { backendFromEnv, backendInfo, initBackend } from './index';
import { enableOneDnn, tensorflowThreads } from './env';

describe('initBackend', () => {
  it('activates the named backend and registers the extra kernels on it', async () => {
    const info = await initBackend({ prefer: 'wasm', quiet: true, env: {} });
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
    expect(backendInfo()?.name).toBe('wasm');
    const cpu = await initBackend({ prefer: 'cpu', quiet: true, env: {} });
    expect(cpu.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('TFJS_BACKEND overrides the preference', async () => {
    const info = await initBackend({ prefer: 'wasm', quiet: true, env: { TFJS_BACKEND: 'cpu' } });
    expect(info.name).toBe('cpu');
  });

  it('auto takes tensorflow when its addon loads, otherwise wasm, and says why it skipped', async () => {
    const info = await initBackend({ prefer: 'auto', quiet: true, env: {} });
    if (info.name === 'tensorflow') {
      expect(info.provider).toMatch(/^@tensorflow\/tfjs-node/);
    } else {
      expect(info.name).toBe('wasm');
      expect(info.skipped[0]?.name).toBe('tensorflow');
      expect(info.skipped[0]?.reason).toMatch(/tfjs-node/);
      // Asking for tensorflow by name when it is absent is an error, not a silent fallback.
      await expect(initBackend({ prefer: 'tensorflow', quiet: true, env: {} })).rejects.toThrow(/tensorflow.*not available/);
    }
  });

  it('rejects an unknown TFJS_BACKEND naming the allowed values', async () => {
    expect(() => backendFromEnv({ TFJS_BACKEND: 'webgpu' })).toThrow(/TFJS_BACKEND="webgpu".*auto, tensorflow, wasm, cpu/);
    await expect(initBackend({ quiet: true, env: { TFJS_BACKEND: 'gpu' } })).rejects.toThrow(/TFJS_BACKEND/);
    expect(backendFromEnv({ TFJS_BACKEND: ' ' })).toBeUndefined();
  });
});

describe('enableOneDnn', () => {
  it("turns TensorFlow's oneDNN kernels on unless the user set TF_ENABLE_ONEDNN_OPTS", () => {
    const unset: NodeJS.ProcessEnv = {};
    enableOneDnn(unset);
    expect(unset['TF_ENABLE_ONEDNN_OPTS']).toBe('1');
    const off: NodeJS.ProcessEnv = { TF_ENABLE_ONEDNN_OPTS: '0' };
    enableOneDnn(off);
    expect(off['TF_ENABLE_ONEDNN_OPTS']).toBe('0');
  });
});

describe('tensorflowThreads', () => {
  it('gives TensorFlow that many intra- and inter-op threads unless the user chose', () => {
    const unset: NodeJS.ProcessEnv = { TF_NUM_INTEROP_THREADS: '' };
    tensorflowThreads(1, unset);
    expect([unset['TF_NUM_INTRAOP_THREADS'], unset['TF_NUM_INTEROP_THREADS']]).toEqual(['1', '1']);
    const chosen: NodeJS.ProcessEnv = { TF_NUM_INTRAOP_THREADS: '2' };
    tensorflowThreads(1, chosen);
    expect([chosen['TF_NUM_INTRAOP_THREADS'], chosen['TF_NUM_INTEROP_THREADS']]).toEqual(['2', '1']);
  });
});
