import * as tf from '@tensorflow/tfjs';
import { PIXEL_POOL, createBackbone, type Backbone, type BackboneOptions } from './backbone/index';
import { createPixelEmbedding, pixelEmbeddingForward, pixelMaskFromImageMask, type PixelEmbedding } from './embeddings/pixel';
import { createTextEmbedding, textEmbeddingForward, validateTokens, type TextEmbedding } from './embeddings/text';
import { createEncoder, createPooler, encoderForward, poolerForward, type Encoder, type Pooler } from './encoder/encoder';
import { forwardContext } from './encoder/nn';
import {
  createItmHead,
  createMlmHead,
  createNlvr2Head,
  createRetrievalHead,
  createVqaHead,
  itmHeadForward,
  mlmHeadForward,
  nlvr2HeadForward,
  retrievalHeadForward,
  vqaHeadForward,
  type ItmHead,
  type MlmHead,
  type Nlvr2Head,
  type RetrievalHead,
  type VqaHead,
} from './heads/heads';
import { mlmTargets, type MlmTargets } from './heads/losses';
import { readCheckpoint } from './weights/checkpoint';
import { ParamScope, countParams, type ParamRegistry } from './params';
import { allPixels, samplePixels, type PixelSelection } from './sampling/pixel-sampling';

/**
 * Pixel-BERT (Huang et al., 2020, Section 3), assembled:
 *
 *   image ─CNN─► pooled map (B,h,w,C) ─[sample k pixels]─► 1×1 proj + s_v ─► v̂ (B,k,d)
 *   text  ─► word + position + s_w ─► LayerNorm ─► ŵ (B,T,d)
 *   [ŵ ; v̂] (B,T+k,d) ─► BERT encoder ─► hidden ─► pooler / MLM head / [CLS] heads
 *
 * Parameter names (the registry keys, which save/load and the importers use):
 *   backbone.*            the CNN (./backbone)
 *   pixel_embeddings.*    projection, s_v (eq. 5)
 *   embeddings.*          BERT's text embeddings (eq. 4)
 *   encoder.layer.N.*     BERT's layers;  pooler.dense.*  BERT's pooler
 *   cls.predictions.*     MLM head (BERT's names; decoder tied to the word embeddings)
 *   itm_head.* vqa_head.* nlvr2_head.* retrieval_head.*
 *
 * Use inside `tf.tidy` / an optimiser's `minimize`: forward returns new tensors.
 */
export type TaskHead = 'mlm' | 'itm' | 'vqa' | 'nlvr2' | 'retrieval';

export interface PixelBertConfig {
  backbone: { arch: string } & BackboneOptions; // arch: the backbone table key; frozen stages / batch-norm options
  hidden: number; // d (paper: 768)
  layers: number; // encoder depth (paper: 12)
  heads: number; // attention heads (paper: 12)
  ffn: number; // feed-forward width (paper: 3072)
  vocabSize: number; // WordPiece vocabulary (BERT-base uncased: 30522)
  maxTextLength: number; // position table size: the longest token sequence incl. [CLS]/[SEP]
  dropout: number; // BERT: 0.1, on embeddings, attention probabilities and block outputs
  pixelPositionEmbedding: boolean; // not in the paper: off unless an ablation asks for it
  pixelLayerNorm?: boolean; // not in the paper: LayerNorm over each pixel token (default off)
  maxPixelGrid?: number; // side of the pixel position table (default 64)
  taskHeads: TaskHead[];
  answerVocabSize?: number; // VQA answers (paper: 3129); required with 'vqa'
}

export interface ForwardOptions {
  training: boolean;
  /** Pixel random sampling (pre-training): honoured only when training. */
  pixelSampling?: { count: number };
  /**
   * Randomness of this step: dropout masks and the pixel sample are functions of (seed, step).
   * `step` is required when training, so that each iteration draws afresh (Section 3.3).
   */
  seed?: number;
  step?: number;
  /**
   * Batch-norm mode of the CNN; defaults to `training`. False when the CNN is not fine-tuned
   * (retrieval fine-tunes only the Transformer, Section 4.4): running statistics are used.
   */
  backboneTraining?: boolean;
  /** Also return every layer's attention probabilities (for the Fig. 3 maps). */
  returnAttention?: boolean;
  /**
   * Rows of text that share images (ITM: a negative pairs its positive's image with another
   * caption): the image of each text row, as an index into `images`. The CNN then runs once per
   * image and its features are gathered per row; batch norm sees each image once. Without it,
   * row b is image b.
   */
  rowImage?: ArrayLike<number>;
}

