import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNTH_PRESETS, WordPieceTokenizer, buildPretrainBatch, generateWorld, readPretrainCorpus, type PretrainCorpus, type PretrainOptions } from '@pixel-bert/data';
import { pretrainEpoch, pretrainSteps, type PretrainFeedOptions, type PretrainStep } from './pretrain-feed';

let dir: string;
let corpus: PretrainCorpus;
let opts: PretrainFeedOptions;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pretrain-feed-'));
  const root = join(dir, 'world');
  await generateWorld({ seed: 5, sizes: { ...SYNTH_PRESETS.smoke, pretrainImages: 12, vgImages: 4, vqaTrainImages: 4, vqaTestQuestions: 6, nlvr2TrainPairs: 4, nlvr2TestPairs: 4 }, out: root });
  const tok = WordPieceTokenizer.fromFile(join(root, 'vocab.txt'));
  corpus = readPretrainCorpus(root, { datasets: ['coco', 'vg'], tokenizer: tok });
  const batch: PretrainOptions = { mlm: true, itm: true, vocabSize: tok.vocabSize, batchSize: 8, maxLength: 32, specials: { pad: tok.padId, unk: tok.unkId, cls: tok.clsId, sep: tok.sepId, mask: tok.maskId } };
  opts = { corpus, batch, seed: 3, resize: { shortEdge: 64, longEdge: 64 }, collate: { sizeDivisor: 32 }, workers: 1 };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(it: AsyncIterable<PretrainStep>, limit = Infinity): Promise<PretrainStep[]> {
  const out: PretrainStep[] = [];
  for await (const s of it) {
    out.push(s);
    if (out.length >= limit) break;
  }
  return out;
}

describe('pre-training feed', () => {
  it('gives every step of the epoch, each image of a batch decoded once and every text row pointing at its own image', async () => {
    const steps = await collect(pretrainEpoch(opts, 0));
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: pretrainSteps(opts) }, (_, i) => i));
    for (const s of steps) {
      const b = buildPretrainBatch(corpus.examples, { seed: 3, epoch: 0, step: s.step }, opts.batch);
      expect(s.text.inputIds).toEqual(b.text.inputIds);
      expect(s.images.batch).toBe(new Set(b.imageIndex).size); // ITM negatives share their positive's image
      expect(s.rowImage.length).toBe(s.text.batchSize);
      expect(s.text.batchSize).toBe(2 * b.exampleIndex.length);
      for (let r = 0; r < s.rowImage.length; r++) expect(s.images.files[s.rowImage[r]!]).toBe(corpus.files[b.imageIndex[r]!]);
      expect(s.droppedRows).toBe(0);
      expect(s.images.pixels.length).toBe(s.images.batch * s.images.height * s.images.width * 3);
    }
  });

  it('resumed at step k gives exactly the steps k… of the whole epoch', async () => {
    const whole = await collect(pretrainEpoch(opts, 1));
    const resumed = await collect(pretrainEpoch(opts, 1, 3), 2);
    expect(resumed.map((s) => s.step)).toEqual([3, 4]);
    for (const [i, s] of resumed.entries()) {
      const w = whole[3 + i]!;
      expect(s.text.inputIds).toEqual(w.text.inputIds);
      expect(s.mlmLabels).toEqual(w.mlmLabels);
      expect(s.rowImage).toEqual(w.rowImage);
      expect(s.images.pixels).toEqual(w.images.pixels);
    }
  });

  it('drops the rows of an image that cannot be decoded, and says so', async () => {
    const bad = corpus.files[corpus.examples[0]!.imageIndex]!;
    writeFileSync(bad, 'not a png');
    const steps = await collect(pretrainEpoch({ ...opts, maxBadFraction: 0.5 }, 0));
    const hit = steps.filter((s) => s.images.skipped.length > 0);
    expect(hit.length).toBeGreaterThan(0);
    for (const s of hit) {
      expect(s.images.skipped[0]!.file).toBe(bad);
      expect(s.droppedRows).toBeGreaterThan(0);
      expect(s.rowImage.length).toBe(s.text.batchSize);
      expect(s.images.files).not.toContain(bad);
    }
    await expect(collect(pretrainEpoch(opts, 0))).rejects.toThrow(/could not be decoded/);
  });
});
