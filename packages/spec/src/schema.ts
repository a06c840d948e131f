import { z } from 'zod';

/**
 * The experiment spec: the single source of truth for a run's configuration.
 * Every type in the workbench that describes a spec is `z.infer` of this file.
 * Defaults live in experiments/base.yaml (the paper's values), not here, so
 * that a spec file is the whole truth; the schema only says what is allowed.
 */

const posInt = (what: string) => z.int().min(1, { error: `${what} must be a whole number ≥ 1` });
const nonNegInt = z.int().min(0);
const fraction = (what: string) =>
  z.number().min(0, { error: `${what} must be in [0, 1]` }).max(1, { error: `${what} must be in [0, 1]` });
const learningRate = z.number().gt(0, { error: 'a learning rate must be > 0' });
const lossWeight = (what: string) => z.number().gt(0, { error: `${what} must be > 0 (leave a task out with pretrain.tasks)` });
const weightDecay = z.number().min(0, { error: 'weight decay must be ≥ 0' });

/** Backbones the paper uses (Section 4.2 and Table 6). */
export const PaperBackbone = z.enum(['resnet50', 'resnext152']);
export type PaperBackbone = z.infer<typeof PaperBackbone>;

/** Networks @pixel-bert/model can build (its backbone table). */
export const BackboneArch = z.enum([
  'resnet18',
  'resnet50',
  'resnext152',
  'resnet-small',
  'resnext-small',
  'resnet-smoke',
  'resnext-smoke',
]);
export type BackboneArch = z.infer<typeof BackboneArch>;

export const ImageSize = z
  .strictObject({
    /** Resize so the shorter edge is this long (paper: 800 for ResNet-50, 600 for ResNeXt-152). */
    shortEdge: z.int().min(16, { error: 'shortEdge must be ≥ 16 pixels' }),
    /** …and the longer edge at most this (paper: 1333 / 1000). */
    longEdge: z.int().min(16, { error: 'longEdge must be ≥ 16 pixels' }),
  })
  .refine((s) => s.longEdge >= s.shortEdge, { error: 'longEdge must be ≥ shortEdge', path: ['longEdge'] });

/** What actually runs in place of a paper backbone at a given scale. */
export const BackboneRealisation = z.strictObject({
  arch: BackboneArch,
  image: ImageSize,
});

export const Encoder = z
  .strictObject({
    layers: posInt('layers'),
    hidden: posInt('hidden'),
    heads: posInt('heads'),
    ffn: posInt('ffn'),
    dropout: z.number().min(0).lt(1, { error: 'dropout must be in [0, 1)' }),
    /** Size of the text position table, [CLS] and [SEP] included. */
    maxTextLength: z.int().min(4, { error: 'maxTextLength must be ≥ 4 ([CLS] w [SEP] needs room)' }),
  })
  .refine((e) => e.hidden % e.heads === 0, {
    error: 'hidden must be divisible by heads',
    path: ['heads'],
  });

/** Model parts a stage can freeze (`<stage>.freeze`), by their variables' name prefix. */
export const FREEZABLE_PARTS = ['backbone', 'pixel_embeddings', 'embeddings', 'encoder', 'pooler'] as const;

/** An epoch schedule with step decay (×optim.decayFactor at each listed epoch). */
const scheduleShape = {
  epochs: posInt('epochs'),
  decayEpochs: z.array(posInt('a decay epoch')),
  batchSize: posInt('batchSize'),
  /** This stage's base learning rates where they differ from `optim` (each optional; not in the paper, which uses one pair). */
  lr: z.strictObject({ cnn: learningRate.optional(), transformer: learningRate.optional() }).optional(),
  /**
   * Parts of the model whose weights this stage does not update (a lever, not in the paper). A frozen
   * backbone's batch-norm layers still run in the stage's mode (statistics of the batch, running ones
   * moved, where the stage trains the CNN). `pixel_embeddings` is the 1×1 projection, s_v and
   * LayerNorm of the pixel tokens.
   */
  freeze: z.array(z.enum(FREEZABLE_PARTS)).optional(),
};
type Schedule = { epochs: number; decayEpochs: number[] };
function checkSchedule(s: Schedule, ctx: z.core.$RefinementCtx<unknown>) {
  s.decayEpochs.forEach((e, i) => {
    if (e >= s.epochs)
      ctx.addIssue({ code: 'custom', path: ['decayEpochs', i], message: `decay epoch ${e} must be < epochs (${s.epochs})` });
    const prev = s.decayEpochs[i - 1];
    if (prev !== undefined && e <= prev)
      ctx.addIssue({ code: 'custom', path: ['decayEpochs', i], message: 'decay epochs must be strictly increasing' });
  });
}

