// What a user runs before a 40-epoch job: read every dataset an experiment uses with the same
// readers training uses, decode every image it will touch with the same pipeline, and report
// counts, missing/corrupt images, answer-vocabulary coverage and token lengths. Problems are
// collected (not thrown one by one) so a single run names all of them.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { datasetsUsed, type Spec } from '@pixel-bert/spec';
import { decodeRgb, type ResizeSpec } from '../images/index';
import {
  DataError,
  buildAnswerVocab,
  formatProblem,
  readCocoCaptions,
  readKarpathy,
  readNlvr2,
  readVisualGenome,
  readVqa,
  vqaSoftTarget,
  type Problem,
  type VqaQuestion,
} from '../readers/index';
import { WordPieceTokenizer } from '../tokenizer/index';

export type PretrainDataset = 'coco' | 'vg';
export type FinetuneDataset = 'vqa' | 'nlvr2' | 'retrieval';

export interface ValidateOptions {
  /** Dataset root: the layout data:synth writes (see docs/data-synth.md), real or generated. */
  root: string;
  datasets: { pretrain: readonly PretrainDataset[]; finetune: readonly FinetuneDataset[] };
  /** Missing/corrupt images (or bad items) above this fraction of a dataset fail validation. */
  maxCorruptFraction: number;
  /** Answer vocabulary size (spec finetune.vqa.answerVocabSize; paper: 3129). */
  answerVocabSize: number;
  /** Text length incl. [CLS]/[SEP] (spec model.encoder.maxTextLength). */
  maxTextLength: number;
  /** Resize rule the model uses (spec model.run.image), so decoding here is decoding in training. */
  image: ResizeSpec;
  /** vocab.txt / tokenizer.json; default <root>/vocab.txt. */
  vocabFile?: string;
  /** Decode every image (default) or only check that the files exist. */
  decodeImages?: boolean;
  log?: (line: string) => void;
}

export interface LengthStats {
  texts: number;
  min: number;
  median: number;
  p95: number;
  max: number;
  /** Texts longer than maxTextLength (they will be truncated). */
  truncated: number;
  /** Fraction of word pieces that are [UNK]. */
  unkRate: number;
}

export interface DatasetReport {
  name: string;
  counts: Record<string, number>;
  images: { referenced: number; missing: number; corrupt: number };
  tokens?: LengthStats;
  /** Extra facts (answer coverage, label balance, item types). */
  facts: Record<string, string | number>;
  problems: string[];
  /** Problems the readers skipped (the first few, formatted), and how many in all. */
  skipped: { count: number; examples: string[] };
}

export interface ValidationReport {
  root: string;
  vocabFile: string | null;
  datasets: DatasetReport[];
  ok: boolean;
}

/** Share of texts that may be truncated or of pieces that may be [UNK] before it is a problem. */
const MAX_TRUNCATED_FRACTION = 0.05;
const MAX_UNK_RATE = 0.05;
/** VQA evaluation questions whose answer is outside the vocabulary cap the score; below this it is a problem. */
const MIN_ANSWER_COVERAGE = 0.8;
/** An image upscaled more than this factor to the model's short edge is "too small for the backbone". */
const MAX_UPSCALE = 4;

/** What a resolved spec asks `validateData` to check: its datasets, thresholds, text length and image size. */
export function validateOptionsForSpec(spec: Spec, root: string): ValidateOptions {
  return {
    root,
    datasets: datasetsUsed(spec),
    maxCorruptFraction: spec.data.maxCorruptFraction,
    answerVocabSize: spec.finetune.vqa.answerVocabSize,
    maxTextLength: spec.model.encoder.maxTextLength,
    image: spec.model.run.image,
  };
}

