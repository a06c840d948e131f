import sharp from 'sharp';

/** Resize rule of the paper (Sec. 4.1): shorter edge S, longer edge at most L, aspect kept. */
export interface ResizeSpec {
  shortEdge: number;
  longEdge: number;
}

/** ImageNet statistics the torchvision/Detectron ResNet weights were trained with (RGB, 0–1 scale). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export interface DecodeOptions {
  /** Subtract the ImageNet mean and divide by its std (default true); false gives 0–1 RGB. */
  normalize?: boolean;
  /** Refuse images whose shorter edge (before resizing) is below this many pixels (default 1). */
  minSourceEdge?: number;
  /** Refuse images whose resized shorter edge is below this (e.g. the backbone's total stride; default 1). */
  minEdge?: number;
}

/** One decoded image: HWC RGB floats at the resized size. */
export interface DecodedImage {
  file: string;
  width: number;
  height: number;
  /** Size after EXIF orientation, before resizing. */
  sourceWidth: number;
  sourceHeight: number;
  /** Length width*height*3, row-major HWC. */
  data: Float32Array;
}

/** An image could not be used; the message names the file. */
export class ImageError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ImageError';
  }
}

/** Output size for an input size: scale so the shorter edge is S, unless that makes the longer exceed L. */
export function targetSize(width: number, height: number, spec: ResizeSpec): { width: number; height: number } {
  if (!(spec.shortEdge > 0 && spec.longEdge >= spec.shortEdge)) {
    throw new RangeError(`resize spec needs 0 < shortEdge ≤ longEdge (got ${spec.shortEdge}/${spec.longEdge})`);
  }
  let scale = spec.shortEdge / Math.min(width, height);
  if (Math.max(width, height) * scale > spec.longEdge) scale = spec.longEdge / Math.max(width, height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** Uint8 RGB (HWC) → normalised Float32 HWC. */
export function toFloatRgb(rgb: Uint8Array, normalize = true): Float32Array {
  const out = new Float32Array(rgb.length);
  if (!normalize) {
    for (let i = 0; i < rgb.length; i++) out[i] = rgb[i]! / 255;
    return out;
  }
  // Fold /255, -mean, /std into one multiply-add per channel.
  const a = IMAGENET_STD.map((s) => 1 / (255 * s));
  const b = IMAGENET_MEAN.map((m, c) => -m / IMAGENET_STD[c]!);
  const [a0, a1, a2] = a as [number, number, number];
  const [b0, b1, b2] = b as [number, number, number];
  for (let i = 0; i < rgb.length; i += 3) {
    out[i] = rgb[i]! * a0 + b0;
    out[i + 1] = rgb[i + 1]! * a1 + b1;
    out[i + 2] = rgb[i + 2]! * a2 + b2;
  }
  return out;
}

/**
 * Decode a JPEG/PNG (or anything libvips reads) to 8-bit sRGB at the resized size:
 * EXIF orientation applied; grayscale expanded to RGB; CMYK converted to sRGB; alpha dropped
 * (as PIL's `convert('RGB')` does, which the reference implementations' loaders use).
 * Resizing is bilinear (as Detectron's cv2 resize), after libvips' JPEG shrink-on-load.
 */
export async function decodeRgb(file: string, spec: ResizeSpec, opts: DecodeOptions = {}): Promise<{ rgb: Uint8Array; width: number; height: number; sourceWidth: number; sourceHeight: number }> {
  try {
    // failOn 'truncated': a cut-off file is an error rather than silently grey pixels, while the
    // harmless libjpeg warnings some real COCO files raise ("extraneous bytes") are tolerated.
    const img = sharp(file, { failOn: 'truncated' });
    const meta = await img.metadata();
    if (!meta.width || !meta.height) throw new Error('no image size in header');
    // EXIF orientations 5–8 swap width and height.
    const swap = (meta.orientation ?? 1) >= 5;
    const sourceWidth = swap ? meta.height : meta.width;
    const sourceHeight = swap ? meta.width : meta.height;
    const minSource = opts.minSourceEdge ?? 1;
    if (Math.min(sourceWidth, sourceHeight) < minSource) {
      throw new Error(`image is ${sourceWidth}×${sourceHeight}; the shorter edge must be at least ${minSource} px`);
    }
    const size = targetSize(sourceWidth, sourceHeight, spec);
    const minEdge = opts.minEdge ?? 1;
    if (Math.min(size.width, size.height) < minEdge) {
      throw new Error(`resized to ${size.width}×${size.height}, below the minimum edge ${minEdge} px (aspect ratio too extreme)`);
    }
    const { data, info } = await img
      .rotate()
      .resize(size.width, size.height, { fit: 'fill', kernel: 'linear' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== size.width || info.height !== size.height) {
      throw new Error(`decoder produced ${info.width}×${info.height}×${info.channels}, expected ${size.width}×${size.height}×3`);
    }
    return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), ...size, sourceWidth, sourceHeight };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(file, (e as Error).message);
  }
}

/** Decode, resize and normalise one image file. */
export async function loadImage(file: string, spec: ResizeSpec, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const d = await decodeRgb(file, spec, opts);
  return { file, width: d.width, height: d.height, sourceWidth: d.sourceWidth, sourceHeight: d.sourceHeight, data: toFloatRgb(d.rgb, opts.normalize ?? true) };
}
