import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend/init';
import { itmHeadForward, retrievalHeadForward } from './heads/heads';
import { itmLoss, mlmLoss } from './heads/losses';
import { saveCheckpoint } from './weights/checkpoint';
import {
  createPixelBert,
  disposePixelBert,
  embedImages,
  embedTexts,
  jointForward,
  itmLogits,
  mlmLogits,
  mlmTargetsFor,
  nlvr2Logits,
  paramCounts,
  parameterGroups,
  pixelBertForward,
  retrievalHeadFromItm,
  retrievalScores,
  textToPixelAttention,
  vqaLogits,
  type PixelBert,
  type PixelBertConfig,
} from './pixelbert';

// smoke-sized: 64 px images through resnet-smoke → an 8×8 pixel grid (stride 8)
const config: PixelBertConfig = {
  backbone: { arch: 'resnet-smoke' },
  hidden: 16,
  layers: 2,
  heads: 2,
  ffn: 32,
  vocabSize: 30,
  maxTextLength: 8,
  dropout: 0.1,
  pixelPositionEmbedding: false,
  taskHeads: ['mlm', 'itm', 'vqa', 'nlvr2', 'retrieval'],
  answerVocabSize: 7,
};

let model: PixelBert | undefined;
beforeAll(async () => {
  await initBackend({ quiet: true });
});
afterEach(() => {
  if (model) disposePixelBert(model);
  model = undefined;
});

function batch(S = 64) {
  const images = tf.randomNormal([2, S, S, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
  // image 1 is S/2 high × 3S/4 wide, padded to S×S
  const m = new Float32Array(2 * S * S);
  m.fill(1, 0, S * S);
  for (let y = 0; y < S / 2; y++) for (let x = 0; x < (3 * S) / 4; x++) m[S * S + y * S + x] = 1;
  const imageMask = tf.tensor3d(m, [2, S, S]);
  const tokenIds = tf.tensor2d([[1, 5, 9, 12, 2, 0], [1, 7, 2, 0, 0, 0]], [2, 6], 'int32');
  const tokenMask = tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]]);
  return { images, imageMask, tokenIds, tokenMask };
}