export interface PixelBertOutput {
  hidden: tf.Tensor3D; // (B, T+k, d): text at [0, T), pixels at [T, T+k)
  pooled: tf.Tensor2D; // (B, d): BERT pooler on [CLS]
  textLength: number; // T
  /** The feature grid and which of its pixels entered the sequence (pixel j ↔ selection.indices[b·k + j]). */
  pixels: { grid: [number, number]; selection: PixelSelection };
  sequenceMask: tf.Tensor2D; // (B, T+k): 1 real, 0 padding
  attentions?: tf.Tensor4D[]; // per layer (B, nh, T+k, T+k)
}

export interface PixelBert {
  config: PixelBertConfig;
  params: ParamRegistry;
  backbone: Backbone;
  pixelEmbedding: PixelEmbedding;
  textEmbedding: TextEmbedding;
  encoder: Encoder;
  pooler: Pooler;
  mlmHead?: MlmHead;
  itmHead?: ItmHead;
  vqaHead?: VqaHead;
  nlvr2Head?: Nlvr2Head;
  retrievalHead?: RetrievalHead;
}

export function createPixelBert(config: PixelBertConfig, seed = 0): PixelBert {
  checkConfig(config);
  const root = ParamScope.root(seed);
  const { arch, ...backboneOptions } = config.backbone;
  const backbone = createBackbone(root.child('backbone'), arch, backboneOptions);
  const { hidden: d } = config;
  const model: PixelBert = {
    config,
    params: root.registry,
    backbone,
    pixelEmbedding: createPixelEmbedding(root.child('pixel_embeddings'), {
      channels: backbone.outChannels,
      hidden: d,
      positionEmbedding: config.pixelPositionEmbedding,
      layerNorm: config.pixelLayerNorm ?? false,
      maxGrid: config.maxPixelGrid ?? 64,
    }),
    textEmbedding: createTextEmbedding(root.child('embeddings'), config),
    encoder: createEncoder(root.child('encoder'), config),
    pooler: createPooler(root.child('pooler'), d),
  };
  const heads = new Set(config.taskHeads);
  if (heads.has('mlm')) model.mlmHead = createMlmHead(root.child('cls').child('predictions'), d, config.vocabSize);
  if (heads.has('itm')) model.itmHead = createItmHead(root.child('itm_head'), d);
  if (heads.has('vqa')) model.vqaHead = createVqaHead(root.child('vqa_head'), d, config.answerVocabSize!);
  if (heads.has('nlvr2')) model.nlvr2Head = createNlvr2Head(root.child('nlvr2_head'), d);
  if (heads.has('retrieval')) model.retrievalHead = createRetrievalHead(root.child('retrieval_head'), d);
  return model;
}

