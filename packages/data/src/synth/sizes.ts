// How big the generated world is at each scale. The spec (`data.synth` in experiments/scales/*.yaml)
// is the source of truth once it exists; these presets are the defaults it overrides key by key.

import { z } from 'zod';

const count = (min: number) => z.number().int().min(min);

export const SynthSizesSchema = z
  .object({
    /** Side of the square images, px. The small/smoke backbones give an 8×8 pooled grid at 128/64. */
    imageSize: count(32),
    objectsMin: count(1),
    objectsMax: count(1),
    captionsPerImage: count(1),
    /** COCO-style pre-training images (Karpathy train + restval), each with captionsPerImage captions. */
    pretrainImages: count(2),
    /** VG-style images with region phrases (also pre-training data, as in the paper). */
    vgImages: count(0),
    /** VQA training images: a subset of the COCO train2014 images (so smaller than pre-training). */
    vqaTrainImages: count(1),
    questionsPerImage: count(1),
    /** VQA evaluation questions, asked about held-out val2014 images (Karpathy val + test). */
    vqaTestQuestions: count(1),
    retrievalTrainImages: count(1),
    retrievalValImages: count(0),
    retrievalTestImages: count(2),
    nlvr2TrainPairs: count(1),
    nlvr2DevPairs: count(0),
    nlvr2TestPairs: count(1),
  })
  .superRefine((s, ctx) => {
    if (s.objectsMax < s.objectsMin)
      ctx.addIssue({ code: 'custom', path: ['objectsMax'], message: `objectsMax (${s.objectsMax}) must be ≥ objectsMin (${s.objectsMin})` });
    if (s.objectsMax > 6)
      ctx.addIssue({ code: 'custom', path: ['objectsMax'], message: `objectsMax must be ≤ 6 (objects must not overlap), got ${s.objectsMax}` });
    const train = s.pretrainImages - restvalCount(s.pretrainImages);
    if (s.vqaTrainImages > train)
      ctx.addIssue({
        code: 'custom',
        path: ['vqaTrainImages'],
        message: `vqaTrainImages (${s.vqaTrainImages}) must be ≤ the COCO train2014 images (${train} of pretrainImages ${s.pretrainImages}): VQA trains on a subset of the pre-training images`,
      });
  });

export type SynthSizes = z.infer<typeof SynthSizesSchema>;
export type SynthScale = 'smoke' | 'small' | 'paper';

/** Karpathy's restval: one sixth of the pre-training images come from val2014, as in the real split. */
export function restvalCount(pretrainImages: number): number {
  return Math.floor(pretrainImages / 6);
}

export const SYNTH_PRESETS: Record<SynthScale, SynthSizes> = {
  // Seconds: wiring only.
  smoke: {
    imageSize: 64,
    objectsMin: 1,
    objectsMax: 3,
    captionsPerImage: 5,
    pretrainImages: 64,
    vgImages: 12,
    vqaTrainImages: 32,
    questionsPerImage: 5,
    vqaTestQuestions: 48,
    retrievalTrainImages: 24,
    retrievalValImages: 4,
    retrievalTestImages: 16,
    nlvr2TrainPairs: 32,
    nlvr2DevPairs: 4,
    nlvr2TestPairs: 16,
  },
  // Minutes of CPU training per row. Test splits sized so one standard error ≈ 1 point
  // (3000 VQA questions, 1000 NLVR² pairs, 300 retrieval images × 5 captions), per the issue.
  small: {
    imageSize: 128,
    objectsMin: 2,
    objectsMax: 4,
    captionsPerImage: 5,
    pretrainImages: 4000,
    vgImages: 1000,
    vqaTrainImages: 1500,
    questionsPerImage: 5,
    vqaTestQuestions: 3000,
    retrievalTrainImages: 1000,
    retrievalValImages: 100,
    retrievalTestImages: 300,
    nlvr2TrainPairs: 2000,
    nlvr2DevPairs: 300,
    nlvr2TestPairs: 1000,
  },
  // A larger generated world for GPU dry runs; the paper's own data are the real datasets.
  paper: {
    imageSize: 256,
    objectsMin: 2,
    objectsMax: 5,
    captionsPerImage: 5,
    pretrainImages: 60000,
    vgImages: 20000,
    vqaTrainImages: 30000,
    questionsPerImage: 5,
    vqaTestQuestions: 20000,
    retrievalTrainImages: 20000,
    retrievalValImages: 1000,
    retrievalTestImages: 1000,
    nlvr2TrainPairs: 40000,
    nlvr2DevPairs: 3000,
    nlvr2TestPairs: 3000,
  },
};

/**
 * The preset for `scale` with `overrides` applied and validated. `overrides` may be in this
 * module's flat form or in the spec's `data.synth` form (`objectsPerImage: {min, max}`); keys the
 * spec does not carry (vgImages, questionsPerImage, retrievalValImages, nlvr2DevPairs) keep the
 * preset's value. Unknown keys are an error, so a typo in a YAML file is not silently ignored.
 */
export function resolveSynthSizes(scale: SynthScale, overrides: Record<string, unknown> = {}, where = 'data.synth'): SynthSizes {
  const flat: Record<string, unknown> = { ...overrides };
  const opi = flat.objectsPerImage;
  if (opi !== undefined) {
    delete flat.objectsPerImage;
    if (typeof opi === 'object' && opi !== null) {
      const { min, max } = opi as { min?: unknown; max?: unknown };
      if (min !== undefined) flat.objectsMin = min;
      if (max !== undefined) flat.objectsMax = max;
    } else throw new Error(`invalid synthetic-data sizes: ${where}.objectsPerImage must be {min, max}, got ${JSON.stringify(opi)}`);
  }
  const known = new Set(Object.keys(SYNTH_PRESETS.smoke));
  const unknown = Object.keys(flat).filter((k) => !known.has(k));
  if (unknown.length)
    throw new Error(`invalid synthetic-data sizes: unknown key(s) ${unknown.map((k) => `${where}.${k}`).join(', ')}; known: ${[...known].join(', ')}`);
  const merged = { ...SYNTH_PRESETS[scale], ...flat };
  const r = SynthSizesSchema.safeParse(merged);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${where}.${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid synthetic-data sizes for scale "${scale}":\n${lines.join('\n')}`);
  }
  return r.data;
}
