// The training step of each stage as train:bench times it: the real model (@pixel-bert/model) at a
// scale's shapes (the spec through pixelBertConfigFor), the stage's real losses and the paper's
// optimisers (SGD on the CNN, AdamW on the Transformer, epoch-0 learning rates), on one fixed
// synthetic batch laid out as the stage's batch builder lays it out (packages/data batches/tasks):
//   pretrain   batchSize examples → a positive and an ITM negative row on the same image (rowImage),
//              MLM on ~15 % of the text, pixel random sampling (spec count)
//   vqa        batchSize rows, one image each, BCE against soft scores over the answer vocabulary
//   nlvr2      batchSize examples → 2 rows (left, right image) each, 2-way head on the [CLS] pair
//   retrieval  batchSize queries → 1 + negatives rows on the query's image, hard-negative loss,
//              CNN in evaluation mode and not trained (finetuneCnn false), Transformer only
// and the retrieval ranking (retrieval-eval): every image × caption pair of a small test split,
// CNN and text embedding once each, the encoder per pair in evalBatchSize chunks.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as m from '@pixel-bert/model';
import { EXPERIMENTS_ROOT, defaultVocabSize, loadSpecFile, type Spec } from '@pixel-bert/spec';
import { createOptimizers, learningRates } from '../optim/index';

export const STAGES = ['pretrain', 'vqa', 'nlvr2', 'retrieval', 'retrieval-eval'] as const;
export type Stage = (typeof STAGES)[number];
export const SCALES = ['smoke', 'small', 'paper-lite'] as const;
export type BenchScale = (typeof SCALES)[number];

/** Text length of every bench batch: generated captions pad to about this ([CLS] … [SEP]). */
export const BENCH_TEXT_LENGTH = 20;
/** paper-lite: the paper's ResNet-50 + BERT-base, images cut to this side and batches to this size so a step fits here. */
export const PAPER_LITE = { image: 320, batch: 4 } as const;
/** retrieval-eval: images × captions of the ranked split (captions = 5 per image, as in Flickr30K). */
export const RANKING = { images: 20, captionsPerImage: 5 } as const;

export interface StageStep {
  stage: Stage;
  /** Examples per step (the spec's batch size; a query for retrieval, an image pair for NLVR²). */
  examples: number;
  /** Image-text pairs through the encoder per step. */
  pairs: number;
  /** Images through the CNN per step. */
  images: number;
  /** Forward multiply-add FLOPs per step by kind, counted from the kernels' shapes (countFlops). */
  params: number;
  shape: Record<string, number | string>;
  /** One training step (forward, backward, update), or one ranking pass for retrieval-eval; blocks until done. */
  run(step: number): void;
  /** The step's loss without updating (for the loss-curve check), or undefined for retrieval-eval. */
  loss?(step: number): number;
  /** Forward-only work of one step, for the FLOP count. */
  forward(): tf.Scalar | tf.Tensor;
  /** Whether the CNN is trained in this stage (its backward counts in the FLOPs). */
  cnnTrained: boolean;
  /** Switches the optimisers' fused update (`--ab=fusedOptimizer`); absent where nothing is updated. */
  setFusedOptimizer?(on: boolean): void;
  model: m.PixelBert;
  /** Everything the PyTorch peer needs to build the same step (tools/peer-pytorch/peer.py). */
  peer: Record<string, unknown>;
  dispose(): void;
}

/** Sizes that the cost sweep (docs/performance.md) varies on top of a scale. */
export interface BenchOverrides {
  image?: number;
  pixels?: number;
  batch?: number;
}

export function benchSpec(scale: BenchScale, o: BenchOverrides = {}): Spec {
  const spec = scaleSpec(scale);
  const b = o.batch;
  return {
    ...spec,
    model: o.image ? { ...spec.model, run: { ...spec.model.run, image: { shortEdge: o.image, longEdge: o.image } } } : spec.model,
    pretrain: { ...spec.pretrain, ...(b ? { batchSize: b } : {}), ...(o.pixels ? { pixelSampling: { ...spec.pretrain.pixelSampling, count: o.pixels } } : {}) },
    finetune: b
      ? {
          ...spec.finetune,
          vqa: { ...spec.finetune.vqa, batchSize: b },
          nlvr2: { ...spec.finetune.nlvr2, batchSize: b },
          retrieval: { ...spec.finetune.retrieval, batchSize: b },
        }
      : spec.finetune,
  };
}

