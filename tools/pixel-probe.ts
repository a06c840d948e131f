// What a trained stage's pixel features say about the objects under them: linear probes per feature
// pixel on a generated world.
//
// Each generated scene is rendered, and every cell of the feature grid (16×16 image pixels at
// `small`) is labelled with the object covering most of it (at least an eighth of the cell), or as
// background. A softmax-linear classifier is trained on the features of 2000 scenes' cells and
// tested on 500 others, for three questions — is there an object here (object / background), and
// for object cells its colour (6-way) and its shape (4-way) — at three depths of the model:
//   cnn      the CNN's pooled C5 feature of the cell (what the backbone passes on),
//   token    the pixel token entering the Transformer (1×1 projection, LayerNorm, visual embedding),
//   layer k  the Transformer's output at that pixel after its k-th layer, beside an empty caption
//            ([CLS] [SEP]); the last is the encoder's output, what the heads read.
// High accuracy at `cnn` and low at `token` means the projection loses it; high at `token` and a
// task that cannot answer it means the Transformer does not read it.
//
//   npx tsx tools/pixel-probe.ts --stage=DIR[,DIR…] [--data=data/small] [--train=2000] [--test=500]
//
// DIR is a finished stage's folder in the run cache, `<state>/cache/<stage hash>/` (weights.safetensors
// and stage.json). After the first, each further DIR contributes only the parts its kind passes on
// (init-backbone: the CNN; init-text: the text embeddings and encoder), so
// `--stage=<init-backbone>,<init-text>` is the model a row without pre-training starts from.

import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { COLOURS, SHAPES, WordPieceTokenizer, insideShape, renderScene, rngFor, sampleScene, specialIdsOf, toFloatRgb, type Scene } from '@pixel-bert/data';
import { backboneFeatures, createPixelBert, disposePixelBert, embedImages, embedTexts, initBackend, jointForward, loadCheckpoint, loadPart, type PixelBertConfig } from '@pixel-bert/model';

/** What an initialisation stage passes on to the stages after it (its StageDef's `provides`). */
const PASSES_ON: Record<string, string[]> = { 'init-backbone': ['backbone.'], 'init-text': ['embeddings.', 'encoder.', 'cls.'] };

interface Args { stages: string[]; data: string; train: number; test: number; epochs: number }

function parseArgs(argv: string[]): Args {
  const get = (k: string) => argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
  const stage = get('stage');
  if (!stage) throw new Error('usage: tsx tools/pixel-probe.ts --stage=DIR[,DIR…] [--data=data/small] [--train=2000] [--test=500]');
  const int = (k: string, d: number) => {
    const v = get(k);
    if (v === undefined) return d;
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`--${k}=${v}: expected a whole number ≥ 1`);
    return Number(v);
  };
  return { stages: stage.split(',').map((d) => path.resolve(d)), data: path.resolve(get('data') ?? 'data/small'), train: int('train', 2000), test: int('test', 500), epochs: int('epochs', 200) };
}

/** Per cell of a g×g grid over the scene: the index of the object covering most of it (≥ 1/8), or −1. */
export function cellLabels(scene: Scene, grid: number): number[] {
  const cell = scene.width / grid;
  const out: number[] = [];
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      const cover = scene.objects.map((o) => {
        let n = 0;
        for (let y = gy * cell; y < (gy + 1) * cell; y++) {
          for (let x = gx * cell; x < (gx + 1) * cell; x++) if (insideShape(o.shape, (x + 0.5 - o.cx) / o.r, (y + 0.5 - o.cy) / o.r)) n++;
        }
        return n;
      });
      const best = cover.reduce((b, c, i) => (c > cover[b]! ? i : b), 0);
      out.push(cover.length > 0 && cover[best]! >= (cell * cell) / 8 ? best : -1);
    }
  }
  return out;
}

/**
 * Nearest class mean on the raw features (no standardising, nothing learnt): how plainly the classes
 * stand apart in the directions the features vary most — what attention and a head find first.
 */
