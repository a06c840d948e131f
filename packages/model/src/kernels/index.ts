import * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from '@tensorflow/tfjs';
import { makeFastMatMul } from './batch_matmul';
import { conv2DBackpropFilter, setBackpropFilterMethod } from './conv2d_backprop_filter';
import { makeConv2DBackpropInput } from './conv2d_backprop_input';
import { unsortedSegmentSumCpu, unsortedSegmentSumWasm } from './unsorted_segment_sum';

export { conv2DBackpropFilter, setBackpropFilterMethod, makeConv2DBackpropInput, makeFastMatMul, unsortedSegmentSumCpu, unsortedSegmentSumWasm };

const done = new Set<string>();

/** Options for tests and benchmarks that compare with the stock kernels. */
export interface ExtraKernelOptions {
  /** Replace wasm's BatchMatMul/_FusedMatMul with the XNNPACK-friendly wrapper (default true). */
  fastMatMul?: boolean;
  /** Replace wasm's scalar-loop Conv2DBackpropInput with one XNNPACK convolution (default true). */
  fastConvBackpropInput?: boolean;
}

const originals = new Map<string, KernelFunc>();

/**
 * Registers on `backend` the kernels this project adds or replaces. Idempotent per backend.
 * wasm: Conv2DBackpropFilter, UnsortedSegmentSum (missing: tfjs #8474, #8082), the fast matmul
 * and a conv input gradient on XNNPACK;
 * cpu: a linear-time UnsortedSegmentSum. The tensorflow backend has everything natively.
 */
export function registerExtraKernels(backend: string, opts: ExtraKernelOptions = {}): void {
  const fast = opts.fastMatMul ?? true;
  const fastDx = opts.fastConvBackpropInput ?? true;
  const key = `${backend}:${fast}:${fastDx}`;
  if (done.has(key)) return;
  if (backend === 'wasm') {
    replaceKernel('Conv2DBackpropFilter', 'wasm', conv2DBackpropFilter);
    replaceKernel('UnsortedSegmentSum', 'wasm', unsortedSegmentSumWasm);
    for (const [name, fused] of [['BatchMatMul', false], ['_FusedMatMul', true]] as const) {
      const original = originalKernel(name, 'wasm');
      replaceKernel(name, 'wasm', fast ? makeFastMatMul(original, fused) : original);
    }
    const dx = originalKernel('Conv2DBackpropInput', 'wasm');
    replaceKernel('Conv2DBackpropInput', 'wasm', fastDx ? makeConv2DBackpropInput(dx) : dx);
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
