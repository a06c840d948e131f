import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { Ctx } from './call';

/**
 * UnsortedSegmentSum is what the gradient of `gather` (every embedding lookup) runs.
 * out[s, ...] = Σ_{i : ids[i] = s} x[i, ...]; ids outside [0, numSegments) are dropped (as in TF).
 */

/**
 * wasm has none (tfjs issue #8082). ScatterNd accumulates duplicate indices, which is exactly a
 * segment sum: scatter the rows of x (N × D) to rows ids (N × 1) of a (numSegments × D) zero tensor.
 */
export const unsortedSegmentSumWasm: KernelFunc = (args) => {
  const backend = args.backend as KernelBackend;
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = args.attrs as NamedAttrMap & { numSegments: number };
  const { n, rowShape, d } = segmentShapes(x, segmentIds);
  const ctx = new Ctx(backend, 'wasm');
  try {
    // Out-of-range ids would make ScatterNd write outside its output: drop them, like TF does.
    const ids = backend.readSync(segmentIds.dataId) as Int32Array | Float32Array;
    const keep: number[] = [];
    for (let i = 0; i < ids.length; i++) if (isSegment(ids[i]!, numSegments)) keep.push(i);
    let rows = ctx.reshape(x, [n, d]);
    let idx = ctx.reshape(segmentIds, [n, 1]);
    if (idx.dtype !== 'int32') idx = ctx.run('Cast', { x: idx }, { dtype: 'int32' });
    if (keep.length < ids.length) {
      if (keep.length === 0) {
        return ctx.keep(ctx.run('Fill', {}, { shape: [numSegments, ...rowShape], value: 0, dtype: x.dtype }));
      }
      const keepIdx = ctx.track(writeInfo(backend, new Int32Array(keep), [keep.length], 'int32'));
      rows = ctx.run('GatherV2', { x: rows, indices: keepIdx }, { axis: 0, batchDims: 0 });
      idx = ctx.run('GatherV2', { x: idx, indices: keepIdx }, { axis: 0, batchDims: 0 });
    }
    const out = ctx.run('ScatterNd', { indices: idx, updates: rows }, { shape: [numSegments, d] });
    return ctx.keep(ctx.reshape(out, [numSegments, ...rowShape]));
  } finally {
    ctx.freeAll();
  }
};

/**
 * cpu has one, but it loops over every segment and compares it with every id
 * (O(numSegments · N · D): a 30k-word vocabulary makes the embedding gradient slow).
 * This is the direct O(N · D) accumulation.
 */
export const unsortedSegmentSumCpu: KernelFunc = (args) => {
  const backend = args.backend as KernelBackend;
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = args.attrs as NamedAttrMap & { numSegments: number };
  const { n, rowShape, d } = segmentShapes(x, segmentIds);
  const xs = backend.readSync(x.dataId) as Float32Array | Int32Array;
  const ids = backend.readSync(segmentIds.dataId) as Int32Array | Float32Array;
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * d) : new Float32Array(numSegments * d);
  for (let i = 0; i < n; i++) {
    const s = ids[i]!;
    if (!isSegment(s, numSegments)) continue;
    const src = i * d;
    const dst = s * d;
    for (let j = 0; j < d; j++) out[dst + j]! += xs[src + j]!;
  }
  return writeInfo(backend, out, [numSegments, ...rowShape], x.dtype);
};

/** Whether id `s` names an output row; others are dropped (as in TF). */
function isSegment(s: number, numSegments: number): boolean {
  return Number.isInteger(s) && s >= 0 && s < numSegments;
}

function segmentShapes(x: TensorInfo, segmentIds: TensorInfo): { n: number; rowShape: number[]; d: number } {
  if (segmentIds.shape.length !== 1) {
    // tfjs passes 1-D ids from gather's gradient; other ranks would need flattening of x too.
    throw new Error(`UnsortedSegmentSum: segmentIds must be 1-D, got shape [${segmentIds.shape}]`);
  }
  const n = segmentIds.shape[0]!;
  if (x.shape[0] !== n) {
    throw new Error(`UnsortedSegmentSum: x has ${x.shape[0]} rows but segmentIds has ${n}`);
  }
  const rowShape = x.shape.slice(1);
  return { n, rowShape, d: tf.util.sizeFromShape(rowShape) };
}

function writeInfo(backend: KernelBackend, values: Float32Array | Int32Array, shape: number[], dtype: tf.DataType): TensorInfo {
  return { dataId: backend.write(values, shape, dtype), shape, dtype };
}
