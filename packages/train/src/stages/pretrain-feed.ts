// One pre-training epoch as the model will take it: text batches from the corpus (MLM/ITM per the
// row) and, decoded ahead by the image loader, each batch's distinct images once — an ITM negative
// shares its positive's image, so rows map onto images (`rowImage`, which pixelBertForward takes)
// instead of repeating pixels, and the CNN runs once per image. Everything derives from (seed, epoch, step): starting an
// epoch at step k yields exactly the steps k… an uninterrupted epoch yields.
import { buildPretrainBatch, ImageLoader, stepsPerEpoch } from '@pixel-bert/data';
import type { CollateOptions, LoadedBatch, PretrainCorpus, PretrainOptions, ResizeSpec, TextBatch } from '@pixel-bert/data';

export interface PretrainFeedOptions {
  corpus: PretrainCorpus;
  batch: PretrainOptions;
  seed: number;
  resize: ResizeSpec;
  collate?: CollateOptions;
  /** Loader settings (see ImageLoader). */
  workers?: number;
  niceness?: number;
  /** Images that may fail to decode (skipped, with their rows, and reported) before the epoch fails. */
  maxBadFraction?: number;
}

export interface PretrainStep {
  epoch: number;
  step: number;
  /** The batch's distinct images, decoded and padded. */
  images: LoadedBatch;
  /** [R] for each text row, its image's position in `images`. */
  rowImage: Int32Array;
  text: TextBatch;
  mlmLabels: Int32Array | null;
  itmLabels: Int32Array | null;
  /** Rows dropped because their image could not be decoded. */
  droppedRows: number;
}

export function pretrainSteps(o: Pick<PretrainFeedOptions, 'corpus' | 'batch'>): number {
  return stepsPerEpoch(o.corpus.examples.length, o.batch.batchSize, o.batch.dropLast);
}

/** The steps of one epoch from `fromStep` on. Leaving the loop early stops the decoders. */
export async function* pretrainEpoch(o: PretrainFeedOptions, epoch: number, fromStep = 0): AsyncGenerator<PretrainStep> {
  const steps = pretrainSteps(o);
  if (!(Number.isInteger(fromStep) && fromStep >= 0 && fromStep <= steps)) throw new RangeError(`pretrainEpoch: fromStep must be 0…${steps}, got ${fromStep}`);
  const texts = [];
  const imageLists: number[][] = [];
  for (let step = fromStep; step < steps; step++) {
    const b = buildPretrainBatch(o.corpus.examples, { seed: o.seed, epoch, step }, o.batch);
    const unique = [...new Set(b.imageIndex)];
    texts.push(b);
    imageLists.push(unique);
  }
  if (texts.length === 0) return;
  const loader = new ImageLoader({
    files: o.corpus.files,
    batches: imageLists,
    resize: o.resize,
    ...(o.collate ? { collate: o.collate } : {}),
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    ...(o.niceness !== undefined ? { niceness: o.niceness } : {}),
    maxBadFraction: o.maxBadFraction ?? 0,
  });
  try {
    // A batch whose every image failed never comes out of the loader (it is in loader.skipped):
    // that step has no rows to train on.
    for await (const images of loader) {
      const b = texts[images.step]!;
      const position = new Map(images.index.map((fileIndex, i) => [fileIndex, i]));
      const keep = Array.from(b.imageIndex, (img) => position.has(img));
      const rows = keep.filter(Boolean).length;
      yield {
        epoch,
        step: fromStep + images.step,
        images,
        rowImage: Int32Array.from(b.imageIndex.filter((_, r) => keep[r]), (img) => position.get(img)!),
        ...keepRows(b.text, b.mlmLabels, b.itmLabels, keep),
        droppedRows: keep.length - rows,
      };
    }
  } finally {
    await loader.close();
  }
}

function keepRows(text: TextBatch, mlm: Int32Array | null, itm: Int32Array | null, keep: boolean[]): Pick<PretrainStep, 'text' | 'mlmLabels' | 'itmLabels'> {
  if (keep.every(Boolean)) return { text, mlmLabels: mlm, itmLabels: itm };
  const T = text.seqLen;
  const rows = keep.flatMap((k, r) => (k ? [r] : []));
  const pick = (a: Int32Array, width: number) => {
    const out = new Int32Array(rows.length * width);
    rows.forEach((r, i) => out.set(a.subarray(r * width, (r + 1) * width), i * width));
    return out;
  };
  return {
    text: { batchSize: rows.length, seqLen: T, inputIds: pick(text.inputIds, T), attentionMask: pick(text.attentionMask, T) },
    mlmLabels: mlm ? pick(mlm, T) : null,
    itmLabels: itm ? pick(itm, 1) : null,
  };
}
