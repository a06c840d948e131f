import type { DecodedImage } from './decode';

/** A padded batch: images top-left aligned, zeros elsewhere, with a validity mask. */
export interface ImageBatch {
  /** [B, H, W, 3] row-major (NHWC, the tfjs layout). */
  pixels: Float32Array;
  /** [B, H, W]: 1 where the pixel belongs to the image, 0 in padding. */
  mask: Uint8Array;
  batch: number;
  height: number;
  width: number;
  /** Per image: resized height and width (its valid region). */
  sizes: [number, number][];
  files: string[];
}

export interface CollateOptions {
  /** Round H and W up to a multiple of this (the backbone's total stride, like Detectron's size_divisibility). */
  sizeDivisor?: number;
  /** Pad to at least this size (e.g. to keep shapes fixed across batches for a compiled graph). */
  minHeight?: number;
  minWidth?: number;
}

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

/** Stack images into one zero-padded NHWC batch. */
export function collateImages(images: readonly DecodedImage[], opts: CollateOptions = {}): ImageBatch {
  if (images.length === 0) throw new RangeError('collateImages: empty batch');
  const div = opts.sizeDivisor ?? 1;
  const height = roundUp(Math.max(opts.minHeight ?? 0, ...images.map((im) => im.height)), div);
  const width = roundUp(Math.max(opts.minWidth ?? 0, ...images.map((im) => im.width)), div);
  const B = images.length;
  const pixels = new Float32Array(B * height * width * 3);
  const mask = new Uint8Array(B * height * width);
  images.forEach((im, b) => {
    for (let y = 0; y < im.height; y++) {
      const src = im.data.subarray(y * im.width * 3, (y + 1) * im.width * 3);
      pixels.set(src, ((b * height + y) * width) * 3);
      mask.fill(1, (b * height + y) * width, (b * height + y) * width + im.width);
    }
  });
  return { pixels, mask, batch: B, height, width, sizes: images.map((im) => [im.height, im.width]), files: images.map((im) => im.file) };
}

/**
 * Validity mask at a feature stride: [B, ceil(H/s), ceil(W/s)], a cell valid when any pixel of
 * it is (so a 100-px image at stride 32 has 4 valid cells, as a strided conv sees it).
 */
export function featureMask(batch: Pick<ImageBatch, 'batch' | 'height' | 'width' | 'sizes'>, stride: number): { mask: Uint8Array; height: number; width: number } {
  const h = Math.ceil(batch.height / stride);
  const w = Math.ceil(batch.width / stride);
  const mask = new Uint8Array(batch.batch * h * w);
  batch.sizes.forEach(([ih, iw], b) => {
    const vh = Math.ceil(ih / stride);
    const vw = Math.ceil(iw / stride);
    for (let y = 0; y < vh; y++) mask.fill(1, (b * h + y) * w, (b * h + y) * w + vw);
  });
  return { mask, height: h, width: w };
}