export const Pretrain = z
  .strictObject({
    /** Table 6's toggles. Both false = row 1: no pre-training at all. */
    tasks: z.strictObject({ mlm: z.boolean(), itm: z.boolean() }),
    /** Section 3.3: 15 % of text tokens, BERT's 80/10/10 replacement. */
    /** `weight`: the task's weight in the summed loss (default 1: the paper sums MLM and ITM). */
    /**
     * `fromEpoch` (not in the paper, default 0): beside ITM, MLM joins at this epoch (0-based, like
     * `decayEpochs`) and ITM trains alone before it — an ITM-first curriculum. Without ITM it has no
     * effect (MLM alone always trains from the start).
     */
    mlm: z.strictObject({ probability: fraction('mlm.probability').gt(0, { error: 'mlm.probability must be > 0' }), weight: lossWeight('mlm.weight').optional(), fromEpoch: nonNegInt.optional() }),
    /**
     * Section 3.3: one negative (another image's sentence) per positive pair.
     * `hard` (not in the paper, default none): that fraction of negatives is the caption, among
     * `candidates` drawn at random, sharing the most words with the positive (a caption that differs
     * in an attribute or two rather than in everything), so that ITM cannot stop at coarse cues.
     */
    itm: z.strictObject({
      negativesPerPositive: posInt('negativesPerPositive'),
      weight: lossWeight('itm.weight').optional(),
      hard: z.strictObject({ fraction: fraction('itm.hard.fraction'), candidates: posInt('itm.hard.candidates') }).optional(),
      /**
       * What a negative replaces (not in the paper; default `caption`, the paper's "another image's
       * sentence"). `image`: the positive's sentence with another image of the batch (with `hard`, the
       * image whose caption shares the most words with it): the text alone then tells nothing.
       */
      replace: z.enum(['caption', 'image']).optional(),
      /**
       * What text ITM reads beside MLM (not in the paper, which does not say; default `masked`: one
       * forward serves both tasks, negatives masked alike). `unmasked` (UNITER, ViLT): ITM's pairs
       * get whole captions in rows of their own, so no masked word hides what tells a negative from
       * its positive; each example then costs three text rows instead of two.
       */
      text: z.enum(['masked', 'unmasked']).optional(),
    }),
    /** Section 3.4: keep `count` random feature pixels per image each iteration (pre-training only). */
    pixelSampling: z.strictObject({ enabled: z.boolean(), count: posInt('pixelSampling.count') }),
    /** Captioned image sets used for pre-training (Section 4.1: COCO + Visual Genome). */
    datasets: z.array(z.enum(['coco', 'vg'])).min(1),
    ...scheduleShape,
  })
  .superRefine(checkSchedule)
  .superRefine((p, ctx) => {
    if (p.mlm.fromEpoch !== undefined && p.mlm.fromEpoch >= p.epochs)
      ctx.addIssue({ code: 'custom', path: ['mlm', 'fromEpoch'], message: `mlm.fromEpoch ${p.mlm.fromEpoch} must be < epochs (${p.epochs}): MLM would never train` });
  });

/**
 * Where a part of the model starts (Sec. 4.1: an ImageNet CNN and BERT, for every row of Table 6):
 * `none` (random), `stage` (the built-in stand-in stage of the `init` section, trained on generated
 * data), or a weights file (`.safetensors`: a torchvision state dict for the backbone, a Hugging Face
 * BERT for the text side; relative paths are relative to the workspace root).
 */
const InitSource = z.union([z.literal('none'), z.literal('stage'), z.string().regex(/\.safetensors$/, { error: "expected 'none', 'stage' or a path to a .safetensors file" })]);

