/**
 * eval:attention — a run's text→pixel attention drawn over an image (paper Fig. 3).
 *
 * Weights come from a stage run's artifacts (docs/runs.md: model/weights.safetensors,
 * model/config.json, model/vocab.txt; at paper scale the tag pixelbert.weightsPath). A row run
 * stands for its pretrain stage, else its last stage with weights. The grid is logged as the
 * artifact `attention/<name>.png` of the run named by --run.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ImageError, WordPieceTokenizer, decodeRgb, toFloatRgb } from '@pixel-bert/data';
import { PIXEL_POOL, createPixelBert, disposePixelBert, initBackend, loadCheckpoint, pixelBertForward, textToPixelAttention, type PixelBertConfig } from '@pixel-bert/model';
import { TAGS, type Tracker, type TrackedRun } from '@pixel-bert/tracking';
import { EvalError, getRun, listRunArtifacts, openForReading, readRunArtifact, type TrackerChoice } from '../store';
import { RUN_KINDS, RUN_TAGS } from '../table6/definitions';
import { renderAttentionGrid, type WordMap } from './grid';

export const WEIGHTS_ARTIFACTS = { weights: 'model/weights.safetensors', config: 'model/config.json', vocab: 'model/vocab.txt' } as const;

export interface AttentionOptions extends TrackerChoice {
  runId: string;
  image: string;
  text: string;
  /** Encoder layer, 0-based; default the last. */
  layer?: number;
  /** Head index, or 'mean' over heads (default). */
  head?: number | 'mean';
  /** Log the grid as an artifact of the run (default true). */
  log?: boolean;
}

export interface AttentionResult {
  png: Uint8Array;
  /** The run the weights came from (the stage run). */
  weightsRun: TrackedRun;
  /** The run named by --run, which the grid was logged to. */
  run: TrackedRun;
  artifactPath: string | null;
  words: string[];
  layer: number;
  head: number | 'mean';
  grid: [number, number];
  /** (words, h·w) attention per word over the feature cells, as drawn (before scaling). */
  maps: WordMap[];
}

interface ModelFiles {
  dir: string;
  weights: string;
  config: { pixelBert: PixelBertConfig; image: { shortEdge: number; longEdge: number } };
  vocab: string;
}

async function hasWeights(tracker: Tracker, run: TrackedRun): Promise<boolean> {
  if (run.tags[RUN_TAGS.weightsPath]) return true;
  return (await listRunArtifacts(tracker, run, 'model')).includes(WEIGHTS_ARTIFACTS.weights);
}

/** The run a reused stage was computed by (pixelbert.reusedFrom holds its local store id). */
async function computingRun(tracker: Tracker, run: TrackedRun): Promise<TrackedRun | null> {
  const from = run.tags[RUN_TAGS.reusedFrom];
  if (!from) return null;
  if (tracker.store.listRunIds().includes(from)) return tracker.store.readRun(from).run;
  if (tracker.client) return (await tracker.findRuns({ tags: { [TAGS.localRunId]: from } }))[0] ?? null;
  return null;
}

/** The stage run whose weights stand for `run`: itself (a stage), or a row run's pretrain stage, else its last stage with weights. */
export async function weightsRunFor(tracker: Tracker, run: TrackedRun): Promise<TrackedRun> {
  const kind = run.tags[RUN_TAGS.kind];
  const withWeights = async (r: TrackedRun) => ((await hasWeights(tracker, r)) ? r : await computingRun(tracker, r).then(async (c) => (c && (await hasWeights(tracker, c)) ? c : null)));
  if (kind === RUN_KINDS.row) {
    const children = (await tracker.findRuns({ tags: { [TAGS.parentRunId]: run.runId }, ...(run.store === 'local' ? { source: 'local' as const } : {}) })).filter(
      (c) => c.tags[RUN_TAGS.kind] === RUN_KINDS.stage,
    );
    const pretrain = children.find((c) => c.tags[TAGS.stage] === 'pretrain');
    const candidates = [...(pretrain ? [pretrain] : []), ...children.filter((c) => c !== pretrain).sort((a, b) => b.startTime - a.startTime)];
    for (const c of candidates) {
      const w = await withWeights(c);
      if (w) return w;
    }
    throw new EvalError(
      `row run ${run.runName} (${run.runId}) has no stage with weights: looked for ${WEIGHTS_ARTIFACTS.weights} on its ${children.length} stage run(s) ` +
        `(${children.map((c) => c.tags[TAGS.stage]).join(', ') || 'none'}). Stages log weights at smoke and small scale (docs/runs.md).`,
    );
  }
  const w = await withWeights(run);
  if (w) return w;
  throw new EvalError(`run ${run.runName} (${run.runId}) has no weights: no artifact ${WEIGHTS_ARTIFACTS.weights} and no tag ${RUN_TAGS.weightsPath} (docs/runs.md)`);
}

