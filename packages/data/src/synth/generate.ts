// Writes the generated world to disk in the real datasets' formats (see docs/data-synth.md for
// the layout), so the same readers serve generated and real data. Output is a pure function of
// (seed, sizes): every image and text item draws from its own stream rngFor(seed, dataset, index),
// JSON is written with a fixed key order and no timestamps, and the tree appears atomically.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { SYNTH_VOCAB_SIZE } from '@pixel-bert/spec';
import { rngFor } from '../rng';
import {
  AnswerBalancer,
  NLVR2_TYPES,
  annotatorAnswers,
  captionsFor,
  questionsFor,
  regionsFor,
  statementFor,
  type Caption,
  type Nlvr2Type,
} from './language';
import { trainWordPiece, writeVocabTxt } from '../tokenizer/index';
import { encodePng, renderScene } from './render';
import { restvalCount, type SynthSizes } from './sizes';
import { sampleScene, type Scene } from './world';

export const GENERATOR = 'pixel-bert-synth';
export const GENERATOR_VERSION = 1;
/** Size cap of the WordPiece vocabulary trained on the generated text (the world has ~100 words). */
// The vocabulary size lives in @pixel-bert/spec, where tools that size a model read it too.
export { SYNTH_VOCAB_SIZE };

export interface SynthOptions {
  seed: number;
  sizes: SynthSizes;
  /** Output directory; replaced atomically if it holds an earlier data:synth output. */
  out: string;
  /** Recorded in the manifest only. */
  scale?: string;
  log?: (line: string) => void;
}

export interface SynthSummary {
  out: string;
  images: number;
  files: number;
  bytes: number;
  seconds: number;
  counts: Record<string, number>;
}

interface ImageJob {
  rel: string;
  scene: Scene;
}

/** Karpathy-style tokens: lower-case words without punctuation. */
function karpathyTokens(raw: string): string[] {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9 ]+/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

const pad12 = (n: number): string => String(n).padStart(12, '0');

/**
 * The scenes of a world `data:synth` wrote at `root`, rebuilt from its manifest (seed and sizes):
 * `scene('flickr30k', imgid)` is the scene behind that image. Null when `root` holds no generated
 * world (real data); an error when the manifest is of another generator version than this code.
 */
