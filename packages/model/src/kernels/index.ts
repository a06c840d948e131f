import * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from '@tensorflow/tfjs';
import { makeFastMatMul } from './batch_matmul';
import { conv2DBackpropFilter } from './conv2d_backprop_filter';
import { unsortedSegmentSumCpu, unsortedSegmentSumWasm } from './unsorted_segment_sum';

export { conv2DBackpropFilter, makeFastMatMul, unsortedSegmentSumCpu, unsortedSegmentSumWasm };

const done = new Set<string>();

/** Options for tests and benchmarks that compare with the stock kernels. */
export interface ExtraKernelOptions {
  /** Replace wasm's BatchMatMul/_FusedMatMul with the XNNPACK-friendly wrapper (default true). */
  fastMatMul?: boolean;
}

const originals = new Map<string, KernelFunc>();

/**
 * Registers on `backend` the kernels this project adds or replaces. Idempotent per backend.
 * wasm: Conv2DBackpropFilter, UnsortedSegmentSum (missing: tfjs #8474, #8082) and the fast matmul;
 * cpu: a linear-time UnsortedSegmentSum. The tensorflow backend has everything natively.
 */
export function registerExtraKernels(backend: string, opts: ExtraKernelOptions = {}): void {
  const fast = opts.fastMatMul ?? true;
  const key = `${backend}:${fast}`;
  if (done.has(key)) return;
  if (backend === 'wasm') {
    replaceKernel('Conv2DBackpropFilter', 'wasm', conv2DBackpropFilter);
    replaceKernel('UnsortedSegmentSum', 'wasm', unsortedSegmentSumWasm);
    for (const [name, fused] of [['BatchMatMul', false], ['_FusedMatMul', true]] as const) {
      const original = originalKernel(name, 'wasm');
      replaceKernel(name, 'wasm', fast ? makeFastMatMul(original, fused) : original);
    }
  } else if (backend === 'cpu') {
    replaceKernel('UnsortedSegmentSum', 'cpu', unsortedSegmentSumCpu);
  }
  for (const k of [...done]) if (k.startsWith(`${backend}:`)) done.delete(k);
  done.add(key);
}

/** The kernel tfjs shipped for `name` on `backend`, remembered before we replace it. */
function originalKernel(name: string, backend: string): KernelFunc {
  const key = `${backend}:${name}`;
  let fn = originals.get(key);
  if (fn === undefined) {
    const k = tf.getKernel(name, backend);
    if (k === undefined) throw new Error(`backend ${backend} has no ${name} kernel to wrap`);
    fn = k.kernelFunc;
    originals.set(key, fn);
  }
  return fn;
}

function replaceKernel(kernelName: string, backendName: string, kernelFunc: KernelFunc): void {
  if (tf.getKernel(kernelName, backendName) !== undefined) {
    // Keep the shipped one reachable (BatchMatMul wraps it) before it leaves the registry.
    originalKernel(kernelName, backendName);
    tf.unregisterKernel(kernelName, backendName);
  }
  tf.registerKernel({ kernelName, backendName, kernelFunc });
}
