import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/init';
import { createTextEmbedding, textEmbeddingForward } from '../embeddings/text';
import { createEncoder, createPooler, encoderForward, poolerForward } from '../encoder/encoder';
import { createMlmHead, mlmHeadForward } from '../heads/heads';
import { forwardContext } from '../encoder/nn';
import { ParamScope } from '../params';
import { createPixelBert, disposePixelBert, type PixelBert } from '../pixelbert';
import { loadSafetensors } from '../weights/safetensors';
import { floatTensors, importBertSafetensors } from './import-bert';

const readSafetensors = (f: string) => floatTensors(loadSafetensors(f));

// Made by packages/model/scripts/make_golden_bert.py (Hugging Face BertModel, random weights).
const dir = fileURLToPath(new URL('../../fixtures/bert-tiny/', import.meta.url));
const file = `${dir}model.safetensors`;
const golden = JSON.parse(readFileSync(`${dir}golden.json`, 'utf8')) as {
  input_ids: number[][];
  attention_mask: number[][];
  last_hidden_state: number[];
  last_hidden_state_shape: number[];
  pooler_output: number[];
};
const tiny = { vocabSize: 100, hidden: 32, maxTextLength: 16, layers: 2, heads: 2, ffn: 64 };

let root: ParamScope | undefined;
let model: PixelBert | undefined;
beforeAll(async () => {
  await initBackend({ quiet: true });
});
afterEach(() => {
  root?.registry.forEach((v) => v.dispose());
  root = undefined;
  if (model) disposePixelBert(model);
  model = undefined;
});

function buildTrunk(cfg: typeof tiny) {
  root = ParamScope.root(0);
  return {
    text: createTextEmbedding(root.child('embeddings'), cfg),
    encoder: createEncoder(root.child('encoder'), cfg),
    pooler: createPooler(root.child('pooler'), cfg.hidden),
  };
}

describe('BERT import (Hugging Face safetensors)', () => {
  it('reproduces BertModel outputs (last hidden state and pooler) to 1e-4', () => {
    const trunk = buildTrunk(tiny);
    const report = importBertSafetensors(root!.registry, file);
    expect(report.imported.length).toBe(root!.registry.size); // every parameter came from the checkpoint
    expect(report.untouched).toEqual([]);
    const ids = tf.tensor2d(golden.input_ids, undefined, 'int32');
    const mask = tf.tensor2d(golden.attention_mask);
    const ctx = forwardContext(false, 0.1);
    const hidden = encoderForward(trunk.encoder, textEmbeddingForward(trunk.text, ids, ctx), mask, ctx).hidden;
    expect(hidden.shape).toEqual(golden.last_hidden_state_shape);
    const want = tf.tensor(golden.last_hidden_state, hidden.shape);
    const err = tf.max(tf.abs(tf.sub(hidden, want))).dataSync()[0]!;
    expect(err).toBeLessThan(1e-4);
    const pooled = poolerForward(trunk.pooler, hidden);
    expect(tf.max(tf.abs(tf.sub(pooled, tf.tensor(golden.pooler_output, pooled.shape)))).dataSync()[0]).toBeLessThan(1e-4);
    // and a wrong import would not pass: the untouched random model is far off
    expect(tf.max(tf.abs(want)).dataSync()[0]).toBeGreaterThan(0.5);
  });

  it('imports a BertForPreTraining checkpoint (bert. prefix, MLM head) and reproduces its prediction logits to 1e-4', () => {
    const pdir = fileURLToPath(new URL('../../fixtures/bert-tiny-pretraining/', import.meta.url));
    const pg = JSON.parse(readFileSync(`${pdir}golden.json`, 'utf8')) as { input_ids: number[][]; attention_mask: number[][]; prediction_logits: number[]; prediction_logits_shape: number[] };
    const trunk = buildTrunk(tiny);
    const mlm = createMlmHead(root!.child('cls').child('predictions'), tiny.hidden, tiny.vocabSize);
    const report = importBertSafetensors(root!.registry, `${pdir}model.safetensors`);
    expect(report.untouched).toEqual([]);
    expect(report.imported).toContain('cls.predictions.transform.dense.weight');
    expect(report.ignored).toEqual(expect.arrayContaining(['cls.seq_relationship.weight', 'cls.seq_relationship.bias']));
    const ctx = forwardContext(false, 0.1);
    const ids = tf.tensor2d(pg.input_ids, undefined, 'int32');
    const hidden = encoderForward(trunk.encoder, textEmbeddingForward(trunk.text, ids, ctx), tf.tensor2d(pg.attention_mask), ctx).hidden;
    const [B, T] = ids.shape;
    const logits = mlmHeadForward(mlm, trunk.text.word_embeddings, hidden, Int32Array.from({ length: B * T }, (_, i) => i)); // every position
    const want = tf.tensor(pg.prediction_logits, [B * T, tiny.vocabSize]);
    expect(tf.max(tf.abs(tf.sub(logits, want))).dataSync()[0]).toBeLessThan(1e-4);
  });

  it('fails loudly, listing every name and shape that differs, and writes nothing', () => {
    buildTrunk({ ...tiny, layers: 3, ffn: 48 });
    const before = root!.registry.get('encoder.layer.0.attention.self.query.weight')!.dataSync().slice();
    let message = '';
    try {
      importBertSafetensors(root!.registry, file);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(file);
    expect(message).toMatch(/missing in checkpoint: encoder\.layer\.2\.attention\.self\.query\.weight/);
    expect(message).toMatch(/shape mismatch: encoder\.layer\.0\.intermediate\.dense\.weight is \[64, 32\], ours .* needs \[48, 32\]/);
    expect(message).toMatch(/nothing imported/);
    const after = root!.registry.get('encoder.layer.0.attention.self.query.weight')!.dataSync();
    expect([...after]).toEqual([...before]);
  });

  it('a shorter position table is an error unless truncation is asked for', () => {
    buildTrunk({ ...tiny, maxTextLength: 9 });
    expect(() => importBertSafetensors(root!.registry, file)).toThrow(/position_embeddings\.weight is \[16, 32\].*truncatePositions/);
    const report = importBertSafetensors(root!.registry, file, { truncatePositions: true });
    expect(report.notes.join()).toMatch(/first 9 of 16 positions/);
    const pos = root!.registry.get('embeddings.position_embeddings.weight')!.dataSync();
    const ckpt = readSafetensors(file).get('embeddings.position_embeddings.weight')!;
    expect([...pos]).toEqual([...ckpt.data.subarray(0, 9 * 32)]);
  });

  it('initialises the Transformer side of a whole PixelBert, leaving CNN, pixel embedding and heads alone', () => {
    model = createPixelBert({
      backbone: { arch: 'resnet-smoke' },
      ...tiny,
      dropout: 0.1,
      pixelPositionEmbedding: false,
      taskHeads: ['mlm', 'itm'],
    });
    const report = importBertSafetensors(model.params, file);
    expect(report.imported.length).toBe(readSafetensors(file).size);
    expect(report.untouched.some((n) => n.startsWith('backbone.'))).toBe(true);
    expect(report.untouched).toContain('pixel_embeddings.s_v');
    expect(report.untouched).toContain('cls.predictions.bias'); // BertModel has no MLM head
    expect(report.untouched).toContain('itm_head.weight');
  });

  it('reports a file that is not safetensors by name', () => {
    const bad = `${dir}golden.json`;
    expect(() => importBertSafetensors(new Map(), bad)).toThrow(/golden\.json: not a valid safetensors file/);
  });
});