describe('PixelBert assembly', () => {
  it('runs [CLS] text [SEP] pixels through the encoder with text and pixel padding masked', () => {
    model = createPixelBert(config, 0);
    const { images, imageMask, tokenIds, tokenMask } = batch();
    const out = pixelBertForward(model, images, imageMask, tokenIds, tokenMask, { training: false, returnAttention: true });
    expect(out.pixels.grid).toEqual([8, 8]);
    expect(out.hidden.shape).toEqual([2, 6 + 64, 16]);
    expect(out.pooled.shape).toEqual([2, 16]);
    const mask = out.sequenceMask.arraySync();
    expect(mask[0]!.reduce((a, b) => a + b)).toBe(5 + 64);
    expect(mask[1]!.reduce((a, b) => a + b)).toBe(3 + 4 * 6); // 32/8 rows × 48/8 columns
    // no query attends to a padded token or a padded pixel
    const att = out.attentions![1]!.arraySync()[1]!;
    for (const head of att) for (const row of head) row.forEach((p, j) => mask[1]![j] === 0 && expect(p).toBeLessThan(1e-6));
    const t2p = textToPixelAttention(out, 0);
    expect(t2p.shape).toEqual([2, 6, 64]);
    // entry (b=1, token 2, pixel 9) is the head-mean of layer 0's probability at query 2, key 6+9
    const a0 = out.attentions![0]!.arraySync()[1]!;
    expect(t2p.arraySync()[1]![2]![9]!).toBeCloseTo((a0[0]![2]![15]! + a0[1]![2]![15]!) / 2, 6);
    expect(vqaLogits(model, out).shape).toEqual([2, 7]);
    expect(itmLogits(model, out).shape).toEqual([2, 2]);
    expect(nlvr2Logits(model, out).shape).toEqual([1, 2]);
    expect(retrievalScores(model, out).shape).toEqual([2]);
    const counts = paramCounts(model);
    expect(counts.backbone + counts.pixelEmbedding + counts.textEmbedding + counts.encoder + counts.pooler + counts.mlmHead + counts.itmHead + counts.vqaHead + counts.nlvr2Head + counts.retrievalHead).toBe(counts.total);
    expect(counts.pixelEmbedding).toBe(64 * 16 + 16 + 16); // 1×1 projection from C=64 + bias + s_v
  });

  it('samples `count` valid pixels per image in training only, differently each step', () => {
    model = createPixelBert(config, 0);
    const { images, imageMask, tokenIds, tokenMask } = batch();
    const train = (step: number) => pixelBertForward(model!, images, imageMask, tokenIds, tokenMask, { training: true, pixelSampling: { count: 10 }, step });
    const a = train(0);
    expect(a.hidden.shape).toEqual([2, 6 + 10, 16]);
    expect(a.pixels.selection.k).toBe(10);
    // image 1 has 24 valid pixels: all 10 slots valid, each inside its valid 4×6 block
    for (const i of a.pixels.selection.indices.slice(10)) {
      const local = i - 64;
      expect(Math.floor(local / 8)).toBeLessThan(4);
      expect(local % 8).toBeLessThan(6);
    }
    expect([...train(1).pixels.selection.indices]).not.toEqual([...a.pixels.selection.indices]);
    expect([...train(0).pixels.selection.indices]).toEqual([...a.pixels.selection.indices]);
    const evalOut = pixelBertForward(model, images, imageMask, tokenIds, tokenMask, { training: false, pixelSampling: { count: 10 } });
    expect(evalOut.pixels.selection.k).toBe(64);
  });

  it('rejects bad input before any kernel runs', () => {
    model = createPixelBert(config, 0);
    const { images, imageMask, tokenIds, tokenMask } = batch();
    let backboneCalls = 0;
    const forward = model.backbone.forward.bind(model.backbone);
    model.backbone.forward = (...args) => (backboneCalls++, forward(...args));
    const run = (im: tf.Tensor, ids: tf.Tensor, tm: tf.Tensor, mask?: tf.Tensor) => () =>
      pixelBertForward(model!, im as tf.Tensor4D, mask as tf.Tensor3D | undefined, ids as tf.Tensor2D, tm as tf.Tensor2D, { training: false });
    const gray = tf.zeros([2, 64, 64, 1]);
    const flat = tf.zeros([64, 64, 3]);
    const empty = tf.zeros([0, 64, 64, 3]);
    const one = images.slice([0, 0, 0, 0], [1, 64, 64, 3]);
    const badIds = tf.tensor2d([[1, 5, 30]], [1, 3], 'int32');
    const ones13 = tf.ones([1, 3]);
    const longIds = tf.zeros([2, 9], 'int32');
    const ones29 = tf.ones([2, 9]);
    const ids1 = tokenIds.slice([0, 0], [1, 6]);
    const mask1 = tokenMask.slice([0, 0], [1, 6]);
    const smallMask = tf.ones([2, 32, 32]);
    const tiny = tf.zeros([2, 4, 4, 3]);
    const n = tf.memory().numTensors;
    expect(run(gray, tokenIds, tokenMask)).toThrow(/images: expected 3 channels .* got 1/);
    expect(run(flat, tokenIds, tokenMask)).toThrow(/images: expected rank 4/);
    expect(run(empty, tokenIds, tokenMask)).toThrow(/images: empty batch/);
    expect(run(one, badIds, ones13)).toThrow('tokenIds[0][2] = 30 is outside the vocabulary [0, 29]');
    expect(run(images, longIds, ones29)).toThrow(/length 9 exceeds the position table \(maxTextLength 8\)/);
    expect(run(images, ids1, mask1)).toThrow(/batch 1 differs from the images' batch 2/);
    expect(run(images, tokenIds, tokenMask, smallMask)).toThrow(/imageMask: expected shape \[2, 64, 64\]/);
    expect(run(tiny, tokenIds, tokenMask)).toThrow(/too small for backbone resnet-smoke/);
    expect(() => pixelBertForward(model!, images, imageMask, tokenIds, tokenMask, { training: true })).toThrow(/options\.step is required when training/);
    expect(() => pixelBertForward(model!, images, imageMask, tokenIds, tokenMask, { training: true, step: 0, pixelSampling: { count: 0 } })).toThrow(/pixelSampling\.count must be a positive integer/);
    expect(backboneCalls).toBe(0);
    expect(tf.memory().numTensors).toBe(n); // the failed calls allocated nothing
  });

  it('trains end to end (MLM + ITM) without leaking tensors: same count after 50 steps as after 1', () => {
    model = createPixelBert({ ...config, dropout: 0.1 }, 1);
    const { images, imageMask, tokenIds, tokenMask } = batch(16); // 2×2 pixel grid: keeps 50 steps fast (cpu's conv backprop is slow)
    const labels = [-100, 5, -100, 12, -100, -100, -100, 7, -100, -100, -100, -100];
    const optimizer = tf.train.adam(3e-3);
    const losses: number[] = [];
    const counts: number[] = [];
    const { cnn, transformer } = parameterGroups(model);
    for (let step = 0; step < 50; step++) {
      const loss = optimizer.minimize(
        () => {
          const out = pixelBertForward(model!, images, imageMask, tokenIds, tokenMask, { training: true, pixelSampling: { count: 3 }, step }); // image 1 has 2 valid pixels: one slot masked
          const mlm = mlmLoss(mlmLogits(model!, out, mlmTargetsFor(model!, out, labels)), mlmTargetsFor(model!, out, labels));
          return tf.add(mlm, itmLoss(itmLogits(model!, out), [1, 0])) as tf.Scalar;
        },
        true,
        [...cnn, ...transformer],
      )!;
      losses.push(loss.dataSync()[0]!);
      loss.dispose();
      counts.push(tf.memory().numTensors);
    }
    expect(counts[49]).toBe(counts[0]);
    // it learns: the loss on this one batch falls well below its start (ln 30 + ln 2 ≈ 4.1)
    expect(losses[0]!).toBeGreaterThan(3);
    expect(Math.min(...losses.slice(40))).toBeLessThan(losses[0]! * 0.5);
  });

  it('backboneTraining: false keeps the CNN on its running batch-norm statistics while the Transformer trains', () => {
    model = createPixelBert(config, 3);
    const { images, imageMask, tokenIds, tokenMask } = batch(16);
    const running = model.params.get('backbone.bn1.running_mean')!;
    const before = [...running.dataSync()];
    tf.tidy(() => void pixelBertForward(model!, images, imageMask, tokenIds, tokenMask, { training: true, step: 0, backboneTraining: false }));
    expect([...running.dataSync()]).toEqual(before);
    tf.tidy(() => void pixelBertForward(model!, images, imageMask, tokenIds, tokenMask, { training: true, step: 0 }));
    expect([...running.dataSync()]).not.toEqual(before);
  });

  it('rowImage: rows sharing images give what the images repeated per row give, with the CNN run once per image', () => {
    model = createPixelBert(config, 4);
    const { images, imageMask, tokenIds, tokenMask } = batch();
    // Four text rows on two images, each image twice (as ITM lays them out: positive, negative).
    const rowImage = [0, 0, 1, 1];
    const ids4 = tf.concat([tokenIds, tokenIds.reverse(0)]).gather([0, 3, 1, 2]) as tf.Tensor2D;
    const mask4 = tf.concat([tokenMask, tokenMask.reverse(0)]).gather([0, 3, 1, 2]) as tf.Tensor2D;
    let cnnBatch = 0;
    const forward = model.backbone.forward.bind(model.backbone);
    model.backbone.forward = (x, o) => ((cnnBatch = x.shape[0]), forward(x, o));
    const vars = [model.backbone.variables().find((v) => v.name === 'backbone.conv1.weight')!, model.textEmbedding.word_embeddings];
    // A loss that every pixel of every row feeds (at initialisation the ITM loss barely depends
    // on the image, so it could not tell rows given the wrong image).
    const run = (shared: boolean) =>
      tf.variableGrads(() => {
        const out = shared
          ? pixelBertForward(model!, images, imageMask, ids4, mask4, { training: true, step: 3, pixelSampling: { count: 5 }, rowImage })
          : pixelBertForward(model!, images.gather(rowImage) as tf.Tensor4D, imageMask.gather(rowImage) as tf.Tensor3D, ids4, mask4, { training: true, step: 3, pixelSampling: { count: 5 } });
        return tf.mean(tf.square(tf.sub(out.hidden, tf.linspace(-1, 1, out.hidden.shape[2]).reshape([1, 1, -1])))) as tf.Scalar;
      }, vars);
    const a = run(true);
    expect(cnnBatch).toBe(2);
    const b = run(false);
    expect(cnnBatch).toBe(4);
    expect(Math.abs(a.value.dataSync()[0]! - b.value.dataSync()[0]!)).toBeLessThan(1e-5);
    for (const v of vars) {
      const d = tf.max(tf.abs(tf.sub(a.grads[v.name]!, b.grads[v.name]!))).dataSync()[0]!;
      expect(d, v.name).toBeLessThan(1e-4 * Math.max(1, tf.max(tf.abs(b.grads[v.name]!)).dataSync()[0]!));
    }
    expect(() => pixelBertForward(model!, images, imageMask, ids4, mask4, { training: false, rowImage: [0, 1] })).toThrow(/rowImage: 2 entries for 4 text rows/);
    expect(() => pixelBertForward(model!, images, imageMask, ids4, mask4, { training: false, rowImage: [0, 0, 1, 2] })).toThrow(/rowImage\[3\] = 2 is not an image of the batch \(0…1\)/);
  });

  it('gradients reach the CNN, the pixel embedding (s_v) and the text embedding', () => {
    model = createPixelBert(config, 2);
    const { images, imageMask, tokenIds, tokenMask } = batch();
    const vars = [model.backbone.variables().find((v) => v.name === 'backbone.conv1.weight')!, model.pixelEmbedding.s_v, model.textEmbedding.word_embeddings];
    const { grads, value } = tf.variableGrads(() => {
      const out = pixelBertForward(model!, images, imageMask, tokenIds, tokenMask, { training: true, pixelSampling: { count: 5 }, step: 0 });
      return itmLoss(itmLogits(model!, out), [1, 1]);
    }, vars);
    expect(Number.isFinite(value.dataSync()[0]!)).toBe(true);
    for (const v of vars) expect(tf.sum(tf.abs(grads[v.name]!)).dataSync()[0]).toBeGreaterThan(0);
  });

  it('jointForward of separately embedded images and texts equals the whole forward pass in evaluation mode, for every pairing', () => {
    model = createPixelBert(config, 3);
    const m = model;
    const { images, imageMask, tokenIds, tokenMask } = batch();
    tf.tidy(() => {
      const img = embedImages(m, images, imageMask); // (2, k, d)
      const txt = embedTexts(m, tokenIds, tokenMask); // (2, T, d)
      // pair text 0 with image 1 and text 1 with image 0 (a cross pairing the ranking needs)
      const order = tf.tensor1d([1, 0], 'int32');
      const joint = jointForward(m, txt, tokenMask, tf.gather(img.v, order) as tf.Tensor3D, tf.gather(img.mask, order) as tf.Tensor2D);
      const whole = pixelBertForward(m, images, imageMask, tokenIds, tokenMask, { training: false, rowImage: [1, 0] });
      const diff = Math.max(tf.max(tf.abs(tf.sub(joint.pooled, whole.pooled))).dataSync()[0]!, tf.max(tf.abs(tf.sub(joint.hidden, whole.hidden))).dataSync()[0]!);
      expect(diff).toBeLessThan(1e-5);
      const notPaired = pixelBertForward(m, images, imageMask, tokenIds, tokenMask, { training: false });
      expect(tf.max(tf.abs(tf.sub(joint.hidden, notPaired.hidden))).dataSync()[0]!).toBeGreaterThan(1e-2);
    });
  });
});


describe('retrieval head from a pre-trained ITM head', () => {
  it('scores every pair with the ITM head\'s matched − mismatched logit; a checkpoint without ITM leaves it alone', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'itm-head-'));
    try {
      const pre = createPixelBert({ ...config, taskHeads: ['mlm', 'itm'] }, 5);
      const file = path.join(dir, 'pretrain.safetensors');
      saveCheckpoint(file, pre.params, { stage: 'pretrain' });
      model = createPixelBert({ ...config, taskHeads: ['retrieval'] }, 6);
      expect(retrievalHeadFromItm(model, file)).toBe(true);
      const pooled = tf.randomNormal([3, config.hidden], 0, 1, 'float32', 7) as tf.Tensor2D;
      const itm = itmHeadForward(pre.itmHead!, pooled).arraySync() as number[][];
      const score = retrievalHeadForward(model.retrievalHead!, pooled).arraySync() as number[];
      itm.forEach(([no, yes], i) => expect(score[i]!).toBeCloseTo(yes! - no!, 5));
      const noItm = path.join(dir, 'mlm-only.safetensors');
      const mlmOnly = createPixelBert({ ...config, taskHeads: ['mlm'] }, 8);
      saveCheckpoint(noItm, mlmOnly.params, { stage: 'pretrain' });
      const before = model.retrievalHead!.weight.arraySync();
      expect(retrievalHeadFromItm(model, noItm)).toBe(false);
      expect(model.retrievalHead!.weight.arraySync()).toEqual(before);
      disposePixelBert(pre);
      disposePixelBert(mlmOnly);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