function checkConfig(c: PixelBertConfig): void {
  const positive = ['hidden', 'layers', 'heads', 'ffn', 'vocabSize', 'maxTextLength'] as const;
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`PixelBert config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`PixelBert config: dropout must be in [0, 1), got ${c.dropout}`);
  if (c.taskHeads.includes('vqa') && !(Number.isInteger(c.answerVocabSize) && c.answerVocabSize! > 0)) {
    throw new Error(`PixelBert config: the vqa head needs answerVocabSize (a positive integer; paper 3129), got ${c.answerVocabSize}`);
  }
}

/**
 * Checks every input before any kernel runs (shapes, ranks, batch sizes, token
 * ids); the error names the input, what it got and what it needs.
 */
export function validateInputs(
  model: PixelBert,
  images: tf.Tensor,
  imageMask: tf.Tensor | undefined,
  tokenIds: tf.Tensor,
  tokenMask: tf.Tensor,
  rowImage?: ArrayLike<number>,
): void {
  if (images.rank !== 4) {
    throw new Error(`images: expected rank 4 [batch, height, width, 3] (NHWC), got shape [${images.shape.join(', ')}]`);
  }
  const [B, H, W, C] = images.shape as [number, number, number, number];
  if (B === 0) throw new Error('images: empty batch (batch size 0); need at least one image');
  if (C !== 3) throw new Error(`images: expected 3 channels (RGB, NHWC layout), got ${C} in shape [${images.shape.join(', ')}]`);
  if (images.dtype !== 'float32') throw new Error(`images: expected float32 (normalised pixels), got ${images.dtype}`);
  const [gh, gw] = model.backbone.gridSize(H, W).pooled;
  if (gh < 1 || gw < 1) {
    throw new Error(`images: ${H}×${W} is too small for backbone ${model.config.backbone.arch}; each side needs ≥ ${model.backbone.minImageSize()} px`);
  }
  if (imageMask !== undefined && imageMask.shape.join() !== [B, H, W].join()) {
    throw new Error(`imageMask: expected shape [${B}, ${H}, ${W}] (one 0/1 per image pixel), got [${imageMask.shape.join(', ')}]`);
  }
  validateTokens(tokenIds, tokenMask, model.config);
  if (rowImage === undefined) {
    if (tokenIds.shape[0] !== B) throw new Error(`tokenIds: batch ${tokenIds.shape[0]} differs from the images' batch ${B}`);
    return;
  }
  if (rowImage.length !== tokenIds.shape[0]) throw new Error(`rowImage: ${rowImage.length} entries for ${tokenIds.shape[0]} text rows; give one image index per row`);
  for (let r = 0; r < rowImage.length; r++) {
    const i = rowImage[r]!;
    if (!(Number.isInteger(i) && i >= 0 && i < B)) throw new Error(`rowImage[${r}] = ${i} is not an image of the batch (0…${B - 1})`);
  }
}

export function pixelBertForward(
  model: PixelBert,
  images: tf.Tensor4D, // (B, H, W, 3), normalised as the backbone expects
  imageMask: tf.Tensor3D | undefined, // (B, H, W) 1 image, 0 padding; undefined = all valid
  tokenIds: tf.Tensor2D, // (B, T) int32: [CLS] w… [SEP] then padding
  tokenMask: tf.Tensor2D, // (B, T) 1 token, 0 padding
  opts: ForwardOptions,
): PixelBertOutput {
  validateInputs(model, images, imageMask, tokenIds, tokenMask, opts.rowImage);
  checkForwardOptions(opts);
  const feats = backboneFeatures(model, images, imageMask, opts.backboneTraining ?? opts.training);
  return forwardFromFeatures(model, feats, tokenIds, tokenMask, opts);
}

function checkForwardOptions(opts: ForwardOptions): void {
  if (opts.training && opts.step === undefined) {
    throw new Error('pixelBertForward: options.step is required when training (dropout masks and pixel samples are drawn from (seed, step))');
  }
  const count = opts.pixelSampling?.count;
  if (count !== undefined && !(Number.isInteger(count) && count >= 1)) {
    throw new Error(`pixelBertForward: pixelSampling.count must be a positive integer (paper: 100), got ${count}`);
  }
}

/** The CNN's pooled feature pixels of a batch of images and which of them are real (not padding). */
export interface ImageFeatures {
  features: tf.Tensor4D; // (N, h, w, C): C5 after the 2×2 max-pool
  valid: Float32Array; // (N·h·w) 1 real pixel, 0 padding
}

export function backboneFeatures(model: PixelBert, images: tf.Tensor4D, imageMask: tf.Tensor3D | undefined, training: boolean): ImageFeatures {
  const [nImages, H, W] = images.shape;
  const features = model.backbone.forward(images, { training }).pooled; // (images, h, w, C)
  const [, h, w] = features.shape;
  const stride = model.backbone.c5Stride * PIXEL_POOL; // image pixels per feature pixel (64 for the paper nets)
  const valid = imageMask ? pixelMaskFromImageMask(imageMask.dataSync(), nImages, H, W, { h, w, stride }) : new Float32Array(nImages * h * w).fill(1);
  return { features, valid };
}