function nearestMean(xTrain: Float32Array, yTrain: number[], xTest: Float32Array, yTest: number[], dim: number, classes: number): number {
  const means = Array.from({ length: classes }, () => new Float64Array(dim));
  const counts = new Array<number>(classes).fill(0);
  yTrain.forEach((y, i) => {
    counts[y]!++;
    for (let d = 0; d < dim; d++) means[y]![d]! += xTrain[i * dim + d]!;
  });
  means.forEach((m, c) => m.forEach((v, d) => (m[d] = v / Math.max(1, counts[c]!))));
  let right = 0;
  yTest.forEach((y, i) => {
    let best = -1;
    let bestD = Infinity;
    means.forEach((m, c) => {
      if (counts[c] === 0) return;
      let dist = 0;
      for (let d = 0; d < dim; d++) dist += (xTest[i * dim + d]! - m[d]!) ** 2;
      if (dist < bestD) [best, bestD] = [c, dist];
    });
    if (best === y) right++;
  });
  return (100 * right) / yTest.length;
}

/** Softmax-linear probe on standardised features: test accuracy, and the majority class's. */
function probe(xTrain: Float32Array, yTrain: number[], xTest: Float32Array, yTest: number[], dim: number, classes: number, epochs: number): { accuracy: number; majority: number } {
  return tf.tidy(() => {
    const xa = tf.tensor2d(xTrain, [yTrain.length, dim]);
    const mean = xa.mean(0);
    const std = xa.sub(mean).square().mean(0).sqrt().add(1e-5);
    const norm = (x: tf.Tensor2D) => x.sub(mean).div(std) as tf.Tensor2D;
    const x = norm(xa);
    const y = tf.oneHot(tf.tensor1d(yTrain, 'int32'), classes).cast('float32');
    const w = tf.variable(tf.zeros([dim, classes]));
    const b = tf.variable(tf.zeros([classes]));
    const opt = tf.train.adam(0.01);
    for (let e = 0; e < epochs; e++) {
      opt.minimize(() => tf.losses.softmaxCrossEntropy(y, x.matMul(w).add(b)).add(w.square().sum().mul(1e-4)) as tf.Scalar);
    }
    const pred = norm(tf.tensor2d(xTest, [yTest.length, dim])).matMul(w).add(b).argMax(1).dataSync();
    const accuracy = (100 * yTest.filter((t, i) => pred[i] === t).length) / yTest.length;
    const counts = new Array<number>(classes).fill(0);
    for (const t of yTrain) counts[t]!++;
    const top = counts.indexOf(Math.max(...counts));
    const majority = (100 * yTest.filter((t) => t === top).length) / yTest.length;
    opt.dispose();
    w.dispose();
    b.dispose();
    return { accuracy, majority };
  });
}

