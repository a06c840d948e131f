import { hashSeed } from '../encoder/nn';

/**
 * Pixel random sampling (Pixel-BERT Section 3.3): in pre-training, each image keeps
 * a fixed number of its valid feature pixels (paper: 100), drawn afresh at every
 * iteration, so the encoder sees a different subset each step — a regulariser that
 * also cuts the sequence length. Fine-tuning and evaluation use every pixel.
 *
 * Draws are a pure function of (seed, step, image index): a rerun of the same step
 * picks the same pixels, the next step picks others. Runs on the host (the masks
 * are small) and returns plain index arrays for a gather.
 */
export interface PixelSamplingOptions {
  /** Pixels kept per image (paper: 100). */
  count: number;
  seed: number;
  /** Training iteration; a new draw per step. */
  step: number;
}

export interface PixelSelection {
  /** Pixels per image after selection: `count` when sampling, all N otherwise. */
  k: number;
  /** (B·k) flat indices into the (B·N) flattened feature map, row-major per image. */
  indices: Int32Array;
  /** (B·k) 1 where the selected slot holds a valid pixel, 0 where it is padding. */
  mask: Float32Array;
}

/**
 * Every pixel, in raster order, with its validity — what fine-tuning and
 * evaluation (and pre-training with sampling off) use.
 */
export function allPixels(validMask: ArrayLike<number>, batch: number, n: number): PixelSelection {
  checkMask(validMask, batch, n);
  const indices = new Int32Array(batch * n);
  for (let i = 0; i < indices.length; i++) indices[i] = i;
  return { k: n, indices, mask: Float32Array.from(validMask, (m) => (m > 0 ? 1 : 0)) };
}

/**
 * Keeps `count` valid pixels of each image, uniformly without replacement.
 * An image with fewer valid pixels than `count` keeps all of them; its remaining
 * slots point at its first pixel and are masked out (mask 0), so the batch stays
 * rectangular and padding is never attended.
 */
export function samplePixels(
  validMask: ArrayLike<number>, // (B·N) 1 valid, 0 padded
  batch: number,
  n: number, // pixels per image in the full grid (h·w)
  opts: PixelSamplingOptions,
): PixelSelection {
  checkMask(validMask, batch, n);
  const { count, seed, step } = opts;
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`pixel sampling: count must be a positive integer, got ${count}`);
  }
  if (!Number.isInteger(step) || step < 0) {
    throw new Error(`pixel sampling: step must be a non-negative integer, got ${step}`);
  }
  const indices = new Int32Array(batch * count);
  const mask = new Float32Array(batch * count);
  for (let b = 0; b < batch; b++) {
    const valid: number[] = [];
    for (let i = 0; i < n; i++) if (validMask[b * n + i]! > 0) valid.push(i);
    const rand = mulberry32(hashSeed(seed, step, b));
    const take = Math.min(count, valid.length);
    // Partial Fisher–Yates: the first `take` entries become a uniform sample.
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(rand() * (valid.length - i));
      const t = valid[i]!;
      valid[i] = valid[j]!;
      valid[j] = t;
    }
    const chosen = valid.slice(0, take).sort((a, c) => a - c); // raster order, for readability
    for (let s = 0; s < count; s++) {
      indices[b * count + s] = b * n + (s < take ? chosen[s]! : 0);
      mask[b * count + s] = s < take ? 1 : 0;
    }
  }
  return { k: count, indices, mask };
}

function checkMask(validMask: ArrayLike<number>, batch: number, n: number): void {
  if (validMask.length !== batch * n) {
    throw new Error(`pixel mask: expected ${batch}×${n} = ${batch * n} entries, got ${validMask.length}`);
  }
}

/** Small, fast, seedable PRNG (mulberry32): uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