/**
 * Pixel-BERT from the CNN's features on: what `pixelBertForward` does after the backbone. With the
 * CNN frozen (retrieval fine-tuning, Sec. 4.4) its features can be computed once per image and
 * reused every epoch.
 */
export function pixelBertForwardFeatures(model: PixelBert, feats: ImageFeatures, tokenIds: tf.Tensor2D, tokenMask: tf.Tensor2D, opts: ForwardOptions): PixelBertOutput {
  validateTokens(tokenIds, tokenMask, model.config);
  checkForwardOptions(opts);
  return forwardFromFeatures(model, feats, tokenIds, tokenMask, opts);
}

/** The forward pass from the CNN's features on, its inputs already checked. */
function forwardFromFeatures(model: PixelBert, feats: ImageFeatures, tokenIds: tf.Tensor2D, tokenMask: tf.Tensor2D, opts: ForwardOptions): PixelBertOutput {
  const { training, seed = 0, step = 0 } = opts;
  const ctx = forwardContext(training, model.config.dropout, seed, step);
  const imageFeatures = feats.features;
  const [nImages, h, w] = imageFeatures.shape;
  const imagePixels = feats.valid;
  const [B, T] = tokenIds.shape; // B text rows (= images unless rowImage says otherwise)
  if (!opts.rowImage && B !== nImages) throw new Error(`tokenIds: batch ${B} differs from the images' batch ${nImages}`);
  let features = imageFeatures; // (B, h, w, C)
  let validPixels = imagePixels; // (B·h·w)
  if (opts.rowImage) {
    const rows = Int32Array.from(opts.rowImage);
    if (rows.length !== B) throw new Error(`rowImage: ${rows.length} entries for ${B} text rows; give one image index per row`);
    features = tf.gather(imageFeatures, rows);
    validPixels = new Float32Array(B * h * w);
    rows.forEach((img, r) => {
      if (!(img >= 0 && img < nImages)) throw new Error(`rowImage[${r}] = ${img} is not an image of the batch (0…${nImages - 1})`);
      validPixels.set(imagePixels.subarray(img * h * w, (img + 1) * h * w), r * h * w);
    });
  }
  const selection =
    training && opts.pixelSampling
      ? samplePixels(validPixels, B, h * w, { count: opts.pixelSampling.count, seed, step })
      : allPixels(validPixels, B, h * w);
  const v = pixelEmbeddingForward(model.pixelEmbedding, features, selection, ctx); // (B, k, d)
  const wEmb = textEmbeddingForward(model.textEmbedding, tokenIds, ctx); // (B, T, d)

  const x = tf.concat([wEmb, v], 1) as tf.Tensor3D; // (B, T+k, d): [CLS] w… [SEP] v…
  const sequenceMask = tf.concat([tf.cast(tokenMask, 'float32'), tf.tensor2d(selection.mask, [B, selection.k])], 1) as tf.Tensor2D;
  const enc = encoderForward(model.encoder, x, sequenceMask, ctx, opts.returnAttention ?? false);
  const out: PixelBertOutput = {
    hidden: enc.hidden,
    pooled: poolerForward(model.pooler, enc.hidden),
    textLength: T,
    pixels: { grid: [h, w], selection },
    sequenceMask,
  };
  if (enc.attentions) out.attentions = enc.attentions;
  return out;
}

// ── the joint sequence in halves (retrieval ranking, text-only pre-training) ──
/**
 * Evaluation-mode halves of the joint sequence, each computed once and then paired freely: the
 * retrieval ranking scores every caption with every image, so the CNN runs once per image and the
 * text embedding once per caption, and only the encoder runs per pair. `jointForward` of an image's
 * and a caption's halves equals `pixelBertForward` of the pair with training off.
 */