/** Budgets of the built-in initialisation stages (the stand-ins for ImageNet and BERT pre-training). */
export const InitStages = z.strictObject({
  /** One seed for both stages: they are shared by every row and seed of a sweep. */
  seed: nonNegInt,
  /** The backbone as an image classifier (shape, colour, count of objects) on generated scenes. */
  backbone: z.strictObject({
    images: posInt('init.backbone.images'),
    epochs: posInt('init.backbone.epochs'),
    batchSize: posInt('init.backbone.batchSize'),
    lr: learningRate,
  }),
  /** The text embeddings and encoder with text-only MLM on the pre-training captions. */
  text: z.strictObject({
    epochs: posInt('init.text.epochs'),
    batchSize: posInt('init.text.batchSize'),
    lr: learningRate,
  }),
});

/** How the trainer runs a stage (not the science): checkpoints, logging, evaluation sizes. */
export const Trainer = z.strictObject({
  /** Checkpoint every this many optimiser steps (and at every epoch end). */
  checkpointEvery: posInt('trainer.checkpointEvery'),
  /** A plain log line every this many steps when the output is not a terminal. */
  logEvery: posInt('trainer.logEvery'),
  /** Rows per forward pass in validation and test. */
  evalBatchSize: posInt('trainer.evalBatchSize'),
  /** Validation items per epoch (the first N of the validation split; 0 = all). */
  valItems: nonNegInt,
  /** Images of the retrieval validation ranking (full ranking of their captions). */
  retrievalValImages: posInt('trainer.retrievalValImages'),
  /** Decoded images kept in memory per stage (beyond it, images are decoded each epoch by the loader). */
  imageCacheMB: nonNegInt,
  /**
   * How many of a row's stages that need only what is already trained run at once, each in its
   * own process (the fine-tuning stages after pre-training; the two init stages). Their results
   * are the same as one after another; `PIXEL_BERT_PARALLEL_STAGES` overrides it (train:table6
   * sets 1 when it runs rows side by side).
   */
  parallelStages: posInt('trainer.parallelStages'),
  /**
   * Processes that share each optimiser step of a stage that runs alone: each computes the
   * gradients of its share of the batch's micro-batches (`optim.accumulation`, which must be a
   * multiple of it), the stage's process sums them, updates and hands the weights back. The
   * parameters are those of the same accumulation in one process, bit for bit;
   * `PIXEL_BERT_DATA_PARALLEL` overrides it (train:table6 sets 1 beside other rows).
   */
  dataParallel: posInt('trainer.dataParallel'),
});

export const Optim = z.strictObject({
  /** Section 4.2: SGD for the CNN, lr 1e-2, weight decay 5e-4. */
  cnn: z.strictObject({
    type: z.literal('sgd'),
    lr: learningRate,
    weightDecay,
    momentum: z.number().min(0).lt(1),
  }),
  /** Section 4.2: AdamW for the Transformer, lr 1e-4, weight decay 1e-2. */
  transformer: z.strictObject({
    type: z.literal('adamw'),
    lr: learningRate,
    weightDecay,
    beta1: z.number().min(0).lt(1),
    beta2: z.number().min(0).lt(1),
  }),
  decayFactor: z.number().gt(0).max(1),
  /** Linear warm-up of both learning rates over the first N optimiser steps of each stage (0 = none). */
  warmupSteps: nonNegInt,
  /** Clip the global gradient norm to this (0 = no clipping). */
  clipGradNorm: z.number().min(0, { error: 'clipGradNorm must be ≥ 0 (0 turns clipping off)' }),
  /**
   * Split each batch into this many micro-batches whose gradients are summed before one update:
   * the spec's batch on little memory. Steps per epoch and the schedule do not change.
   */
  accumulation: posInt('accumulation'),
});

export const Finetune = z.strictObject({
  vqa: z.strictObject({ ...scheduleShape, answerVocabSize: z.int().min(2) }).superRefine(checkSchedule),
  nlvr2: z.strictObject(scheduleShape).superRefine(checkSchedule),
  retrieval: z
    .strictObject({
      ...scheduleShape,
      /** Section 4.4: 20 random negatives per true caption… */
      negatives: posInt('negatives'),
      /** …of which only the 5 hardest receive gradients. */
      hardNegatives: posInt('hardNegatives'),
      /** Section 4.4: only the Transformer is fine-tuned for retrieval. */
      finetuneCnn: z.boolean(),
      /**
       * Not in the paper (default none): that fraction of each group's negatives is, of `candidates`
       * captions of other images, the one sharing the most words with the true caption.
       */
      hard: z.strictObject({ fraction: fraction('retrieval.hard.fraction'), candidates: posInt('retrieval.hard.candidates') }).optional(),
    })
    .superRefine(checkSchedule)
    .refine((r) => r.hardNegatives <= r.negatives, {
      error: 'hardNegatives must be ≤ negatives',
      path: ['hardNegatives'],
    }),
});