async function main(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  const stages = a.stages.map((dir) => {
    const weights = path.join(dir, 'weights.safetensors');
    const json = path.join(dir, 'stage.json');
    if (!existsSync(weights) || !existsSync(json)) throw new Error(`${dir}: not a finished stage (needs weights.safetensors and stage.json; look under <state>/cache/)`);
    return { dir, weights, ...(JSON.parse(readFileSync(json, 'utf8')) as { kind: string; runName: string; config: PixelBertConfig }) };
  });
  const manifest = path.join(a.data, 'manifest.json');
  if (!existsSync(manifest)) throw new Error(`${manifest}: no generated world here (npx nx run data:synth --scale=small, or --data=<dir>)`);
  const m = JSON.parse(readFileSync(manifest, 'utf8')) as { seed: number; sizes: { imageSize: number; objectsMin: number; objectsMax: number } };
  await initBackend({ quiet: true });
  const [first, ...more] = stages;
  const model = createPixelBert(first!.config, 0);
  loadCheckpoint(first!.weights, model.params);
  for (const s of more) {
    const parts = PASSES_ON[s.kind];
    if (!parts) throw new Error(`${s.dir}: a ${s.kind} stage; after the first --stage only ${Object.keys(PASSES_ON).join(' or ')} stages can be added`);
    loadPart(s.weights, model.params, parts.filter((p) => [...model.params.keys()].some((n) => n.startsWith(p))));
  }
  const tok = WordPieceTokenizer.fromFile(path.join(a.data, 'vocab.txt'));
  const sp = specialIdsOf(tok);
  const S = m.sizes.imageSize;
  const n = a.train + a.test;
  // Scenes the world never drew (their own random stream), from the world's distribution.
  const scenes = Array.from({ length: n }, (_, i) => sampleScene(rngFor(m.seed, 'pixel-probe', i), m.sizes));
  // The Transformer's output after each of its layers (the last is what the heads read; a layer's
  // input is what its attention reads).
  const L = model.encoder.layer.length;
  const layers = Array.from({ length: L }, (_, i) => `layer ${i + 1}${i + 1 === L ? ' (encoder)' : ''}`);
  const depths = ['cnn', 'token', ...layers];
  const feats: Record<string, Float32Array[]> = Object.fromEntries(depths.map((d) => [d, []]));
  const dims: Record<string, number> = {};
  let grid = 0;
  for (let s = 0; s < n; s += 50) {
    const batch = scenes.slice(s, s + 50);
    const px = new Float32Array(batch.length * S * S * 3);
    batch.forEach((sc, i) => px.set(toFloatRgb(renderScene(sc)), i * S * S * 3));
    const out = tf.tidy(() => {
      const images = tf.tensor4d(px, [batch.length, S, S, 3]);
      const { features } = backboneFeatures(model, images, undefined, false);
      const { v, mask } = embedImages(model, images, undefined);
      const ids = tf.tensor2d(batch.flatMap(() => [sp.cls, sp.sep]), [batch.length, 2], 'int32');
      const idsMask = tf.onesLike(ids) as tf.Tensor2D;
      const w = embedTexts(model, ids, idsMask);
      const [N, h, gw, C] = features.shape;
      const byDepth: Record<string, tf.Tensor2D> = { cnn: features.reshape([N * h * gw, C]), token: v.reshape([-1, v.shape[2]]) };
      layers.forEach((name, i) => {
        const upTo = { ...model, encoder: { ...model.encoder, layer: model.encoder.layer.slice(0, i + 1) } };
        const { hidden } = jointForward(upTo, w, idsMask, v, mask);
        byDepth[name] = hidden.slice([0, 2, 0], [-1, -1, -1]).reshape([-1, hidden.shape[2]]);
      });
      return { byDepth, grid: h };
    });
    grid = out.grid;
    for (const d of depths) {
      const t = out.byDepth[d]!;
      dims[d] = t.shape[1]!;
      feats[d]!.push(t.dataSync() as Float32Array);
      t.dispose();
    }
  }
  const labels = scenes.map((sc) => cellLabels(sc, grid));
  for (const s of stages) console.log(`${s.kind} stage (${s.runName}), ${s.dir}`);
  console.log(`${a.train} + ${a.test} new scenes of ${path.relative(process.cwd(), a.data) || a.data}, ${grid}×${grid} feature pixels; test accuracy %: linear probe / nearest class mean (majority class):`);
  console.log('| depth | object vs background | colour (6) | shape (4) |');
  console.log('| --- | --- | --- | --- |');
  for (const d of depths) {
    const dim = dims[d]!;
    const all = concat(feats[d]!);
    const row = (pred: (sc: Scene, obj: number) => number | null) => {
      const ys: [number[], number[]] = [[], []];
      const xs: [number[], number[]] = [[], []];
      scenes.forEach((sc, i) => {
        const part = i < a.train ? 0 : 1;
        labels[i]!.forEach((obj, c) => {
          const y = pred(sc, obj);
          if (y === null) return;
          ys[part].push(y);
          xs[part].push(i * grid * grid + c);
        });
      });
      const pick = (ix: number[]) => {
        const o = new Float32Array(ix.length * dim);
        ix.forEach((k, j) => o.set(all.subarray(k * dim, (k + 1) * dim), j * dim));
        return o;
      };
      return { x: [pick(xs[0]), pick(xs[1])] as const, y: ys };
    };
    const cells = [
      row((_, obj) => (obj >= 0 ? 1 : 0)),
      row((sc, obj) => (obj >= 0 ? COLOURS.indexOf(sc.objects[obj]!.colour) : null)),
      row((sc, obj) => (obj >= 0 ? SHAPES.indexOf(sc.objects[obj]!.shape) : null)),
    ];
    const k = [2, COLOURS.length, SHAPES.length];
    const res = cells.map((c, j) => ({ ...probe(c.x[0], c.y[0], c.x[1], c.y[1], dim, k[j]!, a.epochs), nearest: nearestMean(c.x[0], c.y[0], c.x[1], c.y[1], dim, k[j]!) }));
    console.log(`| ${d} (${dim}) | ${res.map((r) => `${r.accuracy.toFixed(1)} / ${r.nearest.toFixed(1)} (${r.majority.toFixed(1)})`).join(' | ')} |`);
  }
  disposePixelBert(model);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: Error) => {
    console.error(`pixel-probe: ${e.message}`);
    process.exit(1);
  });
}