export function embedImages(
  model: PixelBert,
  images: tf.Tensor4D, // (N, H, W, 3)
  imageMask: tf.Tensor3D | undefined, // (N, H, W)
): { v: tf.Tensor3D; mask: tf.Tensor2D } {
  const { features, valid } = backboneFeatures(model, images, imageMask, false); // (N, h, w, C)
  const [N, h, w] = features.shape;
  const selection = allPixels(valid, N, h * w);
  const v = pixelEmbeddingForward(model.pixelEmbedding, features, selection, forwardContext(false, 0)); // (N, k, d)
  return { v, mask: tf.tensor2d(selection.mask, [N, selection.k]) };
}

/** Text half: (M, T, d) embedded captions (evaluation mode). */
export function embedTexts(model: PixelBert, tokenIds: tf.Tensor2D, tokenMask: tf.Tensor2D): tf.Tensor3D {
  validateTokens(tokenIds, tokenMask, model.config);
  return textEmbeddingForward(model.textEmbedding, tokenIds, forwardContext(false, 0));
}

/** Encoder and pooler over [ŵ ; v̂] given both halves, row b pairing w[b] with v[b] (evaluation mode). */
export function jointForward(model: PixelBert, w: tf.Tensor3D, tokenMask: tf.Tensor2D, v: tf.Tensor3D, pixelMask: tf.Tensor2D): { hidden: tf.Tensor3D; pooled: tf.Tensor2D } {
  const x = tf.concat([w, v], 1) as tf.Tensor3D; // (B, T+k, d)
  const mask = tf.concat([tf.cast(tokenMask, 'float32'), tf.cast(pixelMask, 'float32')], 1) as tf.Tensor2D;
  const hidden = encoderForward(model.encoder, x, mask, forwardContext(false, 0)).hidden;
  return { hidden, pooled: poolerForward(model.pooler, hidden) };
}

/**
 * Text only through the embeddings and encoder (no pixels): BERT itself, for the text-only MLM that
 * stands in for BERT's pre-training at the small scales. Returns (B, T, d).
 */
export function textOnlyForward(model: PixelBert, tokenIds: tf.Tensor2D, tokenMask: tf.Tensor2D, opts: { training: boolean; seed?: number; step?: number }): tf.Tensor3D {
  validateTokens(tokenIds, tokenMask, model.config);
  const ctx = forwardContext(opts.training, model.config.dropout, opts.seed ?? 0, opts.step ?? 0);
  const w = textEmbeddingForward(model.textEmbedding, tokenIds, ctx);
  return encoderForward(model.encoder, w, tf.cast(tokenMask, 'float32') as tf.Tensor2D, ctx).hidden;
}

// ── heads on a forward's output ───────────────────────────────────────────────
function need<T>(head: T | undefined, name: TaskHead): T {
  if (head === undefined) throw new Error(`this PixelBert was built without the ${name} head (config.taskHeads)`);
  return head;
}

/** MLM targets of a batch: labels (B·T) with -100 where nothing is predicted (see heads/losses). */
export function mlmTargetsFor(model: PixelBert, out: PixelBertOutput, labels: ArrayLike<number>): MlmTargets {
  const [B, L] = out.hidden.shape;
  return mlmTargets(labels, B, out.textLength, L, model.config.vocabSize);
}

export function mlmLogits(model: PixelBert, out: PixelBertOutput, targets: MlmTargets): tf.Tensor2D {
  return mlmHeadForward(need(model.mlmHead, 'mlm'), model.textEmbedding.word_embeddings, out.hidden, targets.positions); // (M, V)
}

export function itmLogits(model: PixelBert, out: PixelBertOutput): tf.Tensor2D {
  return itmHeadForward(need(model.itmHead, 'itm'), out.pooled); // (B, 2)
}

export function vqaLogits(model: PixelBert, out: PixelBertOutput): tf.Tensor2D {
  return vqaHeadForward(need(model.vqaHead, 'vqa'), out.pooled); // (B, answers)
}

export function nlvr2Logits(model: PixelBert, out: PixelBertOutput): tf.Tensor2D {
  return nlvr2HeadForward(need(model.nlvr2Head, 'nlvr2'), out.pooled); // (B/2, 2)
}

