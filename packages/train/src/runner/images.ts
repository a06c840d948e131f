// The images of a stage, as tensors for a batch. Sets that fit the spec's memory budget
// (trainer.imageCacheMB) are decoded once, in parallel, and kept as 8-bit RGB; batches are then
// assembled without decoding. Larger sets (paper scale) are decoded batch by batch.
import * as tf from '@tensorflow/tfjs';
import { DecodedImageCache, collateImages, loadImage, type ImageBatch, type ResizeSpec } from '@pixel-bert/data';
import type { BatchImages, StepBatch } from './types';

export interface ImageStore {
  /** Images by index into the stage's files, collated and normalised. */
  batch(indices: readonly number[]): Promise<ImageBatch>;
  /** What it holds, for the log. */
  describe: string;
}

export async function openImageStore(
  files: readonly string[],
  size: ResizeSpec,
  o: { cacheMB: number; sizeDivisor: number; memory?: DecodedImageCache; maxBadFraction: number; log: (l: string) => void },
): Promise<ImageStore> {
  const collate = { sizeDivisor: o.sizeDivisor };
  if (o.memory) {
    const mem = o.memory;
    return { batch: async (ix) => mem.batch(ix, collate), describe: `${files.length} generated images in memory` };
  }
  const bytesEach = size.shortEdge * size.longEdge * 3;
  const mb = (files.length * bytesEach) / 2 ** 20;
  if (mb <= o.cacheMB) {
    const t0 = performance.now();
    const cache = await DecodedImageCache.build(files, size, { maxBadFraction: o.maxBadFraction, concurrency: 4 });
    for (const s of cache.skipped) o.log(`  skipped image: ${s.file}: ${s.message}`);
    const secs = (performance.now() - t0) / 1000;
    o.log(`  decoded ${files.length - cache.skipped.length} images in ${secs.toFixed(1)} s (${(cache.bytes / 2 ** 20).toFixed(0)} MB kept in memory)`);
    return {
      batch: async (ix) => {
        const missing = ix.filter((i) => !cache.has(i));
        if (missing.length) throw new Error(`image ${files[missing[0]!]} could not be decoded (listed above as skipped); its examples cannot be used`);
        return cache.batch(ix, collate);
      },
      describe: `${files.length} images decoded once (${mb.toFixed(0)} MB)`,
    };
  }
  return {
    batch: async (ix) => collateImages(await Promise.all(ix.map((i) => loadImage(files[i]!, size))), collate),
    describe: `${files.length} images (${mb.toFixed(0)} MB decoded) decoded per batch: above trainer.imageCacheMB = ${o.cacheMB}`,
  };
}

/** The distinct images of a batch's rows as tensors, and each row's position among them. */
export async function batchImages(store: ImageStore, b: Pick<StepBatch, 'imageIndex'>): Promise<BatchImages> {
  const unique = [...new Set(b.imageIndex)];
  const pos = new Map(unique.map((f, i) => [f, i]));
  return { ...imageTensors(await store.batch(unique)), rowImage: Int32Array.from(b.imageIndex, (f) => pos.get(f)!) };
}

/** A collated batch as the model takes it: pixels (B, H, W, 3) and their validity mask (B, H, W). */
export function imageTensors(ib: ImageBatch): { images: tf.Tensor4D; mask: tf.Tensor3D } {
  return { images: tf.tensor4d(ib.pixels, [ib.batch, ib.height, ib.width, 3]), mask: tf.tensor3d(ib.mask, [ib.batch, ib.height, ib.width], 'int32') };
}

/** Examples [from, to) of a batch, as a batch of their own (a micro-batch). */
export function sliceBatch(b: StepBatch, from: number, to: number): StepBatch {
  const g = b.rowsPerExample;
  const rows = (a: Int32Array | Float32Array, n: number) => {
    const w = a.length / n;
    return a.slice(from * g * w, to * g * w);
  };
  const ex = (a: Int32Array | Float32Array) => {
    const w = a.length / b.examples;
    return a.slice(from * w, to * w);
  };
  const R = b.examples * g;
  const out: StepBatch = {
    examples: to - from,
    rowsPerExample: g,
    imageIndex: rows(b.imageIndex, R) as Int32Array,
    perRow: Object.fromEntries(Object.entries(b.perRow).map(([k, a]) => [k, rows(a, R)])),
    perExample: Object.fromEntries(Object.entries(b.perExample).map(([k, a]) => [k, ex(a)])),
  };
  if (b.text) {
    out.text = { batchSize: (to - from) * g, seqLen: b.text.seqLen, inputIds: rows(b.text.inputIds, R) as Int32Array, attentionMask: rows(b.text.attentionMask, R) as Int32Array };
  }
  return out;
}

/** Splits `n` examples into `parts` contiguous chunks as equal as possible (empty chunks dropped). */
export function chunks(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < parts; i++) {
    const a = Math.floor((i * n) / parts);
    const z = Math.floor(((i + 1) * n) / parts);
    if (z > a) out.push([a, z]);
  }
  return out;
}