export function generatedScenes(root: string): ((...keys: (string | number)[]) => Scene) | null {
  const file = join(root, 'manifest.json');
  if (!existsSync(file)) return null;
  let m: { generator?: unknown; version?: unknown; seed?: unknown; sizes?: Partial<SynthSizes> };
  try {
    m = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (m.generator !== GENERATOR) return null;
  const { imageSize, objectsMin, objectsMax } = m.sizes ?? {};
  if (m.version !== GENERATOR_VERSION || typeof m.seed !== 'number' || !imageSize || !objectsMin || !objectsMax) {
    throw new Error(`${file}: written by data:synth version ${String(m.version)} (this code writes ${GENERATOR_VERSION}) or without seed and sizes; regenerate the world (npx nx run data:synth)`);
  }
  const seed = m.seed;
  return (...keys) => sampleScene(rngFor(seed, 'scene', ...keys), { imageSize, objectsMin, objectsMax });
}

export async function generateWorld(opts: SynthOptions): Promise<SynthSummary> {
  const t0 = performance.now();
  const { seed, sizes } = opts;
  const log = opts.log ?? (() => {});
  const out = resolve(opts.out);
  await checkReplaceable(out);
  const sceneOpts = { imageSize: sizes.imageSize, objectsMin: sizes.objectsMin, objectsMax: sizes.objectsMax };
  const scene = (...keys: (string | number)[]): Scene => sampleScene(rngFor(seed, 'scene', ...keys), sceneOpts);
  const S = sizes.imageSize;
  const images: ImageJob[] = [];
  const json: [string, unknown][] = [];
  const lines: [string, string][] = [];
  const counts: Record<string, number> = {};
  const corpus: string[] = [];

  // ---- COCO: train2014 (Karpathy train), val2014 (restval, val, test) ---------------------------
  const nRestval = restvalCount(sizes.pretrainImages);
  const nTrain = sizes.pretrainImages - nRestval;
  const nVqaTestImages = Math.ceil(sizes.vqaTestQuestions / sizes.questionsPerImage);
  const nVal = Math.floor(nVqaTestImages / 2);
  const nTest = nVqaTestImages - nVal;
  interface CocoImage {
    id: number;
    subset: 'train2014' | 'val2014';
    split: 'train' | 'restval' | 'val' | 'test';
    fileName: string;
    scene: Scene;
    captions: Caption[];
  }
  const coco: CocoImage[] = [];
  const splits: [CocoImage['split'], number][] = [
    ['train', nTrain],
    ['restval', nRestval],
    ['val', nVal],
    ['test', nTest],
  ];
  let k = 0;
  for (const [split, n] of splits) {
    for (let i = 0; i < n; i++, k++) {
      const id = 9 + 7 * k; // sparse ids, like COCO's: readers must not assume 0..N−1
      const subset = split === 'train' ? 'train2014' : 'val2014';
      const fileName = `COCO_${subset}_${pad12(id)}.png`;
      const sc = scene('coco', k);
      coco.push({ id, subset, split, fileName, scene: sc, captions: captionsFor(sc, sizes.captionsPerImage, rngFor(seed, 'caption', 'coco', k)) });
      images.push({ rel: `coco/${subset}/${fileName}`, scene: sc });
    }
  }
  for (const c of coco) if (c.split === 'train' || c.split === 'restval') for (const cap of c.captions) corpus.push(cap.raw);
  let annId = 1;
  for (const subset of ['train2014', 'val2014'] as const) {
    const imgs = coco.filter((c) => c.subset === subset);
    json.push([
      `coco/annotations/captions_${subset}.json`,
      {
        info: { description: 'Pixel-BERT workbench generated world (COCO captions format)', version: '1.0', year: 2026, contributor: GENERATOR, date_created: 'generated', seed },
        licenses: [{ url: 'https://creativecommons.org/publicdomain/zero/1.0/', id: 1, name: 'CC0 (generated)' }],
        images: imgs.map((c) => ({ license: 1, file_name: c.fileName, coco_url: '', height: S, width: S, date_captured: '', flickr_url: '', id: c.id })),
        annotations: imgs.flatMap((c) => c.captions.map((cap) => ({ image_id: c.id, id: annId++, caption: cap.raw, type: cap.type }))),
      },
    ]);
  }
  let sentId = 0;
  json.push([
    'coco/dataset_coco.json',
    {
      images: coco.map((c, imgid) => {
        const sentences = c.captions.map((cap) => ({ tokens: karpathyTokens(cap.raw), raw: cap.raw, imgid, sentid: sentId++, type: cap.type }));
        return { filepath: c.subset, sentids: sentences.map((s) => s.sentid), filename: c.fileName, imgid, split: c.split, sentences, cocoid: c.id };
      }),
      dataset: 'coco',
    },
  ]);
  counts['coco.images'] = coco.length;
  counts['coco.captions'] = annId - 1;

  // ---- VQA v2: train on a subset of train2014, evaluate on the held-out val2014 images ------------
  const vqaSets: ['train2014' | 'val2014', CocoImage[], number][] = [
    ['train2014', coco.filter((c) => c.split === 'train').slice(0, sizes.vqaTrainImages), Infinity],
    ['val2014', coco.filter((c) => c.split === 'val' || c.split === 'test'), sizes.vqaTestQuestions],
  ];
  for (const [subset, imgs, limit] of vqaSets) {
    const balancer = new AnswerBalancer();
    const questions: unknown[] = [];
    const annotations: unknown[] = [];
    imgs.forEach((c, i) => {
      const n = Math.min(sizes.questionsPerImage, limit - questions.length);
      if (n <= 0) return;
      const rng = rngFor(seed, 'vqa', subset, c.id);
      const items = questionsFor(c.scene, n, i, balancer, rng);
      items.forEach((q, j) => {
        const question_id = c.id * 1000 + j; // VQA's own convention
        questions.push({ image_id: c.id, question: q.question, question_id, type: q.type });
        if (subset === 'train2014') corpus.push(q.question);
        const { answers, multipleChoice } = annotatorAnswers(q, rng);
        annotations.push({
          question_type: q.questionType,
          multiple_choice_answer: multipleChoice,
          answers,
          image_id: c.id,
          answer_type: q.answerType,
          question_id,
          type: q.type,
        });
      });
    });
    const header = { info: { description: 'Pixel-BERT workbench generated world (VQA v2 format)', version: '2.0', year: 2026, contributor: GENERATOR, seed }, license: { url: '', name: 'CC0 (generated)' }, data_subtype: subset };
    json.push([`vqa/v2_OpenEnded_mscoco_${subset}_questions.json`, { ...header, task_type: 'Open-Ended', data_type: 'mscoco', questions }]);
    json.push([`vqa/v2_mscoco_${subset}_annotations.json`, { ...header, data_type: 'mscoco', annotations }]);
    counts[`vqa.${subset}.questions`] = questions.length;
    counts[`vqa.${subset}.images`] = new Set(questions.map((q) => (q as { image_id: number }).image_id)).size;
  }

  // ---- Visual Genome: region phrases with boxes ----------------------------------------------
  const vgData: unknown[] = [];
  const vgRegions: unknown[] = [];
  let regionId = 1;
  for (let i = 0; i < sizes.vgImages; i++) {
    const image_id = i + 1;
    const sc = scene('vg', i);
    images.push({ rel: `vg/VG_100K/${image_id}.png`, scene: sc });
    vgData.push({ width: S, url: `https://cs.stanford.edu/people/rak248/VG_100K/${image_id}.png`, height: S, image_id, coco_id: null, flickr_id: null });
    const regions = regionsFor(sc, rngFor(seed, 'region', i)).map((r) => ({
      region_id: regionId++,
      width: r.box[2],
      height: r.box[3],
      image_id,
      phrase: r.phrase,
      y: r.box[1],
      x: r.box[0],
      type: r.type,
    }));
    vgRegions.push({ regions, id: image_id });
    for (const r of regions) corpus.push(r.phrase);
  }
  json.push(['vg/image_data.json', vgData]);
  json.push(['vg/region_descriptions.json', vgRegions]);
  counts['vg.images'] = sizes.vgImages;
  counts['vg.regions'] = regionId - 1;

  // ---- Flickr30K-style retrieval split ----------------------------------------------------------
  const flickr: unknown[] = [];
  let fSent = 0;
  const fSplits: [string, number][] = [
    ['train', sizes.retrievalTrainImages],
    ['val', sizes.retrievalValImages],
    ['test', sizes.retrievalTestImages],
  ];
  let imgid = 0;
  for (const [split, n] of fSplits) {
    for (let i = 0; i < n; i++, imgid++) {
      const filename = `${1000000000 + 7919 * imgid}.png`;
      const sc = scene('flickr30k', imgid);
      images.push({ rel: `flickr30k/flickr30k-images/${filename}`, scene: sc });
      const sentences = captionsFor(sc, sizes.captionsPerImage, rngFor(seed, 'caption', 'flickr30k', imgid)).map((cap) => ({
        tokens: karpathyTokens(cap.raw),
        raw: cap.raw,
        imgid,
        sentid: fSent++,
        type: cap.type,
      }));
      if (split === 'train') for (const x of sentences) corpus.push(x.raw);
      flickr.push({ sentids: sentences.map((s) => s.sentid), imgid, sentences, split, filename });
    }
    counts[`flickr30k.${split}.images`] = n;
  }
  json.push(['flickr30k/dataset_flickr30k.json', { images: flickr, dataset: 'flickr30k' }]);

  // ---- NLVR²: JSON lines, image pairs named <identifier minus last part>-img0/1 ------------------
  const nSplits: ['train' | 'dev' | 'test1', number][] = [
    ['train', sizes.nlvr2TrainPairs],
    ['dev', sizes.nlvr2DevPairs],
    ['test1', sizes.nlvr2TestPairs],
  ];
  for (const [split, n] of nSplits) {
    const balancer = new AnswerBalancer();
    const rows: string[] = [];
    for (let i = 0; i < n; i++) {
      const setId = Math.floor(i / 4);
      const base = `${split}-${setId}-${i % 4}`;
      const identifier = `${base}-0`;
      const directory = setId % 100;
      const dir = split === 'train' ? `nlvr2/images/train/${directory}` : `nlvr2/images/${split}`;
      const pair: [Scene, Scene] = [scene('nlvr2', split, i, 0), scene('nlvr2', split, i, 1)];
      images.push({ rel: `${dir}/${base}-img0.png`, scene: pair[0] });
      images.push({ rel: `${dir}/${base}-img1.png`, scene: pair[1] });
      const rng = rngFor(seed, 'nlvr2-text', split, i);
      let st: ReturnType<typeof statementFor> = null;
      for (let t = 0; t < NLVR2_TYPES.length && !st; t++) {
        st = statementFor(pair, NLVR2_TYPES[(i + t) % NLVR2_TYPES.length] as Nlvr2Type, balancer, rng);
      }
      if (!st) throw new Error(`data:synth: no NLVR² statement possible for ${identifier} (objects per image too few?)`);
      const row: Record<string, unknown> = { identifier, sentence: st.sentence, label: st.label ? 'True' : 'False' };
      if (split === 'train') row.directory = directory;
      row.writer = GENERATOR;
      row.type = st.type;
      rows.push(JSON.stringify(row));
      if (split === 'train') corpus.push(st.sentence);
    }
    lines.push([`nlvr2/data/${split}.json`, rows.length ? `${rows.join('\n')}\n` : '']);
    counts[`nlvr2.${split}.pairs`] = n;
  }

  // ---- write ---------------------------------------------------------------------------------
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    await mkdir(tmp, { recursive: true });
    log(`data:synth: rendering ${images.length} images (${S}×${S}) into ${tmp}`);
    const dirs = new Set(images.map((j) => dirname(join(tmp, j.rel))));
    for (const d of dirs) await mkdir(d, { recursive: true });
    const BATCH = 32; // rasterise on this thread, encode on sharp's thread pool
    let lastLog = performance.now();
    for (let b = 0; b < images.length; b += BATCH) {
      const chunk = images.slice(b, b + BATCH).map((j) => ({ j, rgb: renderScene(j.scene) }));
      await Promise.all(chunk.map(async ({ j, rgb }) => writeFile(join(tmp, j.rel), await encodePng(rgb, j.scene.width, j.scene.height))));
      if (performance.now() - lastLog > 5000 || b + BATCH >= images.length) {
        lastLog = performance.now();
        log(`data:synth: ${Math.min(b + BATCH, images.length)}/${images.length} images (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
    }
    for (const [rel, obj] of json) await writeText(join(tmp, rel), JSON.stringify(obj));
    for (const [rel, text] of lines) await writeText(join(tmp, rel), text);
    counts.images = images.length;
    // A WordPiece vocabulary of the generated text (training splits only, so evaluation text can
    // show [UNK] like real data would), written as <root>/vocab.txt for training and data:validate.
    const vocab = trainWordPiece(corpus, { vocabSize: SYNTH_VOCAB_SIZE });
    writeVocabTxt(join(tmp, 'vocab.txt'), vocab);
    counts.vocab = vocab.length;
    const manifest = { generator: GENERATOR, version: GENERATOR_VERSION, seed, scale: opts.scale ?? null, sizes, counts };
    await writeText(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    // Swap into place: the old tree (if any) is moved aside first, so `out` is never half-written.
    const old = `${out}.old-${process.pid}`;
    if (existsSync(out)) await rename(out, old);
    await rename(tmp, out);
    await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const { files, bytes } = await treeStats(out);
  return { out, images: images.length, files, bytes, seconds: (performance.now() - t0) / 1000, counts };
}

async function writeText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

/** Refuses to replace a directory that is not an earlier data:synth output (never delete user data). */
async function checkReplaceable(out: string): Promise<void> {
  if (!existsSync(out)) return;
  const st = await stat(out);
  if (!st.isDirectory()) throw new Error(`data:synth: output path ${out} exists and is not a directory`);
  const entries = await readdir(out);
  if (entries.length === 0) return;
  let ok = false;
  try {
    const m = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as { generator?: unknown };
    ok = m.generator === GENERATOR;
  } catch {
    ok = false;
  }
  if (!ok) throw new Error(`data:synth: refusing to replace ${out}: it is not empty and has no data:synth manifest.json (choose another --out or remove it yourself)`);
}

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  };
  await walk(root);
  return out;
}

async function treeStats(root: string): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  const files = await listFiles(root);
  for (const f of files) bytes += (await stat(f)).size;
  return { files: files.length, bytes };
}

/** sha256 over every file's relative path and bytes, in sorted order: equal hashes ⇔ identical trees. */
export async function hashTree(root: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of await listFiles(root)) {
    h.update(relative(root, f));
    h.update('\0');
    h.update(await readFile(f));
    h.update('\0');
  }
  return h.digest('hex');
}
