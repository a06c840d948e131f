// What a stage is to the runner (DESIGN.md: "each stage is one short file that owns only its math;
// one runner owns what every stage shares"). A stage is a plain object of functions.
import type * as tf from '@tensorflow/tfjs';
import type { BatchCursor, DecodedImageCache, ResizeSpec, TextBatch, WordPieceTokenizer } from '@pixel-bert/data';
import type { PixelBert, TaskHead } from '@pixel-bert/model';
import type { Spec } from '@pixel-bert/spec';

export type StageKind = 'init-backbone' | 'init-text' | 'pretrain' | 'vqa' | 'nlvr2' | 'retrieval';

/**
 * One training batch: `examples` examples of `rowsPerExample` text rows each (ITM: a positive and
 * its negative; NLVR²: the left and right image; retrieval: the true caption and its negatives).
 * Everything is row-major; an example's rows are contiguous, so a batch splits into micro-batches
 * at example boundaries (gradient accumulation).
 */
export interface StepBatch {
  examples: number;
  rowsPerExample: number;
  /** [rows] the image of each row, as an index into the stage's image files. */
  imageIndex: Int32Array;
  /** [rows, T] text (absent for image-only stages). */
  text?: TextBatch;
  /** Per-row arrays (length rows × width), e.g. MLM labels of width T. */
  perRow: Record<string, Int32Array | Float32Array>;
  /** Per-example arrays (length examples × width), e.g. NLVR² labels, VQA soft targets. */
  perExample: Record<string, Int32Array | Float32Array>;
}

/** A batch's images as tensors, and each text row's image in them. */
export interface BatchImages {
  images: tf.Tensor4D;
  mask: tf.Tensor3D;
  /** [rows] position of each row's image in `images`. */
  rowImage: Int32Array;
}

export interface LossInput {
  model: PixelBert;
  /** Extra parameters of the stage (e.g. the classifier of the backbone stand-in). */
  extra: Map<string, tf.Variable>;
  batch: StepBatch;
  /** Null for text-only stages. */
  images: BatchImages | null;
  training: boolean;
  seed: number;
  /** A number unique to this forward pass within the stage (dropout masks and pixel samples derive from it). */
  step: number;
  spec: Spec;
}

export interface LossOutput {
  /** What is minimised. */
  total: tf.Scalar;
  /** Its parts, logged as train.loss.<name>. */
  parts: Record<string, tf.Scalar>;
}

/** Everything a stage has read and built before training. */
export interface PreparedStage {
  /** Every image file the stage reads (training, validation and test). */
  files: string[];
  /** Images already in memory (generated scenes) instead of files to decode. */
  memoryImages?: DecodedImageCache;
  trainExamples: number;
  /** Batch `cursor.step` of epoch `cursor.epoch` over the training examples (a pure function). */
  batch(cursor: BatchCursor, batchSize: number): StepBatch;
  /** Validation metrics (percent where they are rates), without the `val.` prefix. */
  validate(ev: Evaluator): Promise<Record<string, number>>;
  /** Final test metrics under their contract names (docs/runs.md), or none. */
  test?(ev: Evaluator): Promise<Record<string, number>>;
  /** What the data was, for the run (logged as params of the stage run). */
  describe: Record<string, string | number>;
}

/** What validation and test code gets from the runner. */
export interface Evaluator {
  model: PixelBert;
  extra: Map<string, tf.Variable>;
  spec: Spec;
  /** Images (by index into `files`) as tensors, decoded from the stage's store. */
  images(indices: readonly number[]): Promise<{ images: tf.Tensor4D; mask: tf.Tensor3D }>;
  log: (line: string) => void;
}

export interface StageContext {
  spec: Spec;
  /** The row's data root (absolute). */
  root: string;
  tokenizer: WordPieceTokenizer;
  log: (line: string) => void;
}

export interface StageDef {
  kind: StageKind;
  /** Heads of the model this stage trains. */
  heads(spec: Spec): TaskHead[];
  /** The part of the resolved spec this stage's result depends on (hashed into its stage hash). */
  specPart(spec: Spec): unknown;
  /** Seed of the stage: the row's, or the init stages' own (shared by every row and seed). */
  seed(spec: Spec): number;
  /** The stage's schedule; `lr` (the spec's per-stage override) replaces learningRates' values it names. */
  schedule(spec: Spec): { epochs: number; decayEpochs: readonly number[]; batchSize: number; lr?: { cnn?: number | undefined; transformer?: number | undefined } | undefined; freeze?: readonly string[] | undefined };
  /** Base learning rates of the CNN's SGD and the Transformer's AdamW. */
  learningRates(spec: Spec): { cnn: number; transformer: number };
  /** Which parameters train: `all`, the Transformer side only, the backbone only, or the text side only. */
  trains(spec: Spec): 'all' | 'transformer' | 'backbone' | 'text';
  /** The image size its images are decoded at. */
  imageSize(spec: Spec): ResizeSpec;
  /** Extra variables besides the model's (created once per stage). */
  extraParams?(spec: Spec, model: PixelBert): Map<string, tf.Variable>;
  /** Checks that need only the spec and data, before any training (bad input exits 2 here). */
  prepare(ctx: StageContext): Promise<PreparedStage>;
  loss(input: LossInput): LossOutput;
  /**
   * What later stages may take from this one's weights (variable-name prefixes); the rest of its
   * model (task heads) stays with it.
   */
  provides: readonly string[];
  /**
   * After the initial weights are loaded (not on resume): seed this stage's own head from what it
   * starts from; returns log lines of what it did.
   */
  seedHeads?(model: PixelBert, init: readonly InitSource[]): string[];
}

/** Where a stage's initial weights come from. */
export type InitSource =
  | { kind: 'stage'; stage: string; hash: string; weights: string; prefixes: readonly string[] }
  | { kind: 'torchvision' | 'bert'; file: string }
  | { kind: 'none'; part: string };
