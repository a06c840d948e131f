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
import { COLOURS, SHAPES, WordPieceTokenizer, rngFor, sampleScene, specialIdsOf, type Scene } from '@pixel-bert/data';
import { nearestMeanAccuracy } from '@pixel-bert/eval';
import { attributeSalience, pixelStreamOf } from '@pixel-bert/train';
import { createPixelBert, disposePixelBert, initBackend, loadCheckpoint, loadPart, type PixelBertConfig } from '@pixel-bert/model';

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
  const n = a.train + a.test;
  // Scenes the world never drew (their own random stream), from the world's distribution.
  const scenes = Array.from({ length: n }, (_, i) => sampleScene(rngFor(m.seed, 'pixel-probe', i), m.sizes));
  // Each depth's features and the object under each feature pixel, and the nearest class means of
  // colour and shape: what pre-training logs as pretrain.pixels.* (packages/train, pixel-stream.ts).
  const stream = pixelStreamOf(model, scenes, [sp.cls, sp.sep]);
  const salience = attributeSalience(scenes, stream, a.train);
  const grid = Math.round(Math.sqrt(stream.labels[0]!.length));
  for (const s of stages) console.log(`${s.kind} stage (${s.runName}), ${s.dir}`);
  console.log(`${a.train} + ${a.test} new scenes of ${path.relative(process.cwd(), a.data) || a.data}, ${grid}×${grid} feature pixels; test accuracy %: linear probe / nearest class mean (majority class):`);
  console.log('| depth | object vs background | colour (6) | shape (4) |');
  console.log('| --- | --- | --- | --- |');
  for (const [d, { width, data }] of Object.entries(stream.features)) {
    const cells = (label: (sc: Scene, obj: number) => number | null) => {
      const x: [number[], number[]] = [[], []];
      const y: [number[], number[]] = [[], []];
      scenes.forEach((sc, i) =>
        stream.labels[i]!.forEach((obj, c) => {
          const v = label(sc, obj);
          if (v === null) return;
          const part = i < a.train ? 0 : 1;
          x[part].push(i * grid * grid + c);
          y[part].push(v);
        }),
      );
      const pick = (ix: number[]) => {
        const o = new Float32Array(ix.length * width);
        ix.forEach((k, j) => o.set(data.subarray(k * width, (k + 1) * width), j * width));
        return o;
      };
      return { x: [pick(x[0]), pick(x[1])] as const, y };
    };
    const object = cells((_, obj) => (obj >= 0 ? 1 : 0));
    const colour = cells((sc, obj) => (obj >= 0 ? COLOURS.indexOf(sc.objects[obj]!.colour) : null));
    const shape = cells((sc, obj) => (obj >= 0 ? SHAPES.indexOf(sc.objects[obj]!.shape) : null));
    const linear = [
      probe(object.x[0], object.y[0], object.x[1], object.y[1], width, 2, a.epochs),
      probe(colour.x[0], colour.y[0], colour.x[1], colour.y[1], width, COLOURS.length, a.epochs),
      probe(shape.x[0], shape.y[0], shape.x[1], shape.y[1], width, SHAPES.length, a.epochs),
    ];
    const nearest = [nearestMeanAccuracy(object.x[0], object.y[0], object.x[1], object.y[1], width), salience.colour[d]!, salience.shape[d]!];
    console.log(`| ${d}${d === `layer ${model.encoder.layer.length}` ? ' (encoder)' : ''} (${width}) | ${linear.map((r, j) => `${r.accuracy.toFixed(1)} / ${nearest[j]!.toFixed(1)} (${r.majority.toFixed(1)})`).join(' | ')} |`);
  }
  disposePixelBert(model);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: Error) => {
    console.error(`pixel-probe: ${e.message}`);
    process.exit(1);
  });
}
