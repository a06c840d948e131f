import { z } from 'zod';
import { DataError, FileIndex, isProblems, ProblemLog, readJson, validate } from './problems';
import type { Problem } from './problems';
import type { ReadOptions } from './coco';

export const KARPATHY_SPLITS = ['train', 'restval', 'val', 'test'] as const;
export type KarpathySplit = (typeof KARPATHY_SPLITS)[number];

const Sentence = z.object({
  raw: z.string(),
  tokens: z.array(z.string()).optional(),
  sentid: z.number().int().nonnegative().optional(),
  type: z.string().optional(),
});
const Image = z
  .object({
    filename: z.string().min(1),
    // COCO keeps images in train2014/ val2014/ folders; Flickr30K has no filepath.
    filepath: z.string().optional(),
    split: z.enum(KARPATHY_SPLITS),
    sentences: z.array(z.unknown()).min(1),
    cocoid: z.number().int().nonnegative().optional(),
    imgid: z.number().int().nonnegative().optional(),
  })
  .refine((im) => im.cocoid !== undefined || im.imgid !== undefined, { message: 'needs cocoid (COCO) or imgid (Flickr30K)' });
const KarpathyFile = z.object({ images: z.array(z.unknown()), dataset: z.string().optional() });

export interface KarpathyImage {
  /** `cocoid` for COCO (the COCO image id), else `imgid`. */
  id: number;
  filename: string;
  /** Path relative to the image root: `filepath/filename` when filepath is given. */
  relPath: string;
  split: KarpathySplit;
  sentences: string[];
  /** Per sentence, its type tag (e.g. colour, count, relation), where the file carries them, as the
   *  generated world does; absent when no sentence of the image has one. */
  sentenceTypes?: (string | undefined)[];
}
export interface KarpathyDataset {
  file: string;
  dataset?: string;
  images: KarpathyImage[];
  skipped: Problem[];
}

/** Read `dataset_coco.json` / `dataset_flickr30k.json` (Karpathy & Fei-Fei's splits). */
export function readKarpathy(file: string, opts: ReadOptions = {}): KarpathyDataset {
  const top = validate(KarpathyFile, readJson(file, 'Karpathy split file'), file);
  if (isProblems(top)) throw new DataError(top);
  const log = new ProblemLog(`Karpathy split ${file}`, opts.maxBadFraction ?? 0);
  const index = opts.imageDir ? new FileIndex(opts.imageDir) : undefined;
  const images: KarpathyImage[] = [];
  const ids = new Set<number>();
  top.images.forEach((raw, i) => {
    const im = validate(Image, raw, file, ['images', i]);
    if (isProblems(im)) return log.add(im);
    const id = (im.cocoid ?? im.imgid)!;
    const where = { file, path: `images[${i}]`, item: `image ${id}` };
    if (ids.has(id)) return log.add({ ...where, message: `duplicate image id ${id}` });
    ids.add(id);
    const sentences: string[] = [];
    const types: (string | undefined)[] = [];
    for (const [j, s] of im.sentences.entries()) {
      const sp = validate(Sentence, s, file, ['images', i, 'sentences', j], where.item);
      if (isProblems(sp)) return log.add(sp);
      if (!sp.raw.trim()) return log.add({ ...where, path: `images[${i}].sentences[${j}].raw`, message: 'empty caption' });
      sentences.push(sp.raw.trim());
      types.push(sp.type);
    }
    const relPath = im.filepath ? `${im.filepath}/${im.filename}` : im.filename;
    if (index && !index.has(relPath)) return log.add({ ...where, message: `image file ${index.path(relPath)} does not exist` });
    images.push({ id, filename: im.filename, relPath, split: im.split, sentences, ...(types.some((t) => t !== undefined) ? { sentenceTypes: types } : {}) });
  });
  log.finish(top.images.length);
  return { file, dataset: top.dataset, images, skipped: log.skipped };
}

/**
 * Images of a split. The usual convention (UNITER, Pixel-BERT's COCO numbers): `restval` is
 * folded into training, so `karpathySplit(ds, 'train')` includes it unless `restvalInTrain` is false.
 */
export function karpathySplit(ds: KarpathyDataset, split: 'train' | 'val' | 'test' | 'restval', { restvalInTrain = true } = {}): KarpathyImage[] {
  return ds.images.filter((im) => im.split === split || (split === 'train' && restvalInTrain && im.split === 'restval'));
}
