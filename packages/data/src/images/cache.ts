import { DataError } from '../readers/problems';
import type { Problem } from '../readers/problems';
import type { CollateOptions, ImageBatch } from './batch';
import { decodeRgb, IMAGENET_MEAN, IMAGENET_STD } from './decode';
import type { DecodeOptions, ResizeSpec } from './decode';

export interface ImageCacheOptions {
  decode?: DecodeOptions;
  /** Images decoded at once (sharp decodes on libuv's threads; default 4). */
  concurrency?: number;
  /** Fraction of images that may fail (skipped and reported) before building fails; default 0. */
  maxBadFraction?: number;
  /** Called every few hundred images with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Every image decoded and resized once, kept as 8-bit RGB (a 128-px image is 49 KB, so the
 * `small` scale's 4000 pre-training images take ~190 MB). Batches are then assembled on the
 * calling thread in ~10–15 ms with no decoding at all: the pre-cached feed data:bench compares
 * the loader against, and a feed for small sets that are read many times.
 */
export class DecodedImageCache {
  /** Bytes of decoded pixels held. */
  readonly bytes: number;
  private constructor(
    readonly files: readonly string[],
    private readonly rgb: (Uint8Array | undefined)[],
    /** [height, width] per file; undefined for skipped files. */
    readonly sizes: ([number, number] | undefined)[],
    readonly skipped: readonly Problem[],
  ) {
    this.bytes = rgb.reduce((n, a) => n + (a?.length ?? 0), 0);
  }

  static async build(files: readonly string[], resize: ResizeSpec, opts: ImageCacheOptions = {}): Promise<DecodedImageCache> {
    const rgb: (Uint8Array | undefined)[] = new Array(files.length);
    const sizes: ([number, number] | undefined)[] = new Array(files.length);
    const skipped: Problem[] = [];
    const limit = (opts.maxBadFraction ?? 0) * files.length;
    const concurrency = Math.max(1, opts.concurrency ?? 4);
    let next = 0;
    let done = 0;
    const worker = async () => {
      for (let i = next++; i < files.length; i = next++) {
        try {
          const d = await decodeRgb(files[i]!, resize, opts.decode);
          // Copy out of sharp's pooled buffer so each image owns exactly its bytes.
          rgb[i] = d.rgb.slice();
          sizes[i] = [d.height, d.width];
        } catch (e) {
          skipped.push({ file: files[i]!, item: `image ${i}`, message: (e as Error).message });
          if (skipped.length > limit) {
            throw new DataError(skipped, `image cache: more than ${(100 * (opts.maxBadFraction ?? 0)).toFixed(2)} % of ${files.length} images could not be decoded`);
          }
        }
        done++;
        if (opts.onProgress && (done % 500 === 0 || done === files.length)) opts.onProgress(done, files.length);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return new DecodedImageCache(files, rgb, sizes, skipped);
  }

  /** A cache of images already in memory as 8-bit RGB (e.g. rendered scenes), one [height, width] each. */
  static fromRgb(files: readonly string[], rgb: readonly Uint8Array[], sizes: readonly [number, number][]): DecodedImageCache {
    if (rgb.length !== files.length || sizes.length !== files.length) throw new RangeError(`DecodedImageCache.fromRgb: ${files.length} names, ${rgb.length} images, ${sizes.length} sizes`);
    rgb.forEach((a, i) => {
      const [h, w] = sizes[i]!;
      if (a.length !== h * w * 3) throw new RangeError(`DecodedImageCache.fromRgb: image ${i} has ${a.length} bytes, ${h}×${w}×3 = ${h * w * 3} expected`);
    });
    return new DecodedImageCache(files, [...rgb], [...sizes], []);
  }

  has(index: number): boolean {
    return this.rgb[index] !== undefined;
  }

  /** The same padded NHWC batch `collateImages` gives, normalised (ImageNet mean/std) unless told not to. */
  batch(indices: readonly number[], collate: CollateOptions = {}, normalize = true): ImageBatch {
    if (indices.length === 0) throw new RangeError('DecodedImageCache.batch: empty batch');
    const items = indices.map((i) => {
      const px = this.rgb[i];
      const size = this.sizes[i];
      if (!px || !size) throw new RangeError(`DecodedImageCache.batch: image ${i} (${this.files[i] ?? 'out of range'}) is not in the cache`);
      return { px, h: size[0], w: size[1] };
    });
    const div = collate.sizeDivisor ?? 1;
    const height = Math.ceil(Math.max(collate.minHeight ?? 0, ...items.map((x) => x.h)) / div) * div;
    const width = Math.ceil(Math.max(collate.minWidth ?? 0, ...items.map((x) => x.w)) / div) * div;
    const pixels = new Float32Array(items.length * height * width * 3);
    const mask = new Uint8Array(items.length * height * width);
    const a = [0, 1, 2].map((c) => (normalize ? 1 / (255 * IMAGENET_STD[c]!) : 1 / 255));
    const b = [0, 1, 2].map((c) => (normalize ? -IMAGENET_MEAN[c]! / IMAGENET_STD[c]! : 0));
    const [a0, a1, a2] = a as [number, number, number];
    const [b0, b1, b2] = b as [number, number, number];
    items.forEach(({ px, h, w }, k) => {
      for (let y = 0; y < h; y++) {
        const row = (k * height + y) * width;
        mask.fill(1, row, row + w);
        let o = row * 3;
        for (let s = y * w * 3, end = s + w * 3; s < end; s += 3, o += 3) {
          pixels[o] = px[s]! * a0 + b0;
          pixels[o + 1] = px[s + 1]! * a1 + b1;
          pixels[o + 2] = px[s + 2]! * a2 + b2;
        }
      }
    });
    return { pixels, mask, batch: items.length, height, width, sizes: items.map((x) => [x.h, x.w]), files: indices.map((i) => this.files[i]!) };
  }
}