/** Sizes of the generated world (`data:synth`); ignored for `source: real`. */
export const SynthSizes = z.strictObject({
  imageSize: z.int().min(32),
  objectsPerImage: z.strictObject({ min: posInt('objectsPerImage.min'), max: posInt('objectsPerImage.max') }),
  pretrainImages: posInt('pretrainImages'),
  captionsPerImage: posInt('captionsPerImage'),
  vqaTrainImages: posInt('vqaTrainImages'),
  vqaTestQuestions: posInt('vqaTestQuestions'),
  nlvr2TrainPairs: posInt('nlvr2TrainPairs'),
  nlvr2TestPairs: posInt('nlvr2TestPairs'),
  retrievalTrainImages: posInt('retrievalTrainImages'),
  retrievalTestImages: posInt('retrievalTestImages'),
  /** Visual Genome images (optional: the scale's preset in packages/data otherwise). */
  vgImages: nonNegInt.optional(),
});

export const Data = z.strictObject({
  source: z.enum(['synthetic', 'real']),
  /** Where the datasets live (relative paths are relative to the workspace root). */
  root: z.string().min(1),
  /** Corrupt/missing images above this fraction of a dataset fail the run instead of being skipped. */
  maxCorruptFraction: fraction('maxCorruptFraction'),
  synth: SynthSizes,
});

const specShape = {
  /** Human label; not part of the hash. */
  name: z.string().min(1),
  description: z.string().optional(),
  /** Table 6 row this spec reproduces, if any. */
  row: z.int().min(1).max(6).optional(),
  scale: z.enum(['smoke', 'small', 'paper']),
  seed: nonNegInt,
  /** Compute backend: `auto` takes the best one present (tensorflow > wasm > cpu). */
  backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']),
  model: z.strictObject({
    /** The paper's backbone for this experiment; `backbones` says what runs in its place. */
    backbone: PaperBackbone,
    frozenStages: z.int().min(0).max(4),
    frozenBatchNorm: z.boolean(),
    encoder: Encoder,
    /** The paper adds no spatial position embedding to pixels (Section 3.2); kept as an option. */
    pixelPositionEmbedding: z.boolean(),
    /** Not in the paper (eq. 5 has none): LayerNorm over each pixel token, as eq. (4) over each word. */
    pixelLayerNorm: z.boolean(),
    init: z.strictObject({ backbone: InitSource, text: InitSource }),
  }),
  init: InitStages,
  trainer: Trainer,
  /** Per paper backbone: the network and image size used at this scale. */
  backbones: z.strictObject({ resnet50: BackboneRealisation, resnext152: BackboneRealisation }),
  pretrain: Pretrain,
  optim: Optim,
  finetune: Finetune,
  data: Data,
};

/** The file-level schema, before derived fields are added. */
export const SpecInput = z.strictObject(specShape);

/**
 * The spec schema. Its output adds `model.run`: what actually runs (the network
 * and image size), derived from `model.backbone` and the scale's `backbones`
 * table, so the resolved spec records both the paper's name and the real thing.
 */
export const SpecSchema = SpecInput.superRefine((s, ctx) => {
  if (s.optim.accumulation % s.trainer.dataParallel !== 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['trainer', 'dataParallel'],
      message: `trainer.dataParallel ${s.trainer.dataParallel} splits each batch's micro-batches over ${s.trainer.dataParallel} processes, so optim.accumulation (${s.optim.accumulation}) must be a multiple of it: set optim.accumulation to ${s.trainer.dataParallel} (same schedule; batch-norm statistics then come from the micro-batches)`,
    });
  }
}).transform((s) => ({
  ...s,
  model: { ...s.model, run: { paper: s.model.backbone, ...s.backbones[s.model.backbone] } },
}));

export type SpecFile = z.input<typeof SpecSchema>;
export type Spec = z.output<typeof SpecSchema>;
export type Scale = Spec['scale'];
export const SCALES: readonly Scale[] = SpecInput.shape.scale.options;
export const ROWS = [1, 2, 3, 4, 5, 6] as const;
