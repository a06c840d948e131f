import * as tf from '@tensorflow/tfjs';

/**
 * Parameters are plain named `tf.Variable`s (STYLE.md: no tf.layers subclasses).
 * Every part of the model creates its weights through a ParamScope so that the
 * whole network ends up in one registry keyed by dotted names
 * (`encoder.layer.3.attention.query.weight`), which is what save/load and the
 * PyTorch importers map onto.
 */
export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  /** N(0, std²), truncated at 2 std like BERT's initializer_range (BERT: std 0.02). */
  | { kind: 'truncatedNormal'; std: number }
  /** He/Kaiming normal for convolutions: std = sqrt(2 / fanIn) (He et al., 2015; torchvision ResNet init). */
  | { kind: 'heNormal'; fanIn: number };

export type ParamRegistry = Map<string, tf.Variable>;

/**
 * Variables that are state, not parameters (batch-norm running mean/var, like PyTorch's
 * register_buffer): saved and loaded with the rest, never trained, and left out of
 * `countParams` by default, as PyTorch's `parameters()` leaves them out.
 */
const buffers = new WeakSet<tf.Variable>();

export function isBuffer(v: tf.Variable): boolean {
  return buffers.has(v);
}

export class ParamScope {
  private constructor(
    readonly registry: ParamRegistry,
    readonly prefix: string,
    private readonly seedState: { next: number },
  ) {}

  /** A fresh registry; `seed` makes every initialiser deterministic in creation order. */
  static root(seed = 0): ParamScope {
    return new ParamScope(new Map(), '', { next: seed * 1_000_003 + 17 });
  }

  /** The scope for a named sub-part: names become `<prefix>.<name>.<param>`. */
  child(name: string | number): ParamScope {
    return new ParamScope(this.registry, this.fullName(String(name)), this.seedState);
  }

  fullName(name: string): string {
    return this.prefix === '' ? name : `${this.prefix}.${name}`;
  }

  /** Creates and registers a variable; a duplicate name is a programming error. */
  variable(name: string, shape: number[], init: Init, trainable = true): tf.Variable {
    const full = this.fullName(name);
    if (this.registry.has(full)) throw new Error(`parameter "${full}" is created twice`);
    const seed = this.seedState.next++;
    const value = tf.tidy(() => initialValue(shape, init, seed));
    // tfjs keeps one global namespace of variable names; a second model built in the same
    // process (tests, checkpoint comparisons) gets a suffixed engine name. The registry key,
    // which save/load and the importers use, is always the plain dotted name.
    const v = tf.variable(value, trainable, uniqueEngineName(full));
    value.dispose();
    this.registry.set(full, v);
    return v;
  }

  /** Creates and registers a non-trainable buffer (see `isBuffer`). */
  buffer(name: string, shape: number[], init: Init): tf.Variable {
    const v = this.variable(name, shape, init, false);
    buffers.add(v);
    return v;
  }

  /** Variables under this scope's prefix, in creation order. */
  variables(): tf.Variable[] {
    const p = this.prefix === '' ? '' : `${this.prefix}.`;
    return [...this.registry.entries()].filter(([k]) => k.startsWith(p)).map(([, v]) => v);
  }
}

function uniqueEngineName(name: string): string {
  const taken = tf.engine().registeredVariables;
  if (!(name in taken)) return name;
  let i = 1;
  while (`${name}#${i}` in taken) i++;
  return `${name}#${i}`;
}

function initialValue(shape: number[], init: Init, seed: number): tf.Tensor {
  switch (init.kind) {
    case 'zeros':
      return tf.zeros(shape);
    case 'ones':
      return tf.ones(shape);
    case 'truncatedNormal':
      return tf.truncatedNormal(shape, 0, init.std, 'float32', seed);
    case 'heNormal':
      return tf.randomNormal(shape, 0, Math.sqrt(2 / init.fanIn), 'float32', seed);
  }
}

/**
 * Total number of scalar parameters in a registry (or the part of it under `prefix`).
 * Buffers (batch-norm running statistics) are not parameters and are excluded unless asked for.
 */
export function countParams(registry: ParamRegistry, prefix = '', opts: { includeBuffers?: boolean } = {}): number {
  let n = 0;
  for (const [name, v] of registry) {
    if (!opts.includeBuffers && buffers.has(v)) continue;
    if (prefix === '' || name === prefix || name.startsWith(`${prefix}.`)) n += v.size;
  }
  return n;
}