function scaleSpec(scale: BenchScale): Spec {
  if (scale !== 'paper-lite') return loadSpecFile(path.join(EXPERIMENTS_ROOT, 'base.yaml'), { scale }).spec;
  const { spec } = loadSpecFile(path.join(EXPERIMENTS_ROOT, 'base.yaml'), { scale: 'paper' });
  const img = { shortEdge: PAPER_LITE.image, longEdge: PAPER_LITE.image };
  const b = PAPER_LITE.batch;
  return {
    ...spec,
    model: { ...spec.model, run: { ...spec.model.run, image: img } },
    pretrain: { ...spec.pretrain, batchSize: b },
    finetune: {
      ...spec.finetune,
      vqa: { ...spec.finetune.vqa, batchSize: b },
      nlvr2: { ...spec.finetune.nlvr2, batchSize: b },
      retrieval: { ...spec.finetune.retrieval, batchSize: Math.max(1, b / 2) },
    },
  };
}

/** Deterministic synthetic text: rows of T ids over the vocabulary with [CLS]=1 … [SEP]=2, and MLM labels on ~15 %. */
export function syntheticText(rows: number, T: number, V: number, salt = 0): { ids: Int32Array; labels: Int32Array } {
  const ids = new Int32Array(rows * T);
  const labels = new Int32Array(rows * T).fill(m.IGNORE_INDEX);
  for (let i = 0; i < ids.length; i++) {
    const t = i % T;
    ids[i] = t === 0 ? 1 : t === T - 1 ? 2 : 5 + (((i + salt) * 7919) % (V - 5));
    if (t > 0 && t < T - 1 && ((i + salt) * 2654435761) % 100 < 15) labels[i] = ids[i]!;
  }
  return { ids, labels };
}

/**
 * Deterministic images (n, S, S, 3), the same numbers in the PyTorch peer (sin of a linear form of
 * the indices, computed in double and rounded to float32): a shared batch without shared RNGs.
 */
export function syntheticImages(n: number, S: number): Float32Array {
  const out = new Float32Array(n * S * S * 3);
  let i = 0;
  for (let b = 0; b < n; b++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) for (let c = 0; c < 3; c++) out[i++] = Math.sin(0.37 * b + 0.11 * y + 0.07 * x + 1.3 * c + 0.01 * x * y);
  return out;
}

/** VQA soft scores (rows, A): about one answer in ten scored 0.3–1, deterministic (the peer computes the same). */
export function syntheticSoftScores(rows: number, A: number): Float32Array {
  const out = new Float32Array(rows * A);
  for (let i = 0; i < out.length; i++) out[i] = (i * 2654435761) % 10 === 0 ? 0.3 + ((i * 40503) % 8) / 10 : 0;
  return out;
}

export type Phase = 'forward' | 'backward' | 'optimizer' | 'other';