/**
 * Seeds the retrieval head from a checkpoint's ITM head: score = ITM's matched − mismatched logit
 * (w₁ − w₀, b₁ − b₀), so a pre-trained ITM ranks pairs from the first step of fine-tuning (UNITER
 * starts its retrieval from ITM likewise; the paper does not say). False when the file holds no ITM
 * head (a row pre-trained without ITM): the retrieval head then keeps its fresh initialisation.
 */
export function retrievalHeadFromItm(model: PixelBert, file: string): boolean {
  const head = need(model.retrievalHead, 'retrieval');
  const st = readCheckpoint(file);
  if (!st.entries.has('itm_head.weight') || !st.entries.has('itm_head.bias')) return false;
  const w = st.read('itm_head.weight');
  const b = st.read('itm_head.bias');
  const d = head.weight.shape[0]!;
  if (w.shape.join() !== `${d},2` || b.shape.join() !== '2') {
    throw new Error(`${file}: itm_head.weight ${JSON.stringify(w.shape)} / bias ${JSON.stringify(b.shape)} do not fit a retrieval head on hidden size ${d} (expected [${d}, 2] and [2])`);
  }
  const diff = new Float32Array(d);
  for (let i = 0; i < d; i++) diff[i] = w.values[i * 2 + 1]! - w.values[i * 2]!;
  tf.tidy(() => {
    head.weight.assign(tf.tensor2d(diff, [d, 1]));
    head.bias.assign(tf.tensor1d([b.values[1]! - b.values[0]!]));
  });
  return true;
}

export function retrievalScores(model: PixelBert, out: PixelBertOutput): tf.Tensor1D {
  return retrievalHeadForward(need(model.retrievalHead, 'retrieval'), out.pooled); // (B,)
}

/**
 * Text→pixel attention of one layer, averaged over heads: (B, T, k) — row t is
 * how token t spreads its attention over the sampled pixels (paper Fig. 3).
 */
export function textToPixelAttention(out: PixelBertOutput, layer: number): tf.Tensor3D {
  const a = out.attentions?.[layer];
  if (!a) throw new Error(`no attention for layer ${layer}: run forward with returnAttention (layers: ${out.attentions?.length ?? 0})`);
  const [B, , L] = a.shape;
  const T = out.textLength;
  return tf.mean(a.slice([0, 0, 0, T], [B, -1, T, L - T]), 1) as tf.Tensor3D;
}

// ── bookkeeping ───────────────────────────────────────────────────────────────
export const MODEL_PARTS = {
  backbone: 'backbone',
  pixelEmbedding: 'pixel_embeddings',
  textEmbedding: 'embeddings',
  encoder: 'encoder',
  pooler: 'pooler',
  mlmHead: 'cls',
  itmHead: 'itm_head',
  vqaHead: 'vqa_head',
  nlvr2Head: 'nlvr2_head',
  retrievalHead: 'retrieval_head',
} as const;

/** Parameter count of each part (by registry prefix) and the total. */
export function paramCounts(model: PixelBert): Record<keyof typeof MODEL_PARTS | 'total', number> {
  const out = { total: countParams(model.params) } as Record<keyof typeof MODEL_PARTS | 'total', number>;
  for (const [part, prefix] of Object.entries(MODEL_PARTS)) {
    out[part as keyof typeof MODEL_PARTS] = countParams(model.params, prefix);
  }
  return out;
}

/** The CNN's variables and the Transformer side's (optimised separately: SGD vs AdamW, Section 4.1). */
export function parameterGroups(model: PixelBert): { cnn: tf.Variable[]; transformer: tf.Variable[] } {
  const cnn: tf.Variable[] = [];
  const transformer: tf.Variable[] = [];
  for (const [name, v] of model.params) {
    if (!v.trainable) continue;
    (name.startsWith('backbone.') ? cnn : transformer).push(v);
  }
  return { cnn, transformer };
}

/** Frees every variable of the model (their memory is not reclaimed otherwise). */
export function disposePixelBert(model: PixelBert): void {
  for (const v of model.params.values()) v.dispose();
  model.params.clear();
}
