import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { Ctx } from './call';

/**
 * wasm's BatchMatMul/_FusedMatMul reach XNNPACK only for one product (batch 1) with neither
 * operand transposed; everything else runs a scalar loop. Measured (512², `npx nx run
 * model:bench-kernels`, benchmarks/model-kernels.jsonl): A·B 14 ms, Aᵀ·B 368 ms, A·Bᵀ 224 ms;
 * 8 batched 256² products 312 ms. Backward passes transpose every matmul and attention is batched,
 * so this wrapper keeps products on the fast path: transposes are materialised (a memory copy,
 * cheap next to the product; 16–19 ms for the transposed 512² cases), a batch against a shared
 * right operand becomes one tall 2-D product, and batches of large items are split into 2-D
 * products (8 × 256²: 44 ms).
 */

/**
 * Per-item multiply-adds from which splitting a batch into 2-D XNNPACK products pays off
 * (8 items of 256³ = 16.8 M: 155 ms split vs 630 ms looped; 104·32·104 = 0.35 M: loop wins).
 */
export const SPLIT_MIN_MACS = 1 << 21;

export function makeFastMatMul(original: KernelFunc, fused: boolean): KernelFunc {
  return (args) => {
    const backend = args.backend as KernelBackend;
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const attrs = args.attrs as NamedAttrMap & { transposeA: boolean; transposeB: boolean };
    if (a === undefined || b === undefined) throw new Error('matMul: missing input');
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    const ctx = new Ctx(backend, 'wasm');
    try {
      const out = fastMatMul(ctx, a, b, attrs, (a3, b3) => {
        const inputs: Record<string, TensorInfo> = { a: a3, b: b3 };
        if (fused && bias) inputs['bias'] = bias;
        if (fused && preluActivationWeights) inputs['preluActivationWeights'] = preluActivationWeights;
        const r = original({ inputs, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
        return r as TensorInfo;
      }, fused && preluActivationWeights !== undefined, fused && bias !== undefined);
      return out;
    } finally {
      ctx.freeAll();
    }
  };
}

function fastMatMul(
  ctx: Ctx,
  a: TensorInfo,
  b: TensorInfo,
  attrs: { transposeA: boolean; transposeB: boolean },
  product: (a3: TensorInfo, b3: TensorInfo) => TensorInfo,
  noSplit: boolean,
  fusedBias: boolean,
): TensorInfo {
  const { transposeA, transposeB } = attrs;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) {
    throw new Error(`matMul: inner dimensions ${k} and ${kb} of shapes [${a.shape}] and [${b.shape}] differ`);
  }
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = Math.max(batchA, batchB);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    throw new Error(`matMul: batch dimensions of [${a.shape}] and [${b.shape}] do not broadcast`);
  }

  // Operands as [batch, rows, cols] with the transposes made real.
  let a3 = ctx.reshape(a, transposeA ? [batchA, k, m] : [batchA, m, k]);
  if (transposeA) a3 = ctx.transpose(a3, [0, 2, 1]);
  let b3 = ctx.reshape(b, transposeB ? [batchB, n, k] : [batchB, k, n]);
  if (transposeB) b3 = ctx.transpose(b3, [0, 2, 1]);

  let out: TensorInfo;
  if (batchB === 1) {
    // Every batch of A against one B: a single (batchA·m × k)·(k × n) product.
    out = ctx.track(product(ctx.reshape(a3, [1, batchA * m, k]), b3));
  } else if (batch === 1 || noSplit || (!fusedBias && m * k * n < SPLIT_MIN_MACS)) {
    // Small per-item products (attention's T×dh·dh×T): each XNNPACK call creates an operator and
    // packs its right operand, which costs more than the generic loop saves (measured: 128 items
    // of 104×32·32×104 take 880 ms split vs 180 ms in the loop). Keep them batched — except with
    // a fused bias: wasm's batched loop adds the bias at the wrong positions after the first
    // item (tfjs 4.22; kernels.test.ts checks it), so fused products are always split.
    out = ctx.track(product(a3, b3));
  } else {
    const parts: TensorInfo[] = [];
    for (let i = 0; i < batch; i++) {
      const ai = batchA === 1 ? a3 : ctx.run('Slice', { x: a3 }, { begin: [i, 0, 0], size: [1, m, k] });
      const bi = ctx.run('Slice', { x: b3 }, { begin: [i, 0, 0], size: [1, k, n] });
      parts.push(ctx.track(product(ai, bi)));
    }
    out = ctx.run('Concat', parts, { axis: 0 });
  }
  return ctx.keep(ctx.reshape(out, [...outBatch, m, n]));
}