export function buildStage(
  stage: Stage,
  spec: Spec,
  opts: { seed?: number; dropout?: number; sampling?: boolean; tokens?: number; onPhase?: (p: Phase) => void } = {},
): StageStep {
  const mark = opts.onPhase ?? (() => {});
  const V = defaultVocabSize(spec.data);
  const T = opts.tokens ?? BENCH_TEXT_LENGTH;
  const S = spec.model.run.image.shortEdge;
  const heads: m.TaskHead[] = stage === 'pretrain' ? ['mlm', 'itm'] : stage === 'vqa' ? ['vqa'] : stage === 'nlvr2' ? ['nlvr2'] : ['retrieval'];
  const A = spec.finetune.vqa.answerVocabSize;
  const cfg = m.pixelBertConfigFor(spec.model, { vocabSize: V, taskHeads: heads, ...(stage === 'vqa' ? { answerVocabSize: A } : {}) });
  if (opts.dropout !== undefined) cfg.dropout = opts.dropout;
  const model = m.createPixelBert(cfg, opts.seed ?? 0);
  const groups = m.parameterGroups(model);
  const params = [...groups.cnn, ...groups.transformer].reduce((s, v) => s + v.size, 0);
  const shape = { image: S, backbone: spec.model.run.arch, encoder: `${cfg.layers}x${cfg.hidden}x${cfg.heads}`, ffn: cfg.ffn, tokens: T, vocab: V };
  const images = (n: number) => tf.tensor4d(syntheticImages(n, S), [n, S, S, 3]);
  const o = spec.optim;
  const peerBase = {
    stage, image: S, tokens: T, vocab: V, answers: A, backbone: m.backboneConfig(spec.model.run.arch), pixelPool: m.PIXEL_POOL,
    hidden: cfg.hidden, layers: cfg.layers, heads: cfg.heads, ffn: cfg.ffn, dropout: cfg.dropout, maxTextLength: cfg.maxTextLength,
    pixelLayerNorm: cfg.pixelLayerNorm ?? false, pixelPositionEmbedding: cfg.pixelPositionEmbedding,
    optim: { cnn: o.cnn, transformer: o.transformer },
  };
  const kept: tf.Tensor[] = [];
  const keep = <X extends tf.Tensor>(t: X) => (kept.push(t), t);

  if (stage === 'retrieval-eval') {
    const nImg = RANKING.images;
    const nCap = nImg * RANKING.captionsPerImage;
    const img = keep(images(nImg));
    const { ids } = syntheticText(nCap, T, V);
    const tokenIds = keep(tf.tensor2d(ids, [nCap, T], 'int32'));
    const tokenMask = keep(tf.ones([nCap, T]) as tf.Tensor2D);
    const chunk = spec.trainer.evalBatchSize;
    const rank = () =>
      tf.tidy(() => {
        const { v, mask } = m.embedImages(model, img, undefined); // CNN once per image
        const w = m.embedTexts(model, tokenIds, tokenMask); // text embedding once per caption
        let last: tf.Tensor | undefined;
        for (let i = 0; i < nImg; i++) {
          for (let a = 0; a < nCap; a += chunk) {
            const n = Math.min(chunk, nCap - a);
            last?.dispose();
            last = tf.tidy(() => {
              const sel = tf.fill([n], i, 'int32');
              const { pooled } = m.jointForward(model, w.slice([a, 0, 0], [n, T, -1]), tokenMask.slice([a, 0], [n, T]) as tf.Tensor2D, tf.gather(v, sel) as tf.Tensor3D, tf.gather(mask, sel) as tf.Tensor2D);
              return m.retrievalScores(model, { pooled } as m.PixelBertOutput);
            });
            last.dataSync(); // scores go to the host for ranking, as the stage does
          }
        }
        return last!;
      });
    return {
      stage, examples: nCap, pairs: nImg * nCap, images: nImg, params, shape: { ...shape, rankedImages: nImg, rankedCaptions: nCap, evalBatch: chunk }, model,
      cnnTrained: false,
      peer: { ...peerBase, ranking: { images: nImg, captions: nCap, chunk } },
      run: () => void rank().dispose(),
      forward: rank,
      dispose: () => tf.dispose(kept),
    };
  }

  const lrs = (decay: readonly number[]) => learningRates(spec.optim, decay, 0);
  let layout: { rows: number; nImages: number; rowImage?: Int32Array; examples: number; decay: readonly number[] };
  switch (stage) {
    case 'pretrain': {
      const B = spec.pretrain.batchSize;
      layout = { rows: 2 * B, nImages: B, rowImage: Int32Array.from({ length: 2 * B }, (_, r) => r >> 1), examples: B, decay: spec.pretrain.decayEpochs };
      break;
    }
    case 'vqa':
      layout = { rows: spec.finetune.vqa.batchSize, nImages: spec.finetune.vqa.batchSize, examples: spec.finetune.vqa.batchSize, decay: spec.finetune.vqa.decayEpochs };
      break;
    case 'nlvr2': {
      const B = spec.finetune.nlvr2.batchSize;
      layout = { rows: 2 * B, nImages: 2 * B, examples: B, decay: spec.finetune.nlvr2.decayEpochs };
      break;
    }
    case 'retrieval': {
      const r = spec.finetune.retrieval;
      const g = 1 + r.negatives;
      layout = { rows: r.batchSize * g, nImages: r.batchSize, rowImage: Int32Array.from({ length: r.batchSize * g }, (_, i) => Math.floor(i / g)), examples: r.batchSize, decay: r.decayEpochs };
      break;
    }
  }
  const { rows, nImages, rowImage, examples, decay } = layout;
  const img = keep(images(nImages));
  const { ids, labels } = syntheticText(rows, T, V);
  // ITM negatives (odd rows of pretrain) carry no MLM labels, as the batch builder leaves them.
  if (stage === 'pretrain') for (let r = 1; r < rows; r += 2) labels.fill(m.IGNORE_INDEX, r * T, (r + 1) * T);
  const tokenIds = keep(tf.tensor2d(ids, [rows, T], 'int32'));
  const tokenMask = keep(tf.ones([rows, T]) as tf.Tensor2D);
  const itm = Array.from({ length: rows }, (_, r) => (r % 2 === 0 ? 1 : 0));
  const vqaTargets = keep(tf.tensor2d(syntheticSoftScores(rows, A), [rows, A]));
  const nlvrLabels = Array.from({ length: examples }, (_, i) => i % 2);
  const cnnTrained = stage !== 'retrieval' || spec.finetune.retrieval.finetuneCnn;
  const vars = cnnTrained ? [...groups.cnn, ...groups.transformer] : groups.transformer;
  const opt = createOptimizers(spec.optim, { cnn: cnnTrained ? groups.cnn : [], transformer: groups.transformer });
  const lr = lrs(decay);
  const cnnNames = new Set(groups.cnn.map((v) => v.name));
  const sampling = opts.sampling ?? true;

  const lossOf = (step: number, training = true): tf.Scalar => {
    const o = m.pixelBertForward(model, img, undefined, tokenIds, tokenMask, {
      training,
      step,
      ...(rowImage ? { rowImage } : {}),
      ...(stage === 'pretrain' && sampling && spec.pretrain.pixelSampling.enabled ? { pixelSampling: { count: spec.pretrain.pixelSampling.count } } : {}),
      ...(stage === 'retrieval' ? { backboneTraining: spec.finetune.retrieval.finetuneCnn } : {}),
    });
    switch (stage) {
      case 'pretrain': {
        const t = m.mlmTargetsFor(model, o, labels);
        return tf.add(m.mlmLoss(m.mlmLogits(model, o, t), t), m.itmLoss(m.itmLogits(model, o), itm)) as tf.Scalar;
      }
      case 'vqa':
        return m.vqaLoss(m.vqaLogits(model, o), vqaTargets);
      case 'nlvr2':
        return m.nlvr2Loss(m.nlvr2Logits(model, o), nlvrLabels);
      case 'retrieval': {
        const r = spec.finetune.retrieval;
        return m.retrievalLoss(m.retrievalScores(model, o).reshape([examples, 1 + r.negatives]) as tf.Tensor2D, r.hardNegatives);
      }
    }
  };

  return {
    stage, examples, pairs: rows, images: nImages, params, model, cnnTrained,
    peer: {
      ...peerBase, rows, nImages, examples, rowImage: rowImage ? Array.from(rowImage) : null, lr,
      pixelsKept: stage === 'pretrain' && sampling && spec.pretrain.pixelSampling.enabled ? spec.pretrain.pixelSampling.count : 0,
      negatives: spec.finetune.retrieval.negatives, hardNegatives: spec.finetune.retrieval.hardNegatives,
    },
    shape: { ...shape, rows, images: nImages, ...(stage === 'pretrain' ? { pixelsKept: spec.pretrain.pixelSampling.count } : {}) },
    run(step) {
      tf.tidy(() => {
        mark('forward');
        const r = tf.variableGrads(() => {
          const l = lossOf(step);
          mark('backward');
          return l;
        }, vars);
        mark('optimizer');
        const cnnGrads: Record<string, tf.Tensor> = {};
        const trGrads: Record<string, tf.Tensor> = {};
        for (const [k, g] of Object.entries(r.grads)) (cnnNames.has(k) ? cnnGrads : trGrads)[k] = g;
        if (cnnTrained) opt.cnn.step(cnnGrads, lr.cnn);
        opt.transformer.step(trGrads, lr.transformer);
        mark('other');
        r.value.dataSync();
      });
    },
    loss: (step) => tf.tidy(() => lossOf(step).dataSync()[0]!),
    forward: () => lossOf(0),
    setFusedOptimizer(on) {
      opt.cnn.fused = on;
      opt.transformer.fused = on;
    },
    dispose() {
      tf.dispose(kept);
      opt.cnn.dispose();
      opt.transformer.dispose();
    },
  };
}

