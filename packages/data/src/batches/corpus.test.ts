import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNTH_PRESETS, generateWorld, type SynthSizes } from '../synth/index';
import { WordPieceTokenizer } from '../tokenizer/index';
import { readPretrainCorpus } from './index';

const tiny: SynthSizes = { ...SYNTH_PRESETS.smoke, pretrainImages: 16, vgImages: 6, vqaTrainImages: 8, vqaTestQuestions: 10, nlvr2TrainPairs: 4, nlvr2TestPairs: 4 };
let dir: string;
let root: string;
let tokenizer: WordPieceTokenizer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'corpus-test-'));
  root = join(dir, 'world');
  await generateWorld({ seed: 11, sizes: tiny, out: root });
  tokenizer = WordPieceTokenizer.fromFile(join(root, 'vocab.txt'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const json = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

describe('pre-training corpus', () => {
  it('holds every train/restval COCO caption and every VG phrase of the generated world, tokenized, each with its image', () => {
    const c = readPretrainCorpus(root, { datasets: ['coco', 'vg'], tokenizer });
    const karpathy = json(join(root, 'coco/dataset_coco.json')).images.filter((i: any) => i.split === 'train' || i.split === 'restval');
    const regions = json(join(root, 'vg/region_descriptions.json')).flatMap((x: any) => x.regions);
    expect(c.counts.cocoImages).toBe(karpathy.length);
    expect(c.counts.cocoCaptions).toBe(karpathy.reduce((n: number, i: any) => n + i.sentences.length, 0));
    expect(c.counts.vgPhrases).toBe(regions.length);
    expect(c.counts.vgExcludedAsCocoTest).toBe(0);
    expect(c.examples).toHaveLength(c.counts.cocoCaptions + c.counts.vgPhrases);
    expect(c.files).toHaveLength(c.counts.cocoImages + c.counts.vgImages);
    expect(c.sources.filter((s) => s === 'vg')).toHaveLength(c.counts.vgImages);
    for (const f of c.files) expect(existsSync(f)).toBe(true);
    // The first caption, as the tokenizer reads it, points at its own image.
    expect(c.examples[0]!.ids).toEqual(tokenizer.ids(karpathy[0].sentences[0].raw));
    expect(c.files[c.examples[0]!.imageIndex]).toBe(join(root, 'coco', karpathy[0].filepath, karpathy[0].filename));
    expect(c.examples.every((e) => e.ids.length > 0 && !e.ids.every((id) => id === tokenizer.unkId))).toBe(true);
    expect(c.skipped).toEqual([]);

    const cocoOnly = readPretrainCorpus(root, { datasets: ['coco'], tokenizer });
    expect(cocoOnly.counts.vgPhrases).toBe(0);
    expect(cocoOnly.examples).toHaveLength(c.counts.cocoCaptions);
    expect(() => readPretrainCorpus(root, { datasets: [], tokenizer })).toThrow(/no datasets given/);
  });

  it('leaves out VG images that are COCO val/test images, and counts them', () => {
    const imageData = json(join(root, 'vg/image_data.json'));
    const testId = json(join(root, 'coco/dataset_coco.json')).images.find((i: any) => i.split === 'test').cocoid;
    imageData[0].coco_id = testId;
    writeFileSync(join(root, 'vg/image_data.json'), JSON.stringify(imageData));
    const c = readPretrainCorpus(root, { datasets: ['vg'], tokenizer });
    const regions = json(join(root, 'vg/region_descriptions.json'));
    const ofFirst = regions.find((r: any) => r.id === imageData[0].image_id).regions.length;
    expect(c.counts.vgExcludedAsCocoTest).toBe(1);
    expect(c.counts.vgImages).toBe(imageData.length - 1);
    expect(c.counts.vgPhrases).toBe(regions.flatMap((x: any) => x.regions).length - ofFirst);
    expect(c.files.some((f) => f.endsWith(`/${imageData[0].image_id}.png`))).toBe(false);
  });
});
