import { z } from 'zod';
import { DataError, FileIndex, isProblems, ProblemLog, readJson, validate } from './problems';
import type { Problem } from './problems';

/** Reader options shared by the caption-style readers. */
export interface ReadOptions {
  /** Fraction of items that may be bad (skipped and reported) before the read fails; default 0. */
  maxBadFraction?: number;
  /** When given, every referenced image must exist under this directory (else the item is bad). */
  imageDir?: string;
}

const CocoImage = z.object({
  id: z.number().int().nonnegative(),
  file_name: z.string().min(1),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
});
const CocoCaption = z.object({
  id: z.number().int().nonnegative(),
  image_id: z.number().int().nonnegative(),
  caption: z.string(),
  type: z.string().optional(),
});
const CocoFile = z.object({ images: z.array(z.unknown()), annotations: z.array(z.unknown()) });

export interface CocoImageInfo {
  id: number;
  fileName: string;
  width?: number;
  height?: number;
}
export interface CocoCaptionItem {
  id: number;
  imageId: number;
  caption: string;
  /** Item type tag (e.g. colour, count, relation) where the file carries one, as the generated world does. */
  type?: string;
}
export interface CocoCaptions {
  file: string;
  images: Map<number, CocoImageInfo>;
  captions: CocoCaptionItem[];
  /** Items left out, each with the reason. */
  skipped: Problem[];
}

/** Read an official MS-COCO `captions_{train,val}2014.json` (or 2017). */
export function readCocoCaptions(file: string, opts: ReadOptions = {}): CocoCaptions {
  const top = validate(CocoFile, readJson(file, 'COCO captions file'), file);
  if (isProblems(top)) throw new DataError(top);
  const log = new ProblemLog(`COCO captions ${file}`, opts.maxBadFraction ?? 0);
  const index = opts.imageDir ? new FileIndex(opts.imageDir) : undefined;

  const images = new Map<number, CocoImageInfo>();
  top.images.forEach((raw, i) => {
    const im = validate(CocoImage, raw, file, ['images', i]);
    if (isProblems(im)) return log.add(im);
    const where = { file, path: `images[${i}]`, item: `image ${im.id}` };
    if (images.has(im.id)) return log.add({ ...where, message: `duplicate image id ${im.id}` });
    if (index && !index.has(im.file_name)) return log.add({ ...where, message: `image file ${index.path(im.file_name)} does not exist` });
    images.set(im.id, { id: im.id, fileName: im.file_name, width: im.width, height: im.height });
  });

  const captions: CocoCaptionItem[] = [];
  const seen = new Set<number>();
  top.annotations.forEach((raw, i) => {
    const a = validate(CocoCaption, raw, file, ['annotations', i]);
    if (isProblems(a)) return log.add(a);
    const where = { file, path: `annotations[${i}]`, item: `caption ${a.id}` };
    if (seen.has(a.id)) return log.add({ ...where, message: `duplicate annotation id ${a.id}` });
    seen.add(a.id);
    if (!a.caption.trim()) return log.add({ ...where, path: `${where.path}.caption`, message: 'empty caption' });
    if (!images.has(a.image_id)) return log.add({ ...where, path: `${where.path}.image_id`, message: `image_id ${a.image_id} is not among the usable images of this file` });
    captions.push({ id: a.id, imageId: a.image_id, caption: a.caption.trim(), ...(a.type !== undefined ? { type: a.type } : {}) });
  });
  log.finish(top.images.length + top.annotations.length);
  return { file, images, captions, skipped: log.skipped };
}