/**
 * Forward multiply-add FLOPs (2 per MAC) of `fn`, from the shapes of its Conv2D and matmul kernels
 * (tf.profile): conv 2·outputs·kh·kw·Cin/groups, matmul 2·M·N·K. Elementwise ops, norms and
 * softmax are left out (as PyTorch's FlopCounterMode leaves them out).
 */
export async function countFlops(fn: () => tf.Tensor): Promise<{ conv: number; matmul: number }> {
  const info = await tf.profile(() => {
    const y = fn();
    return y;
  });
  let conv = 0;
  let matmul = 0;
  for (const k of info.kernels) {
    const out = k.outputShapes[0] as number[] | undefined;
    const ins = k.inputShapes as (number[] | undefined)[];
    if (!out) continue;
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    if (k.name === 'Conv2D' || k.name === 'FusedConv2D') {
      const w = ins[1]!; // [kh, kw, in, out]
      conv += 2 * size(out) * w[0]! * w[1]! * w[2]!;
    } else if (k.name === 'BatchMatMul' || k.name === '_FusedMatMul') {
      const a = ins[0]!;
      const rows = out[out.length - 2]!;
      const batch = size(out.slice(0, -2));
      const aBatch = size(a.slice(0, -2));
      const K = size(a) / (aBatch * rows); // a is [batch, M, K] or [batch, K, M]
      matmul += 2 * batch * rows * out[out.length - 1]! * K;
    }
  }
  return { conv, matmul };
}

/** Best GFLOP/s of an n×n float32 matmul on the active backend (the machine's reachable peak). */
export function matmulPeak(n = 1024, reps = 8): number {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  let best = Infinity;
  for (let i = 0; i < reps + 1; i++) {
    const t0 = performance.now();
    tf.tidy(() => void tf.matMul(a, b).dataSync());
    const ms = performance.now() - t0;
    if (i > 0) best = Math.min(best, ms);
  }
  tf.dispose([a, b]);
  return (2 * n ** 3) / (best / 1000) / 1e9;
}
