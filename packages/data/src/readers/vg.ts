import { z } from 'zod';
import { forEachJsonArrayItem } from './json-stream';
import { FileIndex, isProblems, ProblemLog, validate } from './problems';
import type { Problem } from './problems';
import type { ReadOptions } from './coco';

const ImageData = z
  .object({
    // Released v1.2 uses image_id; v1.0 used id.
    image_id: z.number().int().nonnegative().optional(),
    id: z.number().int().nonnegative().optional(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    url: z.string().optional(),
    coco_id: z.number().int().nullable().optional(),
    flickr_id: z.number().int().nullable().optional(),
  })
  .refine((d) => d.image_id !== undefined || d.id !== undefined, { message: 'needs image_id (or id)' });
const Region = z.object({
  region_id: z.number().int().nonnegative(),
  image_id: z.number().int().nonnegative(),
  phrase: z.string(),
  x: z.number(),
  y: z.number(),
  width: z.number(),
  height: z.number(),
  type: z.string().optional(),
});
const RegionImage = z.object({ id: z.number().int().nonnegative(), regions: z.array(z.unknown()) });

export interface VgImage {
  id: number;
  width: number;
  height: number;
  /** `VG_100K/123.jpg` style path taken from the url, else `<id>.jpg`. */
  relPath: string;
  cocoId?: number;
}
export interface VgRegion {
  id: number;
  imageId: number;
  phrase: string;
  /** x, y, width, height in pixels of the original image. */
  box: [number, number, number, number];
  /** Type tag (e.g. colour, relation) where the file carries one, as the generated world does. */
  type?: string;
}
export interface VisualGenome {
  images: Map<number, VgImage>;
  regions: VgRegion[];
  /** Boxes that overhung their image and were clipped to it. */
  clippedBoxes: number;
  skipped: Problem[];
}

function relPathFromUrl(url: string | undefined, id: number): string {
  // URLs look like https://cs.stanford.edu/people/rak248/VG_100K_2/1.jpg: keep the last two parts.
  const parts = url?.split('/').filter(Boolean) ?? [];
  return parts.length >= 2 ? parts.slice(-2).join('/') : `${id}.jpg`;
}

/** Read Visual Genome `region_descriptions.json` with its `image_data.json`. */
export function readVisualGenome(regionsFile: string, imageDataFile: string, opts: ReadOptions = {}): VisualGenome {
  const log = new ProblemLog(`Visual Genome ${regionsFile}`, opts.maxBadFraction ?? 0);
  const index = opts.imageDir ? new FileIndex(opts.imageDir) : undefined;
  const images = new Map<number, VgImage>();
  let total = 0;
  let clippedBoxes = 0;
  // Both files are top-level arrays, read element by element (region_descriptions.json is
  // larger than the longest string V8 can hold).
  forEachJsonArrayItem(imageDataFile, 'Visual Genome image_data.json', (raw, i) => {
    total++;
    const d = validate(ImageData, raw, imageDataFile, [i]);
    if (isProblems(d)) return log.add(d);
    const id = (d.image_id ?? d.id)!;
    const where = { file: imageDataFile, path: `[${i}]`, item: `image ${id}` };
    if (images.has(id)) return log.add({ ...where, message: `duplicate image id ${id}` });
    const relPath = relPathFromUrl(d.url, id);
    if (index && !index.has(relPath)) return log.add({ ...where, message: `image file ${index.path(relPath)} does not exist` });
    images.set(id, { id, width: d.width, height: d.height, relPath, cocoId: d.coco_id ?? undefined });
  });

  const regions: VgRegion[] = [];
  const seen = new Set<number>();
  forEachJsonArrayItem(regionsFile, 'Visual Genome region_descriptions.json', (raw, i) => {
    total++;
    const ri = validate(RegionImage, raw, regionsFile, [i]);
    if (isProblems(ri)) return log.add(ri);
    ri.regions.forEach((rr, j) => {
      total++;
      const r = validate(Region, rr, regionsFile, [i, 'regions', j]);
      if (isProblems(r)) return log.add(r);
      const where = { file: regionsFile, path: `[${i}].regions[${j}]`, item: `region ${r.region_id}` };
      if (seen.has(r.region_id)) return log.add({ ...where, message: `duplicate region id ${r.region_id}` });
      seen.add(r.region_id);
      if (r.image_id !== ri.id) return log.add({ ...where, message: `image_id ${r.image_id} differs from the enclosing entry's id ${ri.id}` });
      const im = images.get(r.image_id);
      if (!im) return log.add({ ...where, message: `image ${r.image_id} is not in ${imageDataFile}` });
      if (!r.phrase.trim()) return log.add({ ...where, path: `${where.path}.phrase`, message: 'empty phrase' });
      // The released boxes sometimes overhang the image by a few pixels: clip them (counted in
      // `clippedBoxes`); a box with no area left inside the image is bad.
      const x0 = Math.max(0, r.x);
      const y0 = Math.max(0, r.y);
      const x1 = Math.min(im.width, r.x + r.width);
      const y1 = Math.min(im.height, r.y + r.height);
      if (x1 <= x0 || y1 <= y0) {
        return log.add({ ...where, message: `box [${r.x}, ${r.y}, ${r.width}, ${r.height}] has no area inside the ${im.width}×${im.height} image` });
      }
      if (x0 !== r.x || y0 !== r.y || x1 !== r.x + r.width || y1 !== r.y + r.height) clippedBoxes++;
      regions.push({ id: r.region_id, imageId: r.image_id, phrase: r.phrase.trim(), box: [x0, y0, x1 - x0, y1 - y0], ...(r.type !== undefined ? { type: r.type } : {}) });
    });
  });
  log.finish(total);
  return { images, regions, clippedBoxes, skipped: log.skipped };
}
