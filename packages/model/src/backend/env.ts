// TensorFlow's process environment, set before its library loads (nothing here imports tfjs).

/** Sets `key` to `value` unless the user gave it a value: the user's setting always wins. */
function unlessSet(env: NodeJS.ProcessEnv, key: string, value: string): void {
  if (env[key] === undefined || env[key] === '') env[key] = value;
}

/**
 * oneDNN's CPU kernels (convolution gradients, batched matmuls) are off by default in TensorFlow
 * on non-Intel CPUs; on this project's AMD machines they roughly halve the conv filter gradient
 * (docs/performance.md). TensorFlow reads the variable when its library loads, so it is set
 * before the addon is imported; a value the user set (0 to turn it off) wins.
 */
export function enableOneDnn(env: NodeJS.ProcessEnv = process.env): void {
  unlessSet(env, 'TF_ENABLE_ONEDNN_OPTS', '1');
}

/**
 * TensorFlow's intra- and inter-op thread pools at `threads` each, unless the user set them. The
 * CPU backend uses 1: a `small` step is ~1200 kernels of tens of microseconds, and splitting each
 * across two threads cost more than it gained — alone, one thread ran the pre-training step as fast
 * as two (283 vs 267–307 samples/s) on ~25 % less CPU, and two rows side by side
 * (`train:table6 --jobs=2`) went 356–415 → 469–510 samples/s (docs/performance.md). Every stage runs so,
 * the sweep's init stages included: another thread count changes a stage's numbers in the last bits
 * (train's stage hash names it). TensorFlow reads the variables when its first context starts, so
 * they are set before the addon is imported.
 */
export function tensorflowThreads(threads: number, env: NodeJS.ProcessEnv = process.env): void {
  for (const key of ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS']) unlessSet(env, key, String(threads));
}
