// The pre-training corpus of a dataset root (the layout data:synth writes, real or generated):
// every caption of the COCO Karpathy train+restval images and every Visual Genome region phrase
// (paper Sec. 4.1: "MS-COCO and Visual Genome"), tokenized, each pointing at its image. VG images
// that are COCO images of the Karpathy val/test splits are left out (UNITER's rule: no test image
// may be seen in pre-training), and counted.

import { join } from 'node:path';
import { readKarpathy, readVisualGenome, type Problem } from '../readers/index';
import type { WordPieceTokenizer } from '../tokenizer/index';
import type { CaptionExample } from './tasks';

export interface PretrainCorpusOptions {
  /** Which captioned sets (the spec's pretrain.datasets). */
  datasets: readonly ('coco' | 'vg')[];
  tokenizer: WordPieceTokenizer;
  /** Bad items (missing images, empty captions…) skipped and reported up to this fraction; default 0. */
  maxBadFraction?: number;
}

export interface PretrainCorpus {
  /** Image files; `examples[k].imageIndex` points here. */
  files: string[];
  examples: CaptionExample[];
  /** Which set each file came from (parallel to `files`). */
  sources: ('coco' | 'vg')[];
  counts: { cocoImages: number; cocoCaptions: number; vgImages: number; vgPhrases: number; vgExcludedAsCocoTest: number };
  skipped: Problem[];
}

export function readPretrainCorpus(root: string, o: PretrainCorpusOptions): PretrainCorpus {
  if (o.datasets.length === 0) throw new Error('readPretrainCorpus: no datasets given (the spec lists them in pretrain.datasets)');
  const files: string[] = [];
  const sources: ('coco' | 'vg')[] = [];
  const examples: CaptionExample[] = [];
  const skipped: Problem[] = [];
  const counts = { cocoImages: 0, cocoCaptions: 0, vgImages: 0, vgPhrases: 0, vgExcludedAsCocoTest: 0 };
  const maxBadFraction = o.maxBadFraction ?? 0;
  const cocoDir = join(root, 'coco');
  // The Karpathy file is needed for VG too: its val/test COCO ids are what VG must not contain.
  const karpathy = readKarpathy(join(cocoDir, 'dataset_coco.json'), { maxBadFraction, ...(o.datasets.includes('coco') ? { imageDir: cocoDir } : {}) });
  if (o.datasets.includes('coco')) {
    skipped.push(...karpathy.skipped);
    for (const im of karpathy.images) {
      if (im.split !== 'train' && im.split !== 'restval') continue;
      const imageIndex = files.push(join(cocoDir, im.relPath)) - 1;
      sources.push('coco');
      counts.cocoImages++;
      for (const s of im.sentences) {
        examples.push({ imageIndex, ids: o.tokenizer.ids(s) });
        counts.cocoCaptions++;
      }
    }
  }
  if (o.datasets.includes('vg')) {
    const held = new Set(karpathy.images.filter((im) => im.split === 'val' || im.split === 'test').map((im) => im.id));
    const vgDir = join(root, 'vg');
    const vg = readVisualGenome(join(vgDir, 'region_descriptions.json'), join(vgDir, 'image_data.json'), { maxBadFraction, imageDir: vgDir });
    skipped.push(...vg.skipped);
    const indexOf = new Map<number, number>();
    for (const r of vg.regions) {
      const im = vg.images.get(r.imageId);
      if (!im) continue; // the reader reports regions of unknown images as skipped
      if (im.cocoId !== undefined && held.has(im.cocoId)) {
        if (!indexOf.has(r.imageId)) {
          indexOf.set(r.imageId, -1);
          counts.vgExcludedAsCocoTest++;
        }
        continue;
      }
      let imageIndex = indexOf.get(r.imageId);
      if (imageIndex === undefined) {
        imageIndex = files.push(join(vgDir, im.relPath)) - 1;
        sources.push('vg');
        indexOf.set(r.imageId, imageIndex);
        counts.vgImages++;
      }
      examples.push({ imageIndex, ids: o.tokenizer.ids(r.phrase) });
      counts.vgPhrases++;
    }
  }
  return { files, examples, sources, counts, skipped };
}
