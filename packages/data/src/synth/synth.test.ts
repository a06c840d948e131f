import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rngFor } from '../rng';
import {
  AnswerBalancer,
  CAPTION_TYPES,
  SYNTH_PRESETS,
  generateWorld,
  generatedScenes,
  hashTree,
  objectBox,
  questionsFor,
  relationHolds,
  renderScene,
  resolveSynthSizes,
  roughNormalise,
  sampleScene,
  NLVR2_TYPES,
  SHAPES,
  statementFor,
  type Nlvr2Type,
  type Scene,
  type SynthSizes,
} from './index';
import { readCocoCaptions, readKarpathy, readNlvr2, readVisualGenome, readVqa } from '../readers/index';

// A world a little smaller than smoke, so the suite stays fast; smoke itself is hashed below.
const tiny: SynthSizes = { ...SYNTH_PRESETS.smoke, pretrainImages: 24, vqaTrainImages: 8, vqaTestQuestions: 20, nlvr2TrainPairs: 8, nlvr2TestPairs: 8 };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'synth-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const readJson = async (p: string): Promise<any> => JSON.parse(await readFile(p, 'utf8'));

describe('generated world on disk', () => {
  it('is byte-identical for the same seed at smoke scale, and differs for another seed', async () => {
    const sizes = resolveSynthSizes('smoke');
    const a = await generateWorld({ seed: 7, sizes, out: join(dir, 'a') });
    const b = await generateWorld({ seed: 7, sizes, out: join(dir, 'b') });
    const c = await generateWorld({ seed: 8, sizes, out: join(dir, 'c') });
    const [ha, hb, hc] = await Promise.all([hashTree(a.out), hashTree(b.out), hashTree(c.out)]);
    expect(a.files).toBeGreaterThan(200); // 234 images + 14 text files at smoke
    expect(ha).toBe(hb);
    expect(hc).not.toBe(ha);
  });

  it('writes the real formats, with every referenced image present and decodable at the right size', async () => {
    const out = join(dir, 'formats');
    await generateWorld({ seed: 1, sizes: tiny, out });
    const coco = await readJson(join(out, 'coco/dataset_coco.json'));
    expect(coco.dataset).toBe('coco');
    const splits = new Set(coco.images.map((i: any) => i.split));
    expect([...splits].sort()).toEqual(['restval', 'test', 'train', 'val']);
    for (const im of coco.images) {
      expect(im.sentences).toHaveLength(5);
      expect(im.sentids).toEqual(im.sentences.map((s: any) => s.sentid));
      for (const s of im.sentences) {
        expect(s.raw.length).toBeGreaterThan(5);
        expect(s.tokens.join(' ')).toBe(s.raw.toLowerCase().replace(/[^a-z0-9 ]+/g, ' ').trim().split(/\s+/).join(' '));
        expect(['scene', 'colour', 'shape', 'count', 'relation']).toContain(s.type);
      }
      const meta = await sharp(join(out, 'coco', im.filepath, im.filename)).metadata();
      expect([meta.width, meta.height, meta.channels, meta.format]).toEqual([64, 64, 3, 'png']);
    }
    const capsTrain = await readJson(join(out, 'coco/annotations/captions_train2014.json'));
    expect(capsTrain.annotations.length).toBe(capsTrain.images.length * 5);
    const ids = new Set(capsTrain.images.map((i: any) => i.id));
    for (const a of capsTrain.annotations) expect(ids.has(a.image_id)).toBe(true);

    // VQA: ten answers each, questions ↔ annotations line up, images are COCO images.
    const cocoIds = new Set(coco.images.map((i: any) => i.cocoid));
    for (const sub of ['train2014', 'val2014']) {
      const qs = await readJson(join(out, `vqa/v2_OpenEnded_mscoco_${sub}_questions.json`));
      const an = await readJson(join(out, `vqa/v2_mscoco_${sub}_annotations.json`));
      expect(qs.questions.length).toBe(an.annotations.length);
      qs.questions.forEach((q: any, i: number) => {
        const a = an.annotations[i];
        expect(a.question_id).toBe(q.question_id);
        expect(a.answers).toHaveLength(10);
        expect(a.answers.map((x: any) => x.answer_id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(cocoIds.has(q.image_id)).toBe(true);
        expect(q.type).toBe(a.type);
      });
    }
    const valQs = await readJson(join(out, 'vqa/v2_OpenEnded_mscoco_val2014_questions.json'));
    expect(valQs.questions).toHaveLength(tiny.vqaTestQuestions);
    // Held-out: VQA evaluation images are never pre-training (train/restval) images.
    const pretrainIds = new Set(coco.images.filter((i: any) => i.split === 'train' || i.split === 'restval').map((i: any) => i.cocoid));
    for (const q of valQs.questions) expect(pretrainIds.has(q.image_id)).toBe(false);

    // VG: boxes inside the image.
    const regions = await readJson(join(out, 'vg/region_descriptions.json'));
    const imageData = await readJson(join(out, 'vg/image_data.json'));
    expect(regions.map((r: any) => r.id)).toEqual(imageData.map((d: any) => d.image_id));
    for (const r of regions.flatMap((x: any) => x.regions)) {
      expect(r.x).toBeGreaterThanOrEqual(0);
      expect(r.y).toBeGreaterThanOrEqual(0);
      expect(r.x + r.width).toBeLessThanOrEqual(64);
      expect(r.y + r.height).toBeLessThanOrEqual(64);
    }

    // NLVR²: JSON lines; both images of every pair exist under the identifier convention.
    const lines = (await readFile(join(out, 'nlvr2/data/test1.json'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(tiny.nlvr2TestPairs);
    for (const l of lines) {
      expect(['True', 'False']).toContain(l.label);
      const base = l.identifier.replace(/-\d+$/, '');
      for (const k of [0, 1]) await expect(sharp(join(out, 'nlvr2/images/test1', `${base}-img${k}.png`)).metadata()).resolves.toBeTruthy();
    }

    const flickr = await readJson(join(out, 'flickr30k/dataset_flickr30k.json'));
    expect(flickr.images.filter((i: any) => i.split === 'test')).toHaveLength(tiny.retrievalTestImages);
    const manifest = await readJson(join(out, 'manifest.json'));
    expect(manifest.counts['vqa.val2014.questions']).toBe(tiny.vqaTestQuestions);

    // The scenes rebuilt from the manifest are the ones drawn: each "scene" caption names every
    // object's shape, and no other shape.
    const scenes = generatedScenes(out)!;
    let checked = 0;
    for (const im of flickr.images) {
      const sc = scenes('flickr30k', im.imgid);
      im.sentences.forEach((s: any) => {
        if (s.type !== 'scene') return;
        const named = new Set(SHAPES.filter((sh) => new RegExp(`\\b${sh}\\b`).test(s.raw.toLowerCase())));
        expect(named).toEqual(new Set(sc.objects.map((o) => o.shape)));
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(0);
    expect(generatedScenes(join(out, 'flickr30k'))).toBeNull();
    await mkdir(join(dir, 'old'), { recursive: true });
    await writeFile(join(dir, 'old', 'manifest.json'), JSON.stringify({ ...manifest, version: 0 }));
    expect(() => generatedScenes(join(dir, 'old'))).toThrow(/version 0 \(this code writes 1\)/);
  });

  it('replaces its own earlier output atomically but refuses to overwrite a foreign directory', async () => {
    const foreign = join(dir, 'foreign');
    await mkdir(foreign, { recursive: true });
    await writeFile(join(foreign, 'precious.txt'), 'user data');
    await expect(generateWorld({ seed: 1, sizes: tiny, out: foreign })).rejects.toThrow(/refusing to replace .*foreign/);
    expect(await readFile(join(foreign, 'precious.txt'), 'utf8')).toBe('user data');
    const own = join(dir, 'own');
    await generateWorld({ seed: 1, sizes: tiny, out: own });
    const h1 = await hashTree(own);
    await generateWorld({ seed: 2, sizes: tiny, out: own });
    expect(await hashTree(own)).not.toBe(h1);
  });
});

describe('data:synth CLI', () => {
  it('writes the smoke world another process reproduces byte for byte, and rejects a bad seed', async () => {
    const ws = resolve(import.meta.dirname, '../../../..');
    const cli = (args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'packages/data/src/cli/synth.ts', ...args], { cwd: ws }).then(
        (r) => ({ code: 0, out: r.stdout + r.stderr }),
        (e: any) => ({ code: e.code as number, out: `${e.stdout}${e.stderr}` }),
      );
    const out = join(dir, 'cli-smoke');
    const [ok, bad] = await Promise.all([cli(['--scale=smoke', '--seed=5', `--out=${out}`]), cli(['--scale=smoke', '--seed=-1'])]);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain(`to ${out}`);
    const here = await generateWorld({ seed: 5, sizes: resolveSynthSizes('smoke', (await readJson(join(out, 'manifest.json'))).sizes), out: join(dir, 'in-process'), scale: 'smoke' });
    expect(await hashTree(out)).toBe(await hashTree(here.out));
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--seed must be a non-negative integer/);
  });
});

describe('scenes and text', () => {
  it('draws each object where its box says (pixels inside differ from the background)', () => {
    const sc = sampleScene(rngFor(3, 'x'), { imageSize: 128, objectsMin: 3, objectsMax: 3 });
    const px = renderScene(sc);
    for (const o of sc.objects) {
      const [x, y, w, h] = objectBox(o);
      const i = (Math.round(o.cy) * 128 + Math.round(o.cx)) * 3;
      const bg = sc.background;
      const diff = Math.abs((px[i] as number) - bg[0]) + Math.abs((px[i + 1] as number) - bg[1]) + Math.abs((px[i + 2] as number) - bg[2]);
      expect(diff).toBeGreaterThan(40);
      expect(w).toBeGreaterThan(10); // large enough to see the shape at 128 px (≥ 0.11·S half-extent)
      expect(x + w).toBeLessThanOrEqual(128);
      expect(y + h).toBeLessThanOrEqual(128);
    }
  });

  it('balances answers within each VQA question type and names every question type', () => {
    const balancer = new AnswerBalancer();
    const byType = new Map<string, Map<string, number>>();
    for (let i = 0; i < 400; i++) {
      const sc = sampleScene(rngFor(5, 'scene', i), { imageSize: 128, objectsMin: 2, objectsMax: 4 });
      for (const q of questionsFor(sc, 5, i, balancer, rngFor(5, 'q', i))) {
        const m = byType.get(q.type) ?? new Map<string, number>();
        m.set(q.answer, (m.get(q.answer) ?? 0) + 1);
        byType.set(q.type, m);
      }
    }
    expect([...byType.keys()].sort()).toEqual(['colour', 'count', 'existence', 'relation', 'shape']);
    for (const [type, m] of byType) {
      const counts = [...m.values()];
      const max = Math.max(...counts);
      const min = Math.min(...counts);
      // Most frequent answer within a type at most 1.3× the least frequent: a text-only model
      // that always says the majority answer gains little over uniform guessing.
      expect(max / min, `${type}: ${JSON.stringify([...m])}`).toBeLessThan(1.3);
      expect(m.size, type).toBeGreaterThanOrEqual(type === 'existence' || type === 'relation' ? 2 : 4);
    }
  });

  it('keeps a text-only model (majority answer per question string, learnt on train) near chance', () => {
    const gen = (tag: string, n: number) => {
      const b = new AnswerBalancer();
      return Array.from({ length: n }, (_, i) => {
        const sc = sampleScene(rngFor(tag, 'scene', i), { imageSize: 128, objectsMin: 2, objectsMax: 4 });
        return questionsFor(sc, 5, i, b, rngFor(tag, 'q', i));
      }).flat();
    };
    const train = gen('train', 600);
    const prior = new Map<string, Map<string, number>>();
    for (const q of [...train.map((x) => [x.question, x]), ...train.map((x) => [`type:${x.type}`, x])] as [string, (typeof train)[0]][]) {
      const m = prior.get(q[0]) ?? new Map<string, number>();
      m.set(q[1].answer, (m.get(q[1].answer) ?? 0) + 1);
      prior.set(q[0], m);
    }
    const guess = (key: string): string => [...(prior.get(key) as Map<string, number>)].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
    const acc = new Map<string, [number, number]>();
    for (const q of gen('test', 300)) {
      const g = guess(prior.has(q.question) ? q.question : `type:${q.type}`);
      const r = acc.get(q.type) ?? [0, 0];
      acc.set(q.type, [r[0] + (g === q.answer ? 1 : 0), r[1] + 1]);
    }
    const chance: Record<string, number> = { colour: 1 / 6, shape: 1 / 4, count: 1 / 5, existence: 1 / 2, relation: 1 / 2 };
    // Measured (seeds above): colour 0.16, shape 0.26, count ≈ 0.37, existence ≈ 0.51, relation ≈ 0.5.
    // Counts keep some prior: only "how many objects" can supply 3s and 4s, so it leans to them.
    const slack: Record<string, number> = { colour: 0.06, shape: 0.06, count: 0.22, existence: 0.08, relation: 0.08 };
    for (const [t, [ok, n]] of acc) expect(ok / n, `${t}: text-only accuracy`).toBeLessThan((chance[t] as number) + (slack[t] as number));
  });

  it('balances NLVR² labels within every statement template', () => {
    const balancer = new AnswerBalancer();
    const byTemplate = new Map<string, [number, number]>();
    for (let i = 0; i < 400; i++) {
      const opts = { imageSize: 128, objectsMin: 2, objectsMax: 4 };
      const pair: [Scene, Scene] = [sampleScene(rngFor(6, i, 0), opts), sampleScene(rngFor(6, i, 1), opts)];
      const st = statementFor(pair, NLVR2_TYPES[i % 4] as Nlvr2Type, balancer, rngFor(6, 't', i));
      expect(st).not.toBeNull();
      const k = `${st!.type}/${st!.template}`;
      const c = byTemplate.get(k) ?? [0, 0];
      c[st!.label ? 0 : 1]++;
      byTemplate.set(k, c);
    }
    expect(new Set([...byTemplate.keys()].map((k) => k.split('/')[0]))).toEqual(new Set(NLVR2_TYPES));
    for (const [k, [t, f]] of byTemplate) expect(Math.abs(t - f), `${k}: ${t} true / ${f} false`).toBeLessThanOrEqual(2);
  });

  it('keeps a text-only NLVR² model (majority label per sentence, learnt on train) near chance', () => {
    const gen = (tag: string, n: number) => {
      const b = new AnswerBalancer();
      return Array.from({ length: n }, (_, i) => {
        const o = { imageSize: 128, objectsMin: 2, objectsMax: 4 };
        const pair: [Scene, Scene] = [sampleScene(rngFor(tag, i, 0), o), sampleScene(rngFor(tag, i, 1), o)];
        return statementFor(pair, NLVR2_TYPES[i % 4] as Nlvr2Type, b, rngFor(tag, 't', i))!;
      });
    };
    const prior = new Map<string, [number, number]>();
    for (const x of gen('train', 1200)) {
      const c = prior.get(x.sentence) ?? [0, 0];
      c[x.label ? 0 : 1]++;
      prior.set(x.sentence, c);
    }
    const acc = new Map<string, [number, number]>();
    for (const x of gen('test', 600)) {
      const c = prior.get(x.sentence);
      const r = acc.get(x.type) ?? [0, 0];
      acc.set(x.type, [r[0] + ((c ? c[0] > c[1] : false) === x.label ? 1 : 0), r[1] + 1]);
    }
    // Measured at 2000/1000 pairs: comparison 0.51, existence 0.50, count 0.49, relation 0.51.
    for (const [t, [ok, n]] of acc) expect(ok / n, `${t}: text-only accuracy`).toBeLessThan(0.6);
  });

  it('states relations only outside the dead zone', () => {
    const sc = sampleScene(rngFor(9), { imageSize: 100, objectsMin: 2, objectsMax: 2 });
    const [a, b] = sc.objects as [any, any];
    const near = { ...b, cx: a.cx + 3, cy: a.cy + 30 };
    expect(relationHolds(a, near, 'left of', 100)).toBeNull();
    expect(relationHolds(a, near, 'above', 100)).toBe(true);
    expect(relationHolds(near, a, 'above', 100)).toBe(false);
  });

  it('normalises its own answer variants back to the answer', () => {
    expect(['Red', 'red.', 'a circle', 'two', 'Yes!'].map(roughNormalise)).toEqual(['red', 'red', 'circle', '2', 'yes']);
  });

  it('rejects impossible sizes with the key named', () => {
    expect(() => resolveSynthSizes('small', { vqaTrainImages: 999999 })).toThrow(/data\.synth\.vqaTrainImages/);
    expect(() => resolveSynthSizes('small', { imagesize: 3 })).toThrow(/unknown key\(s\) data\.synth\.imagesize/);
    expect(resolveSynthSizes('small', { objectsPerImage: { min: 1, max: 3 } })).toMatchObject({ objectsMin: 1, objectsMax: 3 });
  });
});

describe('the real readers on the generated world', () => {
  it('surface every item type tag and find the PNG images under COCO naming', async () => {
    const out = join(dir, 'readers');
    await generateWorld({ seed: 3, sizes: tiny, out });
    const vqa = readVqa(
      join(out, 'vqa/v2_OpenEnded_mscoco_val2014_questions.json'),
      join(out, 'vqa/v2_mscoco_val2014_annotations.json'),
      { imageDir: join(out, 'coco/val2014') },
    );
    expect(vqa.questions.length).toBeGreaterThan(0);
    for (const q of vqa.questions) {
      expect(q.imageFile).toMatch(/^COCO_val2014_\d{12}\.png$/);
      expect(['colour', 'shape', 'count', 'existence', 'relation']).toContain(q.type);
    }
    const nlvr2 = readNlvr2(join(out, 'nlvr2/data/test1.json'));
    expect(new Set(nlvr2.items.map((i) => i.type)).size).toBeGreaterThan(1);
    expect(nlvr2.items.every((i) => typeof i.type === 'string')).toBe(true);
    const coco = readCocoCaptions(join(out, 'coco/annotations/captions_val2014.json'));
    expect(coco.captions.every((c) => typeof c.type === 'string')).toBe(true);
    const karpathy = readKarpathy(join(out, 'coco/dataset_coco.json'));
    for (const im of karpathy.images) {
      expect(im.sentenceTypes).toHaveLength(im.sentences.length);
      for (const t of im.sentenceTypes!) expect(CAPTION_TYPES).toContain(t);
    }
    expect(new Set(karpathy.images.flatMap((im) => im.sentenceTypes)).size).toBeGreaterThan(2);
    const vg = readVisualGenome(join(out, 'vg/region_descriptions.json'), join(out, 'vg/image_data.json'));
    expect(vg.regions.length).toBeGreaterThan(0);
    expect(vg.regions.every((r) => typeof r.type === 'string')).toBe(true);
  });
});
