// Test fixture (not exported from index.ts): a tiny Pixel-BERT whose layer-0 attention is known —
// every text token attends to one feature cell — saved as a stage run's weights artifacts
// (docs/runs.md), and a synthetic image for it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { createPixelBert, disposePixelBert, initBackend, saveCheckpoint, type PixelBertConfig } from '@pixel-bert/model';
import type { RunHandle } from '@pixel-bert/tracking';

export const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'red', 'circle', 'blue', 'square', 'left', 'of', '##s'];

export function fixtureConfig(): PixelBertConfig {
  return {
    backbone: { arch: 'resnet-smoke' },
    hidden: 32,
    layers: 2,
    heads: 2,
    ffn: 64,
    vocabSize: VOCAB.length,
    maxTextLength: 16,
    dropout: 0.1,
    pixelPositionEmbedding: true,
    maxPixelGrid: 16,
    taskHeads: ['mlm', 'itm'],
  };
}

/** 64 px images: resnet-smoke gives an 8×8 feature grid, 8 image pixels per cell. */
export const IMAGE = { shortEdge: 64, longEdge: 64 };

/**
 * Weights whose layer-0 attention puts (almost) all of every text token's mass on feature cell
 * `target`: the pixel features are zeroed and only the target's row and column embeddings are set
 * (so the target pixel's input is 2β·1, its row and column β·1, the rest 0); keys are the inputs
 * (identity), and every query is the constant 1 (zero weight, bias 1). Scores: target 2β·hs/√hs,
 * ≥ 4 nats above any other.
 */
export async function writeForcedWeights(dir: string, target: [number, number], beta = 5): Promise<{ weights: string; config: string; vocab: string }> {
  await initBackend({ quiet: true });
  const cfg = fixtureConfig();
  const model = createPixelBert(cfg, 7);
  const d = cfg.hidden;
  const set = (name: string, value: tf.Tensor) => {
    const v = model.params.get(name);
    if (!v) throw new Error(`fixture: the model has no parameter ${name}`);
    v.assign(value.reshape(v.shape));
  };
  const table = (index: number) => {
    const rows = Array.from({ length: cfg.maxPixelGrid! }, (_, i) => new Array(d).fill(i === index ? beta : 0));
    return tf.tensor2d(rows);
  };
  tf.tidy(() => {
    set('pixel_embeddings.projection.weight', tf.zeros(model.params.get('pixel_embeddings.projection.weight')!.shape));
    set('pixel_embeddings.projection.bias', tf.zeros([d]));
    set('pixel_embeddings.s_v', tf.zeros([d]));
    set('pixel_embeddings.row_embeddings.weight', table(target[0]));
    set('pixel_embeddings.col_embeddings.weight', table(target[1]));
    set('encoder.layer.0.attention.self.query.weight', tf.zeros([d, d]));
    set('encoder.layer.0.attention.self.query.bias', tf.ones([d]));
    set('encoder.layer.0.attention.self.key.weight', tf.eye(d));
    set('encoder.layer.0.attention.self.key.bias', tf.zeros([d]));
  });
  mkdirSync(dir, { recursive: true });
  const files = { weights: join(dir, 'weights.safetensors'), config: join(dir, 'config.json'), vocab: join(dir, 'vocab.txt') };
  saveCheckpoint(files.weights, model.params);
  disposePixelBert(model);
  writeFileSync(files.config, JSON.stringify({ pixelBert: cfg, image: IMAGE }, null, 2));
  writeFileSync(files.vocab, VOCAB.join('\n') + '\n');
  return files;
}

/** Logs the three weights artifacts on a stage run, as training does (docs/runs.md). */
export function logWeights(run: RunHandle, files: { weights: string; config: string; vocab: string }): void {
  run.logArtifact('model/weights.safetensors', files.weights);
  run.logArtifact('model/config.json', files.config);
  run.logArtifact('model/vocab.txt', files.vocab);
}

/** A 64×64 grey PNG with a green square (a decoy: attention, not colour, decides the heat map). */
export async function writeSyntheticImage(file: string, square: [number, number] = [5, 1]): Promise<void> {
  const px = new Uint8Array(64 * 64 * 3).fill(128);
  for (let y = square[0] * 8; y < square[0] * 8 + 8; y++) {
    for (let x = square[1] * 8; x < square[1] * 8 + 8; x++) px.set([0, 200, 0], (y * 64 + x) * 3);
  }
  await sharp(px, { raw: { width: 64, height: 64, channels: 3 } }).png().toFile(file);
}

/**
 * Where a tile's heat peaks, in image pixels: the centroid of the pixels whose red exceeds their
 * blue by more than `threshold` (the hot end of the colour ramp), read from the rendered PNG.
 */
export async function hotSpot(png: Uint8Array, origin: [number, number], tile: [number, number], imageSize: [number, number], threshold = 100): Promise<{ x: number; y: number; count: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let ty = 0; ty < tile[1]; ty++) {
    for (let tx = 0; tx < tile[0]; tx++) {
      const p = ((origin[1] + ty) * info.width + origin[0] + tx) * info.channels;
      if (data[p]! - data[p + 2]! > threshold) {
        sx += tx;
        sy += ty;
        n++;
      }
    }
  }
  const scaleX = imageSize[0] / tile[0];
  const scaleY = imageSize[1] / tile[1];
  return { x: ((sx / n + 0.5) * scaleX), y: ((sy / n + 0.5) * scaleY), count: n };
}