export async function validateData(o: ValidateOptions): Promise<ValidationReport> {
  const log = o.log ?? (() => {});
  const root = o.root;
  const reports: DatasetReport[] = [];
  if (!existsSync(root)) {
    return {
      root,
      vocabFile: null,
      ok: false,
      datasets: [emptyReport('root', [`dataset root ${root} does not exist (run \`npx nx run data:synth --scale=<scale>\` for generated data, or point data.root at the real datasets)`])],
    };
  }
  const vocabFile = o.vocabFile ?? join(root, 'vocab.txt');
  let tokenizer: WordPieceTokenizer | null = null;
  const vocabProblems: string[] = [];
  try {
    tokenizer = WordPieceTokenizer.fromFile(vocabFile);
  } catch (e) {
    vocabProblems.push(`no usable vocabulary at ${vocabFile}: ${(e as Error).message} (data:synth writes one; for real data put bert-base-uncased's vocab.txt there or pass --vocab)`);
  }
  if (vocabProblems.length) reports.push(emptyReport('vocabulary', vocabProblems));

  const checker = new ImageChecker(o.image, o.decodeImages ?? true);
  const run = async (name: string, fn: (r: DatasetReport) => Promise<void>): Promise<void> => {
    const r = emptyReport(name, []);
    log(`data:validate: ${name} …`);
    try {
      await fn(r);
    } catch (e) {
      r.problems.push(errorText(e));
    }
    reports.push(r);
  };
  const texts = (r: DatasetReport, all: string[]): void => {
    if (tokenizer) r.tokens = lengthStats(tokenizer, all, o.maxTextLength);
  };
  const imagesOf = async (r: DatasetReport, files: string[]): Promise<void> => {
    const res = await checker.check(files, (done) => log(`data:validate: ${r.name}: ${done}/${files.length} images checked`));
    r.images = { referenced: files.length, missing: res.missing.length, corrupt: res.corrupt.length };
    const bad = [...res.missing.map((f) => `missing image ${f}`), ...res.corrupt.map(([f, m]) => `unusable image: ${m.startsWith(f) ? m : `${f}: ${m}`}`)];
    if (bad.length > o.maxCorruptFraction * files.length) {
      r.problems.push(
        `${bad.length} of ${files.length} images are missing or unusable (${pct(bad.length / files.length)}, allowed ${pct(o.maxCorruptFraction)} by data.maxCorruptFraction); first: ${bad.slice(0, 5).join('; ')}`,
      );
    } else if (bad.length) r.facts['skipped images (within maxCorruptFraction)'] = `${bad.length}: ${bad.slice(0, 3).join('; ')}`;
  };
  const skipped = (r: DatasetReport, ps: Problem[]): void => {
    r.skipped.count += ps.length;
    r.skipped.examples.push(...ps.slice(0, Math.max(0, 5 - r.skipped.examples.length)).map(formatProblem));
  };
  // Readers run with maxBadFraction 1 so that every bad item is listed; the spec's threshold is applied here.
  const readerBadLimit = (r: DatasetReport, bad: number, total: number, what: string): void => {
    if (bad > o.maxCorruptFraction * Math.max(total, 1))
      r.problems.push(`${bad} of ${total} ${what} are bad (${pct(bad / Math.max(total, 1))}, allowed ${pct(o.maxCorruptFraction)}); first: ${r.skipped.examples.slice(0, 3).join('; ')}`);
  };

  // ---- pre-training ---------------------------------------------------------------------------
  if (o.datasets.pretrain.includes('coco')) {
    await run('coco (pre-training captions)', async (r) => {
      const dir = join(root, 'coco');
      const k = readKarpathy(join(dir, 'dataset_coco.json'), { maxBadFraction: 1, imageDir: dir });
      skipped(r, k.skipped);
      const total = k.images.length + k.skipped.length;
      for (const s of ['train', 'restval', 'val', 'test'] as const) r.counts[`images.${s}`] = k.images.filter((i) => i.split === s).length;
      const pre = k.images.filter((i) => i.split === 'train' || i.split === 'restval');
      r.counts['pretrain.images'] = pre.length;
      r.counts['pretrain.captions'] = pre.reduce((n, i) => n + i.sentences.length, 0);
      for (const sub of ['train2014', 'val2014']) {
        const f = join(dir, 'annotations', `captions_${sub}.json`);
        if (!existsSync(f)) {
          r.facts[`captions_${sub}.json`] = 'absent (Karpathy file used)';
          continue;
        }
        const c = readCocoCaptions(f, { maxBadFraction: 1 });
        skipped(r, c.skipped);
        r.counts[`captions_${sub}.captions`] = c.captions.length;
      }
      readerBadLimit(r, k.skipped.length, total, 'Karpathy images');
      if (pre.length === 0) r.problems.push(`${k.file}: no train/restval images, nothing to pre-train on`);
      texts(r, pre.flatMap((i) => i.sentences));
      await imagesOf(r, pre.map((i) => join(dir, i.relPath)));
    });
  }
  if (o.datasets.pretrain.includes('vg')) {
    await run('vg (pre-training region phrases)', async (r) => {
      const dir = join(root, 'vg');
      const vg = readVisualGenome(join(dir, 'region_descriptions.json'), join(dir, 'image_data.json'), { maxBadFraction: 1, imageDir: dir });
      skipped(r, vg.skipped);
      r.counts.images = vg.images.size;
      r.counts.regions = vg.regions.length;
      if (vg.clippedBoxes) r.facts['boxes clipped to their image'] = vg.clippedBoxes;
      readerBadLimit(r, vg.skipped.length, vg.regions.length + vg.skipped.length, 'regions/images');
      texts(r, vg.regions.map((x) => x.phrase));
      await imagesOf(r, [...vg.images.values()].map((i) => join(dir, i.relPath)));
    });
  }

  // ---- fine-tuning ----------------------------------------------------------------------------
  if (o.datasets.finetune.includes('vqa')) {
    await run('vqa', async (r) => {
      const dir = join(root, 'vqa');
      const coco = join(root, 'coco');
      const read = (sub: string) => {
        const imageDir = join(coco, sub);
        // The reader's default COCO naming takes the .jpg (real COCO) or, failing that, the .png
        // of the same name (generated world), as training reads them.
        const ds = readVqa(join(dir, `v2_OpenEnded_mscoco_${sub}_questions.json`), join(dir, `v2_mscoco_${sub}_annotations.json`), {
          maxBadFraction: 1,
          imageDir,
        });
        return { ...ds, files: ds.questions.filter((q) => q.imageFile !== undefined).map((q) => join(imageDir, q.imageFile as string)) };
      };
      const train = read('train2014');
      const val = read('val2014');
      skipped(r, [...train.skipped, ...val.skipped]);
      r.counts['train.questions'] = train.questions.length;
      r.counts['eval(val2014).questions'] = val.questions.length;
      readerBadLimit(r, train.skipped.length + val.skipped.length, train.questions.length + val.questions.length + train.skipped.length + val.skipped.length, 'questions');
      const vocab = buildAnswerVocab(train.questions, { topK: o.answerVocabSize });
      r.counts['answer vocabulary'] = vocab.answers.length;
      const cov = answerCoverage(val.questions, vocab);
      r.facts['eval questions whose answer is in the vocabulary'] = pct(cov.covered);
      r.facts['best achievable eval VQA score with this vocabulary'] = pct(cov.bestScore);
      if (cov.covered < MIN_ANSWER_COVERAGE)
        r.problems.push(`only ${pct(cov.covered)} of evaluation answers are in the ${vocab.answers.length}-answer vocabulary (want ≥ ${pct(MIN_ANSWER_COVERAGE)}); raise finetune.vqa.answerVocabSize or check the answer normalisation`);
      r.facts['answer types (train)'] = histogram(train.questions.map((q) => q.answerType ?? '?'));
      texts(r, [...train.questions, ...val.questions].map((q) => q.question));
      await imagesOf(r, [...new Set([...train.files, ...val.files])]);
    });
  }
  if (o.datasets.finetune.includes('nlvr2')) {
    await run('nlvr2', async (r) => {
      const dir = join(root, 'nlvr2');
      const all: string[] = [];
      const files: string[] = [];
      for (const split of ['train', 'dev', 'test1']) {
        const f = join(dir, 'data', `${split}.json`);
        if (split === 'dev' && !existsSync(f)) continue;
        const imageDir = join(dir, 'images', split);
        const ds = readNlvr2(f, { maxBadFraction: 1, imageDir });
        skipped(r, ds.skipped);
        r.counts[`${split}.pairs`] = ds.items.length;
        readerBadLimit(r, ds.skipped.length, ds.items.length + ds.skipped.length, `${split} items`);
        const trues = ds.items.filter((i) => i.label).length;
        r.facts[`${split} label balance (true)`] = pct(trues / Math.max(1, ds.items.length));
        all.push(...ds.items.map((i) => i.sentence));
        for (const it of ds.items) files.push(join(imageDir, it.images[0]), join(imageDir, it.images[1]));
      }
      texts(r, all);
      await imagesOf(r, [...new Set(files)]);
    });
  }
  if (o.datasets.finetune.includes('retrieval')) {
    await run('retrieval (flickr30k)', async (r) => {
      const dir = join(root, 'flickr30k');
      const imageDir = join(dir, 'flickr30k-images');
      const k = readKarpathy(join(dir, 'dataset_flickr30k.json'), { maxBadFraction: 1, imageDir });
      skipped(r, k.skipped);
      for (const s of ['train', 'val', 'test'] as const) {
        const ims = k.images.filter((i) => i.split === s);
        r.counts[`${s}.images`] = ims.length;
        r.counts[`${s}.captions`] = ims.reduce((n, i) => n + i.sentences.length, 0);
      }
      readerBadLimit(r, k.skipped.length, k.images.length + k.skipped.length, 'images');
      if (!r.counts['test.images']) r.problems.push(`${k.file}: no test split, nothing to evaluate retrieval on`);
      texts(r, k.images.flatMap((i) => i.sentences));
      await imagesOf(r, k.images.map((i) => join(imageDir, i.relPath)));
    });
  }

  for (const r of reports) {
    const t = r.tokens;
    if (!t || t.texts === 0) continue;
    if (t.truncated > MAX_TRUNCATED_FRACTION * t.texts)
      r.problems.push(`${t.truncated} of ${t.texts} texts (${pct(t.truncated / t.texts)}) are longer than maxTextLength ${o.maxTextLength} and will be truncated; raise model.encoder.maxTextLength`);
    if (t.unkRate > MAX_UNK_RATE) r.problems.push(`${pct(t.unkRate)} of word pieces are [UNK] with ${vocabFile}: wrong vocabulary for this text?`);
  }
  return { root, vocabFile: tokenizer ? vocabFile : null, datasets: reports, ok: reports.every((r) => r.problems.length === 0) };
}

