// The generated world: scenes of a few flat objects, each with a shape, colour, size, texture and
// position. A scene is pure data; render.ts turns it into pixels and language.ts into text.
//
// Design choices come from the PyTorch prototype (64×64, 3 shapes, MLM barely used shape):
// objects are large relative to the image (a large object spans ≈ 1/3 of the side, a small one
// ≈ 1/5), so at 128×128 with an 8×8 pooled grid a large object covers several feature pixels and its
// outline is visible; shapes are chosen to differ in silhouette (round, square, pointed, cross), and
// colours are far apart in RGB.

import type { Rng } from '../rng';

export const SHAPES = ['circle', 'square', 'triangle', 'cross'] as const;
export const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'] as const;
export const SIZES = ['small', 'large'] as const;
export const TEXTURES = ['solid', 'striped'] as const;

export type Shape = (typeof SHAPES)[number];
export type Colour = (typeof COLOURS)[number];
export type Size = (typeof SIZES)[number];
export type Texture = (typeof TEXTURES)[number];
export type Attribute = 'shape' | 'colour' | 'size' | 'texture';

/** Nominal RGB of each colour word (jittered per object by a few levels, never across categories). */
export const COLOUR_RGB: Record<Colour, readonly [number, number, number]> = {
  red: [215, 35, 35],
  green: [40, 165, 60],
  blue: [40, 75, 215],
  yellow: [235, 205, 30],
  purple: [140, 55, 185],
  orange: [245, 135, 20],
};

/** Half-extent of an object as a fraction of the image side. */
export const SIZE_FRACTION: Record<Size, number> = { small: 0.11, large: 0.17 };

export interface SceneObject {
  shape: Shape;
  colour: Colour;
  size: Size;
  texture: Texture;
  /** Centre, in pixels (may be fractional). */
  cx: number;
  cy: number;
  /** Half-extent in pixels: the shape is drawn in the square [cx−r, cx+r] × [cy−r, cy+r]. */
  r: number;
  /** Actual fill colour after jitter. */
  rgb: [number, number, number];
}

export interface Scene {
  width: number;
  height: number;
  background: [number, number, number];
  objects: SceneObject[];
}

export interface SceneOptions {
  imageSize: number;
  objectsMin: number;
  objectsMax: number;
}

/** The extent of each shape inside its unit square, as [uMin, vMin, uMax, vMax] (v grows downwards). */
export const SHAPE_EXTENT: Record<Shape, readonly [number, number, number, number]> = {
  circle: [-1, -1, 1, 1],
  square: [-0.85, -0.85, 0.85, 0.85], // ≈ the circle's area, so size words mean the same for both
  triangle: [-1, -1, 1, 0.9],
  cross: [-1, -1, 1, 1],
};

/** Is the point (u, v) of the unit square inside the shape? */
export function insideShape(shape: Shape, u: number, v: number): boolean {
  switch (shape) {
    case 'circle':
      return u * u + v * v <= 1;
    case 'square':
      return Math.abs(u) <= 0.85 && Math.abs(v) <= 0.85;
    case 'triangle':
      // Apex at (0, −1), base from (−1, 0.9) to (1, 0.9).
      return v <= 0.9 && v >= -1 && Math.abs(u) <= (v + 1) / 1.9;
    case 'cross':
      return (Math.abs(u) <= 0.34 && Math.abs(v) <= 1) || (Math.abs(v) <= 0.34 && Math.abs(u) <= 1);
  }
}

/** Tight integer bounding box [x, y, width, height] of an object's painted pixels (COCO/VG convention). */
export function objectBox(o: SceneObject): [number, number, number, number] {
  const [u0, v0, u1, v1] = SHAPE_EXTENT[o.shape];
  const x0 = Math.floor(o.cx + u0 * o.r);
  const y0 = Math.floor(o.cy + v0 * o.r);
  const x1 = Math.ceil(o.cx + u1 * o.r);
  const y1 = Math.ceil(o.cy + v1 * o.r);
  return [x0, y0, x1 - x0, y1 - y0];
}

/** Union of boxes, [x, y, width, height]. */
export function unionBox(boxes: [number, number, number, number][]): [number, number, number, number] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y, w, h] of boxes) {
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x + w);
    y1 = Math.max(y1, y + h);
  }
  return [x0, y0, x1 - x0, y1 - y0];
}

