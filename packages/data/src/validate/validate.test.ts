import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNTH_PRESETS, generateWorld, type SynthSizes } from '../synth/index';
import { formatReport, validateData, type ValidateOptions } from './index';

const sizes: SynthSizes = { ...SYNTH_PRESETS.smoke, pretrainImages: 24, vqaTrainImages: 8, vqaTestQuestions: 20, nlvr2TrainPairs: 8, nlvr2TestPairs: 8, retrievalTrainImages: 8 };
let dir: string;
let good: string;

const opts = (root: string, over: Partial<ValidateOptions> = {}): ValidateOptions => ({
  root,
  datasets: { pretrain: ['coco', 'vg'], finetune: ['vqa', 'nlvr2', 'retrieval'] },
  maxCorruptFraction: 0,
  answerVocabSize: 64,
  maxTextLength: 40,
  image: { shortEdge: 64, longEdge: 64 },
  ...over,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'validate-test-'));
  good = join(dir, 'good');
  await generateWorld({ seed: 3, sizes, out: good });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function copyWorld(name: string): Promise<string> {
  const to = join(dir, name);
  await generateWorld({ seed: 3, sizes, out: to }); // same seed: an identical tree to break
  return to;
}

describe('data:validate', () => {
  it('passes the generated world and reports counts, coverage and token lengths', async () => {
    const rep = await validateData(opts(good));
    expect(formatReport(rep)).toContain('data:validate: OK');
    expect(rep.ok).toBe(true);
    const vqa = rep.datasets.find((d) => d.name === 'vqa');
    expect(vqa?.counts['eval(val2014).questions']).toBe(20);
    expect(vqa?.facts['eval questions whose answer is in the vocabulary']).toMatch(/%$/);
    const coco = rep.datasets.find((d) => d.name.startsWith('coco'));
    expect(coco?.counts['pretrain.images']).toBe(24);
    expect(coco?.images).toEqual({ referenced: 24, missing: 0, corrupt: 0 });
    expect(coco?.tokens?.unkRate).toBe(0);
    expect(coco?.tokens?.min).toBeGreaterThan(3);
  });

  it('names a truncated image, a missing image and a too-small image, and fails', async () => {
    const root = await copyWorld('broken');
    const k = JSON.parse(await readFile(join(root, 'coco/dataset_coco.json'), 'utf8'));
    const [a, b] = k.images.filter((i: any) => i.split === 'train');
    await truncate(join(root, 'coco', a.filepath, a.filename), 200); // cut mid-stream
    const nl = (await readFile(join(root, 'nlvr2/data/test1.json'), 'utf8')).split('\n')[0] as string;
    const stem = JSON.parse(nl).identifier.replace(/-\d+$/, '');
    await unlink(join(root, 'nlvr2/images/test1', `${stem}-img1.png`));
    const rep = await validateData(opts(root, { image: { shortEdge: 800, longEdge: 1333 } }));
    const text = formatReport(rep);
    expect(rep.ok).toBe(false);
    expect(text).toContain(a.filename);
    // At the paper's 800 px short edge a 64 px image is too small for the backbone.
    expect(text).toMatch(new RegExp(`${b.filename}: image is 64×64; the shorter edge must be at least 200 px`));
    expect(text).toContain(`${stem}-img1.png`);
    expect(text).toMatch(/\[FAIL\] nlvr2/);
  });

  it('skips within data.maxCorruptFraction, reporting what it skipped', async () => {
    const root = await copyWorld('one-bad');
    const k = JSON.parse(await readFile(join(root, 'flickr30k/dataset_flickr30k.json'), 'utf8'));
    await writeFile(join(root, 'flickr30k/flickr30k-images', k.images[0].filename), 'not a png');
    const strict = await validateData(opts(root, { datasets: { pretrain: [], finetune: ['retrieval'] } }));
    expect(strict.ok).toBe(false);
    const lenient = await validateData(opts(root, { datasets: { pretrain: [], finetune: ['retrieval'] }, maxCorruptFraction: 0.1 }));
    expect(lenient.ok).toBe(true);
    expect(formatReport(lenient)).toMatch(new RegExp(`skipped images .*1: unusable image: .*${k.images[0].filename}`));
  });

  it('fails on a missing dataset file, a missing vocabulary, and too-short maxTextLength', async () => {
    const root = await copyWorld('missing');
    await unlink(join(root, 'vg/image_data.json'));
    await unlink(join(root, 'vocab.txt'));
    const rep = await validateData(opts(root));
    const text = formatReport(rep);
    expect(rep.ok).toBe(false);
    expect(text).toMatch(/image_data\.json/);
    expect(text).toMatch(/no usable vocabulary at .*vocab\.txt/);
    const short = await validateData(opts(good, { maxTextLength: 6, datasets: { pretrain: ['coco'], finetune: [] } }));
    expect(formatReport(short)).toMatch(/longer than maxTextLength 6 .*raise model\.encoder\.maxTextLength/);
    const none = await validateData(opts(join(dir, 'nowhere')));
    expect(formatReport(none)).toMatch(/dataset root .*nowhere does not exist/);
  });

  it('CLI: exits 1 naming problems, 2 on bad arguments', async () => {
    const run = promisify(execFile);
    const ws = resolve(import.meta.dirname, '../../../..');
    const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'packages/data/src/cli/validate.ts', ...args], { cwd: ws }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: any) => ({ code: e.code as number, out: `${e.stdout}${e.stderr}` }),
    );
    // Two runs (the passing path is covered by validateData above): bad data → 1, bad arguments → 2.
    const [bad, args] = await Promise.all([
      cli(['--row=4', '--scale=smoke', `--root=${join(dir, 'nowhere')}`]),
      cli(['--row=9']),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/PROBLEM: dataset root .*nowhere does not exist/);
    expect(args.code).toBe(2);
    expect(args.out).toMatch(/row 9 does not exist/);
  });
});