function emptyReport(name: string, problems: string[]): DatasetReport {
  return { name, counts: {}, images: { referenced: 0, missing: 0, corrupt: 0 }, facts: {}, problems, skipped: { count: 0, examples: [] } };
}

function errorText(e: unknown): string {
  if (e instanceof DataError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

function histogram(xs: string[]): string {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return [...m.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

export function lengthStats(tok: WordPieceTokenizer, texts: readonly string[], maxTextLength: number): LengthStats {
  const lens: number[] = [];
  let pieces = 0;
  let unk = 0;
  for (const t of texts) {
    const ids = tok.tokenize(t);
    pieces += ids.length;
    for (const p of ids) if (p === '[UNK]') unk++;
    lens.push(ids.length + 2); // + [CLS], [SEP]
  }
  lens.sort((a, b) => a - b);
  const q = (f: number): number => lens[Math.min(lens.length - 1, Math.floor(f * lens.length))] ?? 0;
  return {
    texts: lens.length,
    min: lens[0] ?? 0,
    median: q(0.5),
    p95: q(0.95),
    max: lens.at(-1) ?? 0,
    truncated: lens.filter((l) => l > maxTextLength).length,
    unkRate: pieces ? unk / pieces : 0,
  };
}

/** Share of questions whose majority answer is in the vocabulary, and the VQA score an oracle restricted to it reaches. */
export function answerCoverage(qs: readonly VqaQuestion[], vocab: ReturnType<typeof buildAnswerVocab>): { covered: number; bestScore: number } {
  let covered = 0;
  let best = 0;
  let n = 0;
  for (const q of qs) {
    if (!q.answers) continue;
    n++;
    if (q.multipleChoiceAnswer !== undefined && vocab.index.has(q.multipleChoiceAnswer)) covered++;
    const t = vqaSoftTarget(q.answers, vocab);
    best += t.scores.length ? Math.max(...t.scores) : 0;
  }
  return { covered: n ? covered / n : 0, bestScore: n ? best / n : 0 };
}

/** Decodes each distinct file once with the training pipeline; a bounded number in flight. */
class ImageChecker {
  private readonly done = new Map<string, string | null | 'missing'>();
  constructor(
    private readonly spec: ResizeSpec,
    private readonly decode: boolean,
  ) {}

  async check(files: string[], progress: (done: number) => void): Promise<{ missing: string[]; corrupt: [string, string][] }> {
    const missing: string[] = [];
    const corrupt: [string, string][] = [];
    let next = 0;
    let finished = 0;
    let lastReport = performance.now();
    const worker = async (): Promise<void> => {
      while (next < files.length) {
        const f = files[next++] as string;
        let res = this.done.get(f);
        if (res === undefined) {
          res = await this.one(f);
          this.done.set(f, res);
        }
        if (res === 'missing') missing.push(f);
        else if (res !== null) corrupt.push([f, res]);
        finished++;
        if (performance.now() - lastReport > 5000) {
          lastReport = performance.now();
          progress(finished);
        }
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    missing.sort();
    corrupt.sort(([a], [b]) => (a < b ? -1 : 1));
    return { missing, corrupt };
  }

  private async one(f: string): Promise<string | null | 'missing'> {
    if (!existsSync(f)) return 'missing';
    if (!this.decode) return null;
    try {
      // Too small for the backbone: it would be upscaled more than MAX_UPSCALE× to the short edge.
      await decodeRgb(f, this.spec, { minSourceEdge: Math.ceil(this.spec.shortEdge / MAX_UPSCALE) });
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }
}

/** Human-readable report, one block per dataset. */
export function formatReport(rep: ValidationReport): string {
  const out: string[] = [`data:validate: root ${rep.root}`, `  vocabulary: ${rep.vocabFile ?? '(none)'}`];
  for (const d of rep.datasets) {
    out.push('', `[${d.problems.length ? 'FAIL' : 'ok'}] ${d.name}`);
    for (const [k, v] of Object.entries(d.counts)) out.push(`  ${k.padEnd(40)} ${v}`);
    if (d.images.referenced)
      out.push(`  ${'images referenced / missing / unusable'.padEnd(40)} ${d.images.referenced} / ${d.images.missing} / ${d.images.corrupt}`);
    if (d.tokens) {
      const t = d.tokens;
      out.push(`  ${'token length min/median/p95/max'.padEnd(40)} ${t.min} / ${t.median} / ${t.p95} / ${t.max} (incl. [CLS],[SEP]; ${t.truncated} of ${t.texts} over max; [UNK] ${pct(t.unkRate)})`);
    }
    for (const [k, v] of Object.entries(d.facts)) out.push(`  ${k.padEnd(40)} ${v}`);
    if (d.skipped.count) {
      out.push(`  items the readers skipped: ${d.skipped.count}`);
      for (const e of d.skipped.examples) out.push(`    - ${e}`);
    }
    for (const p of d.problems) out.push(`  PROBLEM: ${p}`);
  }
  const bad = rep.datasets.filter((d) => d.problems.length);
  out.push('', rep.ok ? 'data:validate: OK' : `data:validate: ${bad.reduce((n, d) => n + d.problems.length, 0)} problem(s) in ${bad.map((d) => d.name).join(', ')}`);
  return out.join('\n');
}