/** Samples a scene: objectsMin..objectsMax non-overlapping objects on a light, slightly tinted background. */
export function sampleScene(rng: Rng, opts: SceneOptions): Scene {
  const S = opts.imageSize;
  const grey = rng.range(190, 230);
  const background: [number, number, number] = [
    grey + rng.range(-12, 12),
    grey + rng.range(-12, 12),
    grey + rng.range(-12, 12),
  ];
  const wanted = rng.range(opts.objectsMin, opts.objectsMax);
  const objects: SceneObject[] = [];
  const gap = Math.max(2, Math.round(S * 0.03)); // keep outlines apart so boxes and counts are unambiguous
  for (let k = 0; k < wanted; k++) {
    const shape = rng.pick(SHAPES);
    const colour = rng.pick(COLOURS);
    let size = rng.pick(SIZES);
    const texture = rng.pick(TEXTURES);
    const base = COLOUR_RGB[colour];
    const rgb: [number, number, number] = [
      clamp(base[0] + rng.range(-10, 10)),
      clamp(base[1] + rng.range(-10, 10)),
      clamp(base[2] + rng.range(-10, 10)),
    ];
    let placed: SceneObject | null = null;
    for (let attempt = 0; attempt < 120 && !placed; attempt++) {
      if (attempt === 60) size = 'small'; // crowded scene: fall back to a small object
      const r = Math.round(SIZE_FRACTION[size] * S);
      const margin = r + gap;
      const cx = rng.uniform(margin, S - margin);
      const cy = rng.uniform(margin, S - margin);
      const cand: SceneObject = { shape, colour, size, texture, cx, cy, r, rgb };
      if (objects.every((o) => !boxesOverlap(objectBox(o), objectBox(cand), gap))) placed = cand;
    }
    if (placed) objects.push(placed);
  }
  if (objects.length < Math.min(2, opts.objectsMin)) {
    throw new Error(`sampleScene: could not place ${opts.objectsMin} objects in a ${S}×${S} image; use a larger imageSize`);
  }
  return { width: S, height: S, background, objects };
}

function clamp(x: number): number {
  return Math.max(0, Math.min(255, x));
}

function boxesOverlap(a: [number, number, number, number], b: [number, number, number, number], gap: number): boolean {
  return !(a[0] + a[2] + gap <= b[0] || b[0] + b[2] + gap <= a[0] || a[1] + a[3] + gap <= b[1] || b[1] + b[3] + gap <= a[1]);
}

// ---- spatial relations ------------------------------------------------------------------------

export const RELATIONS = ['left of', 'right of', 'above', 'below'] as const;
export type Relation = (typeof RELATIONS)[number];

/**
 * Does `rel` hold from a to b? Decided on centres with a dead zone of 8 % of the image side, so a
 * relation the generator states is visible, not a one-pixel call. Returns null inside the dead
 * zone (neither true nor false: the generator never asks about it).
 */
export function relationHolds(a: SceneObject, b: SceneObject, rel: Relation, imageSize: number): boolean | null {
  const dz = 0.08 * imageSize;
  const dx = b.cx - a.cx;
  const dy = b.cy - a.cy;
  const d = rel === 'left of' ? dx : rel === 'right of' ? -dx : rel === 'above' ? dy : -dy;
  if (d >= dz) return true;
  if (d <= -dz) return false;
  return null;
}

// ---- referring expressions --------------------------------------------------------------------

const ATTR_ORDER: Attribute[] = ['size', 'texture', 'colour', 'shape']; // English adjective order

/** "large striped red circle", or "small blue object" when the shape is not among attrs. */
export function describeObject(o: SceneObject, attrs: readonly Attribute[]): string {
  const words: string[] = [];
  for (const a of ATTR_ORDER) {
    if (!attrs.includes(a)) continue;
    if (a === 'texture' && o.texture === 'solid') continue; // "solid" is the unmarked default in speech…
    words.push(o[a]);
  }
  if (!attrs.includes('shape')) words.push('object');
  return words.join(' ');
}

function matches(o: SceneObject, ref: SceneObject, attrs: readonly Attribute[]): boolean {
  return attrs.every((a) => o[a] === ref[a]);
}

/** All non-empty attribute subsets, shortest first, in a fixed order. */
const SUBSETS: Attribute[][] = (() => {
  const all: Attribute[] = ['shape', 'colour', 'size', 'texture'];
  const out: Attribute[][] = [];
  for (let mask = 1; mask < 16; mask++) out.push(all.filter((_, i) => mask & (1 << i)));
  return out.sort((a, b) => a.length - b.length);
})();

/**
 * The shortest attribute set that singles `o` out of the scene, never using `forbidden` (so
 * "what color is the X?" never names the colour). Returns null when no such description exists.
 * …so a texture-only difference is only usable when o is the striped one.
 */
export function uniqueRef(scene: Scene, o: SceneObject, forbidden: Attribute[] = [], prefer?: Attribute[]): Attribute[] | null {
  const candidates = SUBSETS.filter((s) => !s.some((a) => forbidden.includes(a)));
  const ordered = prefer
    ? [...candidates].sort((a, b) => score(b, prefer) - score(a, prefer) || a.length - b.length)
    : candidates;
  for (const attrs of ordered) {
    if (attrs.includes('texture') && o.texture === 'solid') continue; // "solid" is never spoken
    const hits = scene.objects.filter((x) => matches(x, o, attrs));
    if (hits.length === 1) return attrs;
  }
  return null;
}

function score(attrs: Attribute[], prefer: Attribute[]): number {
  return prefer.every((p) => attrs.includes(p)) ? 1 : 0;
}

export function countObjects(scene: Scene, pred: (o: SceneObject) => boolean): number {
  let n = 0;
  for (const o of scene.objects) if (pred(o)) n++;
  return n;
}
