/**
 * The Fig. 3 picture: for each word, its attention over the feature pixels, upsampled bilinearly to
 * the image (feature cell (i, j) covers image rows [i·s, (i+1)·s) and columns [j·s, (j+1)·s), s the
 * backbone's total stride) and laid over the image as a heat map; one PNG grid, words as captions.
 */
import { existsSync } from 'node:fs';

export interface WordMap {
  /** Caption: the word as typed. */
  word: string;
  /** (h·w) attention per feature cell, raster order; NaN where the cell was not in the sequence. */
  weights: Float32Array;
}

export interface GridInput {
  /** The image as the model saw it: HWC uint8 RGB. */
  rgb: Uint8Array;
  width: number;
  height: number;
  /** Feature grid (h, w) and the image pixels per feature cell. */
  grid: [number, number];
  stride: number;
  maps: WordMap[];
  /** Line above the grid (run, layer, head). */
  title: string;
  /** Width of each tile in the PNG (default 224 px). */
  tileWidth?: number;
}

/** A blue → cyan → yellow → red ramp (jet-like): v in [0, 1] → RGB. */
export function heatColour(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v));
  const r = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 3)));
  const g = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 2)));
  const b = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 1)));
  return [Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)];
}

/** Smallest and largest finite weight of a map (NaN cells are not in the sequence). */
export function weightRange(weights: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of weights) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 0];
}

/**
 * The attention of one word at every image pixel: cell values scaled to [0, 1] between the word's
 * smallest and largest weight (a nearly uniform map still shows where it leans; the caption gives
 * the range), then interpolated bilinearly between cell centres ((i + ½)·s); cells outside the
 * sequence count as 0, and so does every cell of a perfectly flat map.
 */
export function upsample(weights: Float32Array, grid: [number, number], stride: number, width: number, height: number): Float32Array {
  const [h, w] = grid;
  if (weights.length !== h * w) throw new Error(`attention map has ${weights.length} cells, the grid ${h}×${w} has ${h * w}`);
  const [lo, hi] = weightRange(weights);
  const cell = (i: number, j: number) => {
    const v = weights[Math.min(h - 1, Math.max(0, i)) * w + Math.min(w - 1, Math.max(0, j))]!;
    return Number.isFinite(v) && hi > lo ? (v - lo) / (hi - lo) : 0;
  };
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const gy = (y + 0.5) / stride - 0.5;
    const i0 = Math.floor(gy);
    const fy = gy - i0;
    for (let x = 0; x < width; x++) {
      const gx = (x + 0.5) / stride - 0.5;
      const j0 = Math.floor(gx);
      const fx = gx - j0;
      out[y * width + x] =
        (1 - fy) * ((1 - fx) * cell(i0, j0) + fx * cell(i0, j0 + 1)) + fy * ((1 - fx) * cell(i0 + 1, j0) + fx * cell(i0 + 1, j0 + 1));
    }
  }
  return out;
}

/** The image with one word's heat map over it (alpha 0.55), HWC RGBA. */
export function overlay(rgb: Uint8Array, heat: Float32Array, width: number, height: number, alpha = 0.55): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const c = heatColour(heat[p]!);
    for (let k = 0; k < 3; k++) out[p * 4 + k] = (1 - alpha) * rgb[p * 3 + k]! + alpha * c[k]!;
    out[p * 4 + 3] = 255;
  }
  return out;
}

const FONT_FILE = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

export interface GridLayout {
  columns: number;
  tileWidth: number;
  tileHeight: number;
  captionHeight: number;
  titleHeight: number;
  /** Top-left corner of tile t's image (tile 0: the image itself; tile k: word k − 1). */
  tileOrigin: (t: number) => [number, number];
}

export function gridLayout(words: number, width: number, height: number, tileWidth = 224): GridLayout {
  const columns = Math.min(4, words + 1);
  const tileHeight = Math.round((height * tileWidth) / width);
  const captionHeight = 24;
  const titleHeight = 28;
  const gap = 8;
  return {
    columns,
    tileWidth,
    tileHeight,
    captionHeight,
    titleHeight,
    tileOrigin: (t) => [gap + (t % columns) * (tileWidth + gap), titleHeight + Math.floor(t / columns) * (tileHeight + captionHeight + gap)],
  };
}

export async function renderAttentionGrid(input: GridInput): Promise<Uint8Array> {
  const { createCanvas, GlobalFonts, ImageData } = await import('@napi-rs/canvas');
  if (existsSync(FONT_FILE) && !GlobalFonts.has('DejaVu Sans')) GlobalFonts.registerFromPath(FONT_FILE, 'DejaVu Sans');
  const { width, height, maps } = input;
  const L = gridLayout(maps.length, width, height, input.tileWidth);
  const rows = Math.ceil((maps.length + 1) / L.columns);
  const canvas = createCanvas(8 + L.columns * (L.tileWidth + 8), L.titleHeight + rows * (L.tileHeight + L.captionHeight + 8));
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = 'white';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#222';
  ctx.font = '14px "DejaVu Sans", sans-serif';
  ctx.fillText(input.title, 8, 19);
  ctx.imageSmoothingEnabled = true;
  const tile = (t: number, rgba: Uint8ClampedArray, caption: string) => {
    const src = createCanvas(width, height);
    src.getContext('2d').putImageData(new ImageData(rgba, width, height), 0, 0);
    const [x, y] = L.tileOrigin(t);
    ctx.drawImage(src, x, y, L.tileWidth, L.tileHeight);
    ctx.fillStyle = '#222';
    ctx.font = '15px "DejaVu Sans", sans-serif';
    ctx.fillText(caption, x + 2, y + L.tileHeight + 17, L.tileWidth - 4);
  };
  const plain = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    plain.set(input.rgb.subarray(p * 3, p * 3 + 3), p * 4);
    plain[p * 4 + 3] = 255;
  }
  tile(0, plain, 'image');
  const pct = (x: number) => (100 * x).toFixed(x < 0.1 ? 1 : 0);
  maps.forEach((m, k) => {
    const [lo, hi] = weightRange(m.weights);
    tile(k + 1, overlay(input.rgb, upsample(m.weights, input.grid, input.stride, width, height), width, height), `${m.word}  ${pct(lo)}–${pct(hi)} %`);
  });
  return new Uint8Array(await canvas.encode('png'));
}
