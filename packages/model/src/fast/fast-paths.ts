import * as tf from '@tensorflow/tfjs';
import type { GradConfig, NamedAttrMap } from '@tensorflow/tfjs';

/**
 * Faster ways to compute what the model computes, each behind a switch so a benchmark can time
 * the stock route and the fast one in the same process, alternating (docs/performance.md).
 * Every switch is on by default; each fast path gives the stock route's values and gradients
 * (to float rounding; tested in fast-paths.test.ts and by the model's gradient tests), except
 * deviceDropout, which draws other (equally distributed) masks.
 */
export interface FastPaths {
  /** Mean's gradient as a broadcast of dy/n (tfjs multiplies by a ones tensor filled in JavaScript). */
  meanGrad: boolean;
  /** ReLU's gradient by TensorFlow's native ReluGrad (tfjs-node's Step builds ones in JavaScript); tensorflow only. */
  reluGrad: boolean;
  /** Training-mode batch norm by TensorFlow's FusedBatchNormV3 / FusedBatchNormGradV3; tensorflow only. */
  fusedBatchNorm: boolean;
  /** LayerNorm with its closed-form gradient (./layer-norm); every backend. */
  layerNorm: boolean;
  /**
   * Dropout noise from TensorFlow's StatelessRandomUniform instead of tfjs's JavaScript generator;
   * tensorflow only. Unlike the others this changes the numbers: other masks (same rate, still a
   * function of (seed, step)).
   */
  deviceDropout: boolean;
  /** The retrieval loss's hard negatives chosen by top-k on the device instead of from scores read to the host; every backend. */
  deviceHardNegatives: boolean;
}

const DEFAULTS: FastPaths = { meanGrad: true, reluGrad: true, fusedBatchNorm: true, layerNorm: true, deviceDropout: true, deviceHardNegatives: true };
let current: FastPaths = { ...DEFAULTS };

/** The switches now in force. */
export function fastPaths(): Readonly<FastPaths> {
  return current;
}

/** Turns fast paths on or off (benchmarks and tests); returns the previous setting. */
export function setFastPaths(p: Partial<FastPaths> | 'all' | 'none'): FastPaths {
  const prev = current;
  if (p === 'all') current = { ...DEFAULTS };
  else if (p === 'none') current = { meanGrad: false, reluGrad: false, fusedBatchNorm: false, layerNorm: false, deviceDropout: false, deviceHardNegatives: false };
  else current = { ...current, ...p };
  return prev;
}

/** True when the active backend is tfjs-node's (native TensorFlow ops reachable by name). */
export function onTensorflow(): boolean {
  return tf.getBackend() === 'tensorflow';
}

// ── native TensorFlow ops by name (tfjs-node's backend object) ──────────────────────────────────

/** The part of tfjs-node's NodeJSKernelBackend used here (it runs any TF op by name). */
interface NodeBackend {
  binding: Record<string, number>;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: tf.Tensor[]): tf.Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: tf.Tensor[], numOutputs: number): tf.Tensor[];
}
export interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

export function nodeBackend(): NodeBackend {
  return tf.backend() as unknown as NodeBackend;
}

/** Attribute helpers in TensorFlow's terms (TF_ATTR_* codes come from the addon). */
export const attr = {
  float32Type: (name: string): OpAttr => {
    const b = nodeBackend().binding;
    return { name, type: b['TF_ATTR_TYPE']!, value: b['TF_FLOAT']! };
  },
  int32Type: (name: string): OpAttr => {
    const b = nodeBackend().binding;
    return { name, type: b['TF_ATTR_TYPE']!, value: b['TF_INT32']! };
  },
  float: (name: string, value: number): OpAttr => ({ name, type: nodeBackend().binding['TF_ATTR_FLOAT']!, value }),
  bool: (name: string, value: boolean): OpAttr => ({ name, type: nodeBackend().binding['TF_ATTR_BOOL']!, value }),
  string: (name: string, value: string): OpAttr => ({ name, type: nodeBackend().binding['TF_ATTR_STRING']!, value }),
};

// ── gradients replaced in tfjs's registry (the stock ones are kept and used when a switch is off) ──

let installed = false;

/**
 * Replaces the Mean and Relu gradients in tfjs's (global) gradient registry with versions that
 * take the fast route when its switch is on and otherwise call the stock gradient. Idempotent.
 */
export function installFastGradients(): void {
  if (installed) return;
  installed = true;
  const stockMean = tf.getGradient('Mean');
  const stockRelu = tf.getGradient('Relu');
  if (stockMean) {
    tf.registerGradient({
      kernelName: 'Mean',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        if (!current.meanGrad) return stockMean.gradFunc(dy, saved, attrs);
        const [x] = saved as [tf.Tensor];
        return { x: () => meanGrad(dy as tf.Tensor, x, attrs) };
      },
    } as GradConfig);
  }
  if (stockRelu) {
    tf.registerGradient({
      kernelName: 'Relu',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        if (!current.reluGrad || !onTensorflow()) return stockRelu.gradFunc(dy, saved, attrs);
        const [x] = saved as [tf.Tensor];
        // TF's ReluGrad: dy where x > 0, else 0 — tfjs's dy·step(x) without materialising step(x).
        return { x: () => nodeBackend().executeSingleOutput('ReluGrad', [attr.float32Type('T')], [dy as tf.Tensor, x]) };
      },
    } as GradConfig);
  }
}

/**
 * ∂mean/∂x: dy / n broadcast over the reduced axes (tfjs: dy · ones(x.shape) / n, the ones filled
 * in JavaScript). On tensorflow a broadcast (native Tile) of dy / n; elsewhere the stock formula
 * with the ones made by the backend's Fill kernel — wasm's Tile is a slow loop (1.9 s per small
 * step when it carried every Mean gradient), its Fill and broadcasting Multiply are not.
 */
function meanGrad(dy: tf.Tensor, x: tf.Tensor, attrs: NamedAttrMap): tf.Tensor {
  const axes = tf.util.parseAxisParam(attrs['axis'] as number | number[], x.shape);
  const expanded = x.shape.slice();
  let n = 1;
  for (const a of axes) {
    n *= x.shape[a]!;
    expanded[a] = 1;
  }
  const dyx = tf.reshape(dy, expanded);
  if (onTensorflow()) return tf.broadcastTo(tf.div(dyx, n), x.shape);
  return tf.div(tf.mul(dyx, tf.fill(x.shape, 1, 'float32')), n);
}