async function fetchModel(tracker: Tracker, run: TrackedRun): Promise<ModelFiles> {
  const dir = mkdtempSync(join(tmpdir(), 'pixel-bert-attention-'));
  const fetchOne = async (path: string) => {
    const file = join(dir, path.split('/').pop()!);
    writeFileSync(file, await readRunArtifact(tracker, run, path));
    return file;
  };
  try {
    let weights: string;
    const local = run.tags[RUN_TAGS.weightsPath];
    if (local) {
      if (!existsSync(local)) throw new EvalError(`run ${run.runName} (${run.runId}): its weights file ${local} (tag ${RUN_TAGS.weightsPath}) is not on this machine`);
      weights = local;
    } else weights = await fetchOne(WEIGHTS_ARTIFACTS.weights);
    const configFile = await fetchOne(WEIGHTS_ARTIFACTS.config);
    const vocab = await fetchOne(WEIGHTS_ARTIFACTS.vocab);
    let config: ModelFiles['config'];
    try {
      config = JSON.parse(readFileSync(configFile, 'utf8'));
    } catch (e) {
      throw new EvalError(`run ${run.runId}: ${WEIGHTS_ARTIFACTS.config} is not JSON (${(e as Error).message})`);
    }
    if (!config?.pixelBert || !config.image?.shortEdge || !config.image?.longEdge) {
      throw new EvalError(`run ${run.runId}: ${WEIGHTS_ARTIFACTS.config} must hold { "pixelBert": PixelBertConfig, "image": { "shortEdge", "longEdge" } } (docs/runs.md)`);
    }
    return { dir, weights, config, vocab };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Appends an artifact to a finished run of the local store, in the journal format of
 * docs/tracking.md (the file first, written whole; then one `artifact` event with the next seq),
 * so that `tracking:sync` delivers it like any other.
 */
function appendLocalArtifact(tracker: Tracker, runId: string, path: string, bytes: Uint8Array): void {
  const record = tracker.store.readRun(runId);
  if (record.tornTail) throw new EvalError(`run ${runId}: its journal ends in a torn line; not appending to it`);
  const file = tracker.store.artifactFile(runId, path);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const journal = join(tracker.store.runDir(runId), 'journal.jsonl');
  appendFileSync(journal, JSON.stringify({ seq: record.events.length, type: 'artifact', path, size: bytes.length, sha256 }) + '\n');
}

/** Logs the grid on the run: uploaded to the server for a server run, appended to the journal for a local one. */
async function logOnRun(tracker: Tracker, run: TrackedRun, path: string, png: Uint8Array): Promise<void> {
  if (run.store === 'server') {
    const { info } = await tracker.client!.getRun(run.runId);
    await tracker.client!.uploadArtifact(info.artifactUri, path, png);
  } else appendLocalArtifact(tracker, run.runId, path, png);
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'text';
}

export async function attention(opts: AttentionOptions): Promise<AttentionResult> {
  if (!existsSync(opts.image)) throw new EvalError(`--image=${opts.image}: no such file (give the path of a JPEG or PNG image)`);
  if (!statSync(opts.image).isFile()) throw new EvalError(`--image=${opts.image}: is a folder, not an image file`);
  if (opts.text.trim() === '') throw new EvalError('--text is empty: give the sentence whose words to draw, e.g. --text="a red circle"');
  const { tracker } = await openForReading(opts);
  const run = await getRun(tracker, opts.runId);
  const weightsRun = await weightsRunFor(tracker, run);
  const files = await fetchModel(tracker, weightsRun);
  try {
    const cfg = files.config.pixelBert;
    const tokenizer = WordPieceTokenizer.fromVocabFile(files.vocab);
    const words = tokenizer.words(opts.text);
    const enc = tokenizer.encode(opts.text, { maxLength: cfg.maxTextLength });
    const known = enc.ids.filter((id, t) => enc.wordIds[t] !== null && id !== tokenizer.unkId);
    if (known.length === 0) {
      throw new EvalError(
        `--text="${opts.text}": none of its words is in the vocabulary of run ${weightsRun.runName} (${WEIGHTS_ARTIFACTS.vocab}, ${tokenizer.vocabSize} tokens); every word became [UNK]. Use words of the training captions.`,
      );
    }
    const layers = cfg.layers;
    const layer = opts.layer ?? layers - 1;
    if (!(Number.isInteger(layer) && layer >= 0 && layer < layers)) throw new EvalError(`--layer=${opts.layer}: the model has layers 0…${layers - 1}`);
    const head = opts.head ?? 'mean';
    if (head !== 'mean' && !(Number.isInteger(head) && head >= 0 && head < cfg.heads)) throw new EvalError(`--head=${opts.head}: the model has heads 0…${cfg.heads - 1} (or 'mean')`);

    let decoded: Awaited<ReturnType<typeof decodeRgb>>;
    try {
      decoded = await decodeRgb(opts.image, files.config.image);
    } catch (e) {
      if (e instanceof ImageError) throw new EvalError(`--image=${opts.image}: not an image this workbench can read (${e.message.replace(`${opts.image}: `, '')}); give a JPEG or PNG`);
      throw e;
    }
    await initBackend({ quiet: true });
    const model = createPixelBert(cfg);
    try {
      try {
        loadCheckpoint(files.weights, model.params);
      } catch (e) {
        throw new EvalError(`run ${weightsRun.runName} (${weightsRun.runId}): its weights do not load into the model its config describes: ${(e as Error).message}`);
      }
      const { width, height } = decoded;
      const T = enc.ids.length;
      const { probs, grid, cells } = tf.tidy(() => {
        const images = tf.tensor4d(toFloatRgb(decoded.rgb), [1, height, width, 3]);
        const ids = tf.tensor2d(enc.ids, [1, T], 'int32');
        const mask = tf.tensor2d(enc.attentionMask, [1, T], 'int32');
        const out = pixelBertForward(model, images, undefined, ids, mask, { training: false, returnAttention: true });
        const a = out.attentions![layer]!; // (1, nh, T+k, T+k)
        const k = a.shape[3] - T;
        const chosen =
          head === 'mean'
            ? textToPixelAttention(out, layer) // (1, T, k), averaged over heads
            : a.slice([0, head, 0, T], [1, 1, T, k]).squeeze([1]); // one head's text → pixel rows: (1, T, k)
        return { probs: chosen.arraySync() as number[][][], grid: out.pixels.grid, cells: Array.from(out.pixels.selection.indices) };
      });
      const [h, w] = grid;
      // Each word: the mean over its word pieces of their attention rows, placed on the grid.
      const maps: WordMap[] = words.map((word, wi) => {
        const pieces = enc.wordIds.map((id, t) => (id === wi ? t : -1)).filter((t) => t >= 0);
        const weights = new Float32Array(h * w).fill(NaN);
        if (pieces.length === 0) return { word: `${word} (truncated)`, weights };
        cells.forEach((cell, j) => {
          weights[cell] = pieces.reduce((s, t) => s + probs[0]![t]![j]!, 0) / pieces.length;
        });
        const unk = pieces.every((t) => enc.ids[t] === tokenizer.unkId);
        return { word: unk ? `${word} [UNK]` : word, weights };
      });
      const stride = model.backbone.c5Stride * PIXEL_POOL;
      const png = await renderAttentionGrid({
        rgb: decoded.rgb,
        width,
        height,
        grid: [h, w],
        stride,
        maps,
        title: `${weightsRun.runName} · layer ${layer} · head ${head} · "${opts.text}"`,
      });
      let artifactPath: string | null = null;
      if (opts.log !== false) {
        artifactPath = `attention/${slug(opts.text)}-l${layer}-${head === 'mean' ? 'mean' : `h${head}`}.png`;
        await logOnRun(tracker, run, artifactPath, png);
      }
      return { png, weightsRun, run, artifactPath, words, layer, head, grid: [h, w], maps };
    } finally {
      disposePixelBert(model);
    }
  } finally {
    rmSync(files.dir, { recursive: true, force: true });
  }
}
