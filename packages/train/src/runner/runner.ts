// The runner: what every stage shares (DESIGN.md) — the run cache, the model and its initial
// weights, the optimisers and schedule (warm-up, step decay, clipping, accumulation), checkpoints and
// resume, tracking, progress, signals and NaN checks. A stage's file holds only its math.
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  PIXEL_POOL,
  backendInfo,
  createPixelBert,
  disposePixelBert,
  importBertSafetensors,
  importTorchvisionBackbone,
  loadPart,
  parameterGroups,
  pixelBertConfigFor,
  saveCheckpoint,
  type PixelBert,
  type PixelBertConfig,
} from '@pixel-bert/model';
import type { RunHandle, Tracker } from '@pixel-bert/tracking';
import { createOptimizers, lrAt, type PaperOptimizers } from '../optim/index';
import type { CachedStage, RunCache } from './cache';
import { hasCheckpoint, loadTrainState, lockStage, removeCheckpoints, saveTrainState, type TrainPosition } from './checkpoint';
import { stageHash, codeVersion, computedBy } from './hash';
import { DataParallel, syncVariables } from './data-parallel';
import { batchImages, chunks, imageTensors, openImageStore, sliceBatch, type ImageStore } from './images';
import { checkpointDir } from './paths';
import { Progress } from './progress';
import { Interrupted, StageFailed, stopState } from './signals';
import type { Evaluator, InitSource, PreparedStage, StageContext, StageDef } from './types';
export type { InitSource } from './types';


export interface PlannedStage {
  def: StageDef;
  hash: string;
  init: InitSource[];
}

/** The stage hash: its spec part, where its weights start, its seed, the code version. */
export function planStage(def: StageDef, ctx: StageContext, init: InitSource[]): PlannedStage {
  const parents = init.map((s) => (s.kind === 'stage' ? `stage:${s.hash}` : s.kind === 'none' ? `none:${s.part}` : `${s.kind}:${s.file}`));
  // The backend (and TensorFlow's thread count) is part of what computed a stage: its numbers differ
  // in the last bits from another's.
  const backend = computedBy(backendInfo()?.name ?? 'none');
  return { def, init, hash: stageHash({ kind: def.kind, spec: def.specPart(ctx.spec), parents, seed: def.seed(ctx.spec), code: `${codeVersion()}/${backend}` }) };
}

export interface StageRunOptions {
  planned: PlannedStage;
  prepared: PreparedStage;
  ctx: StageContext;
  vocabSize: number;
  tracker: Tracker;
  /** The row's run (in another process when a helper runs the stage). */
  parentRun: Pick<RunHandle, 'id'>;
  runName: string;
  /** Tags every run of the row carries (row, seed, scale, spec hash, code version, backend). */
  tags: Record<string, string>;
  cache: RunCache;
  force: boolean;
  /** Upload weights as artifacts (smoke/small) or only record their path (paper). */
  uploadWeights: boolean;
  tty: boolean;
  write: (s: string) => void;
  /** Processes sharing each optimiser step (`trainer.dataParallel`; 1 when other stages run beside it). */
  dataParallel?: number;
}

export interface StageResult {
  kind: string;
  hash: string;
  metrics: Record<string, number>;
  weights: string | null;
  seconds: number;
  reused: boolean;
  runId: string;
}

/** The model a stage trains, as the spec builds it, with that stage's heads. */
export function stageModelConfig(def: StageDef, ctx: StageContext, vocabSize: number): PixelBertConfig {
  const heads = def.heads(ctx.spec);
  return pixelBertConfigFor(ctx.spec.model, { vocabSize, taskHeads: heads, ...(heads.includes('vqa') ? { answerVocabSize: ctx.spec.finetune.vqa.answerVocabSize } : {}) });
}

/** Loads the stage's initial weights (init stages' outputs, a pre-trained stage's trunk, imported files). */
export function loadInitialWeights(model: PixelBert, init: readonly InitSource[]): string[] {
  const done: string[] = [];
  for (const s of init) {
    if (s.kind === 'stage') {
      const prefixes = s.prefixes.filter((p) => [...model.params.keys()].some((n) => n.startsWith(p)));
      if (prefixes.length === 0) continue;
      const { loaded } = loadPart(s.weights, model.params, prefixes);
      done.push(`${loaded} tensors (${prefixes.join(' ')}) from ${s.stage}`);
    } else if (s.kind === 'torchvision') {
      const r = importTorchvisionBackbone(model.backbone, s.file);
      done.push(`${r.loaded} backbone tensors from ${s.file}`);
    } else if (s.kind === 'bert') {
      const r = importBertSafetensors(model.params, s.file);
      done.push(`BERT weights from ${s.file} (${JSON.stringify(r).slice(0, 80)})`);
    }
  }
  return done;
}

/**
 * The variables a stage trains, by optimiser group: what `def.trains` names, less the parts its
 * schedule freezes (`<stage>.freeze`), plus its extra parameters (a stand-in stage's classifier).
 */
export function trainedVariables(def: StageDef, spec: StageContext['spec'], model: PixelBert, extra: Map<string, tf.Variable>): { cnn: tf.Variable[]; transformer: tf.Variable[] } {
  const g = parameterGroups(model);
  const which = def.trains(spec);
  let cnn: tf.Variable[] = [];
  let transformer: tf.Variable[] = [];
  if (which === 'all') [cnn, transformer] = [g.cnn, g.transformer];
  else if (which === 'transformer') transformer = g.transformer;
  else if (which === 'backbone') cnn = g.cnn;
  else transformer = g.transformer.filter((v) => /^(embeddings|encoder|cls)\./.test(v.name));
  // Extra parameters train with the group of what they sit on.
  (which === 'backbone' ? cnn : transformer).push(...[...extra.values()].filter((v) => v.trainable));
  const frozen = (def.schedule(spec).freeze ?? []).map((part) => `${part}.`);
  const keep = (v: tf.Variable) => !frozen.some((p) => v.name.startsWith(p));
  return { cnn: cnn.filter(keep), transformer: transformer.filter(keep) };
}

/** The images a stage reads, at its image size, as its model's pixel grid needs them collated. */
export function openStageImages(def: StageDef, spec: StageContext['spec'], prepared: PreparedStage, model: PixelBert, log: (line: string) => void): Promise<ImageStore> {
  return openImageStore(prepared.files, def.imageSize(spec), {
    cacheMB: spec.trainer.imageCacheMB,
    sizeDivisor: model.backbone.c5Stride * PIXEL_POOL,
    maxBadFraction: spec.data.maxCorruptFraction,
    log,
    ...(prepared.memoryImages ? { memory: prepared.memoryImages } : {}),
  });
}

function optimisersFor(def: StageDef, ctx: StageContext, model: PixelBert, extra: Map<string, tf.Variable>): { opt: PaperOptimizers; cnn: tf.Variable[]; transformer: tf.Variable[] } {
  const { cnn, transformer } = trainedVariables(def, ctx.spec, model, extra);
  return { opt: createOptimizers(ctx.spec.optim, { cnn, transformer }), cnn, transformer };
}

/** Runs one stage, or takes it from the run cache. */
export async function runStage(o: StageRunOptions): Promise<StageResult> {
  const { def, hash } = o.planned;
  const stageTags = { ...o.tags, 'pixelbert.kind': 'stage', 'pixelbert.stage': def.kind, 'pixelbert.stageHash': hash };
  const cached = o.force ? null : o.cache.get(hash);
  if (cached) return reuse(o, cached, stageTags);

  const ckptDir = path.join(checkpointDir(), hash);
  const unlock = await lockStage(ckptDir, def.kind);
  try {
    // another process may have finished it while this one waited
    const done = o.force ? null : o.cache.get(hash);
    if (done) return await reuse(o, done, stageTags);
    return await trainStage(o, ckptDir);
  } finally {
    unlock();
  }
}

async function trainStage(o: StageRunOptions, ckptDir: string): Promise<StageResult> {
  const { planned, prepared, ctx } = o;
  const { def, hash } = planned;
  const spec = ctx.spec;
  const stageTags = { ...o.tags, 'pixelbert.kind': 'stage', 'pixelbert.stage': def.kind, 'pixelbert.stageHash': hash };
  const t0 = performance.now();
  const config = stageModelConfig(def, ctx, o.vocabSize);
  const seed = def.seed(spec);
  const model = createPixelBert(config, seed);
  const extra = def.extraParams?.(spec, model) ?? new Map<string, tf.Variable>();
  const { opt, cnn, transformer } = optimisersFor(def, ctx, model, extra);
  const cnnNames = new Set(cnn.map((v) => v.name));
  const trainVars = [...cnn, ...transformer];
  let pos: TrainPosition = { epoch: 0, step: 0, globalStep: 0, seconds: 0, runIds: [], val: [] };
  let run: RunHandle | null = null;
  let progress: Progress | null = null;
  // gradient workers build the stage while this process loads its weights and images
  const processes = o.dataParallel ?? 1;
  const starting = processes > 1 ? DataParallel.start({ spec, root: ctx.root, hash, count: processes }, (l) => process.stderr.write(`${l}\n`)) : null;
  starting?.catch(() => {}); // awaited below
  let dp: DataParallel | null = null;
  try {
    const resumed = hasCheckpoint(ckptDir);
    if (resumed) {
      pos = loadTrainState(ckptDir, hash, model.params, extra, opt);
      ctx.log(`${def.kind}: resuming from the checkpoint at epoch ${pos.epoch + 1}, step ${pos.step} (${ckptDir})`);
    } else {
      for (const line of loadInitialWeights(model, planned.init)) ctx.log(`${def.kind}: initialised ${line}`);
      for (const line of def.seedHeads?.(model, planned.init) ?? []) ctx.log(`${def.kind}: initialised ${line}`);
    }
    const store = await openStageImages(def, spec, prepared, model, ctx.log);
    run = o.tracker.startRun({
      runName: o.runName,
      parentRunId: o.parentRun.id,
      tags: { ...stageTags, ...(pos.runIds.length ? { 'pixelbert.resumedFrom': pos.runIds.join(',') } : {}) },
    });
    const sched = def.schedule(spec);
    const base = def.learningRates(spec);
    // a stage's own learning rates (finetune.<task>.lr, pretrain.lr) replace the optim section's
    const lr = { cnn: sched.lr?.cnn ?? base.cnn, transformer: sched.lr?.transformer ?? base.transformer };
    run.logParams({
      ...Object.fromEntries(Object.entries(prepared.describe).map(([k, v]) => [`data.${k}`, v])),
      'stage.epochs': sched.epochs,
      'stage.batchSize': sched.batchSize,
      'stage.decayEpochs': JSON.stringify(sched.decayEpochs),
      'stage.lr.cnn': lr.cnn,
      'stage.lr.transformer': lr.transformer,
      'stage.trains': def.trains(spec),
      'stage.freeze': (sched.freeze ?? []).join(',') || 'none',
      'stage.parameters.trained': trainVars.reduce((n, v) => n + v.size, 0),
      'stage.images': store.describe,
    });
    pos.runIds.push(run.id);

    const stepsPerEpoch = Math.ceil(prepared.trainExamples / sched.batchSize);
    const totalSteps = stepsPerEpoch * sched.epochs;
    const evaluator: Evaluator = {
      model,
      extra,
      spec,
      log: ctx.log,
      images: async (ix) => imageTensors(await store.batch(ix)),
    };
    const save = () => saveTrainState(ckptDir, hash, model.params, extra, opt, pos);
    progress = new Progress(`[${def.kind}]`, totalSteps, pos.globalStep, { tty: o.tty, logEvery: spec.trainer.logEvery, write: o.write });
    const secondsSoFar = pos.seconds;
    /** Wall seconds of the stage: earlier attempts' and this one's (its set-up included). */
    const elapsed = () => secondsSoFar + (performance.now() - t0) / 1000;
    const accumulation = spec.optim.accumulation;
    dp = starting ? await starting : null;
    const sync = dp ? { trained: trainVars, ...syncVariables(model, extra, trainVars) } : null;
    if (dp) ctx.log(`${def.kind}: each step's ${accumulation} micro-batches shared by ${dp.processes} processes (trainer.dataParallel)`);
    while (pos.epoch < sched.epochs) {
      const decay = (base: number) => lrAt({ base, decayEpochs: sched.decayEpochs, factor: spec.optim.decayFactor }, pos.epoch);
      for (; pos.step < stepsPerEpoch; pos.step++) {
        const ts = performance.now();
        const warm = spec.optim.warmupSteps > 0 ? Math.min(1, (pos.globalStep + 1) / spec.optim.warmupSteps) : 1;
        const rates = { cnn: decay(lr.cnn) * warm, transformer: decay(lr.transformer) * warm };
        const batch = prepared.batch({ seed, epoch: pos.epoch, step: pos.step }, sched.batchSize);
        const s = { model, extra, seed, step: pos.globalStep, spec };
        const { loss, parts, grads } = dp ? await dp.accumulate(def, pos, batch, accumulation, store, sync!, s) : await accumulate(def, batch, accumulation, store, trainVars, s);
        if (!Number.isFinite(loss)) {
          for (const g of Object.values(grads)) g.dispose();
          throw new StageFailed(`${def.kind}: the loss is ${loss} at epoch ${pos.epoch + 1}, step ${pos.step} (optimiser step ${pos.globalStep}); nothing of that step was applied`);
        }
        const norm = clipGradients(grads, spec.optim.clipGradNorm);
        const cnnGrads: Record<string, tf.Tensor> = {};
        const trGrads: Record<string, tf.Tensor> = {};
        for (const [k, g] of Object.entries(grads)) (cnnNames.has(k) ? cnnGrads : trGrads)[k] = g;
        opt.cnn.step(cnnGrads, rates.cnn);
        opt.transformer.step(trGrads, rates.transformer);
        for (const g of Object.values(grads)) g.dispose();
        pos.globalStep++;
        const samplesPerS = batch.examples / ((performance.now() - ts) / 1000);
        run.logMetrics(
          {
            'train.loss': loss,
            ...Object.fromEntries(Object.entries(parts).map(([k, v]) => [`train.loss.${k}`, v])),
            'train.lr.cnn': rates.cnn,
            'train.lr.transformer': rates.transformer,
            'train.grad_norm': norm,
            'train.samples_per_s': samplesPerS,
            // Live tensors after the step: flat across steps unless something leaks.
            'train.num_tensors': tf.memory().numTensors,
            'train.rss_mb': Math.round(process.memoryUsage.rss() / 2 ** 20),
          },
          pos.globalStep,
        );
        progress.update(pos.globalStep, { epoch: pos.epoch, epochs: sched.epochs, loss, samplesPerS });
        // Let the event loop run: a signal's handler and the tracker's delivery to a server are
        // macrotasks, which a loop awaiting only resolved promises would never reach.
        await new Promise((resolve) => setImmediate(resolve));
        const last = pos.step + 1 === stepsPerEpoch;
        if (stopState.requested || (!last && pos.globalStep % spec.trainer.checkpointEvery === 0)) {
          pos.step++;
          pos.seconds = elapsed();
          save();
          pos.step--;
          if (stopState.requested) throw new Interrupted(stopState.requested);
        }
      }
      progress.end();
      const val = await prepared.validate(evaluator);
      run.logMetrics(Object.fromEntries(Object.entries(val).map(([k, v]) => [`val.${k}`, v])), pos.globalStep);
      ctx.log(`${def.kind}: epoch ${pos.epoch + 1}/${sched.epochs} validation: ${formatMetrics(val)}`);
      pos.val.push(val);
      pos.epoch++;
      pos.step = 0;
      pos.seconds = elapsed();
      save();
      if (stopState.requested) throw new Interrupted(stopState.requested);
    }
    if (dp) ctx.log(`${def.kind}: data parallelism, ${dp.summary()}`);
    const metrics: Record<string, number> = prepared.test ? await prepared.test(evaluator) : {};
    if (def.kind === 'pretrain') for (const [k, v] of Object.entries(pos.val.at(-1) ?? {})) metrics[`pretrain.val.${k}`] = v;
    metrics[`${def.kind}.seconds`] = Math.round(elapsed());
    // The process's peak resident memory so far (a row's stages run in one process, so it only grows).
    metrics[`${def.kind}.peak_rss_mb`] = Math.round(process.resourceUsage().maxRSS / 1024);
    run.logMetrics(metrics, pos.globalStep);
    if (Object.keys(metrics).length) ctx.log(`${def.kind}: ${formatMetrics(metrics)}`);

    const stageDir = o.cache.stageDir(hash);
    const weights = path.join(stageDir, 'weights.safetensors');
    saveCheckpoint(weights, model.params, { stage: def.kind, stageHash: hash });
    if (o.uploadWeights) {
      run.logArtifact('model/weights.safetensors', weights);
      run.logText('model/config.json', JSON.stringify({ pixelBert: config, image: def.imageSize(spec) }, null, 2));
      run.logArtifact('model/vocab.txt', path.join(ctx.root, 'vocab.txt'));
    } else {
      run.setTag('pixelbert.weightsPath', weights);
    }
    const result: CachedStage = { stageHash: hash, kind: def.kind, runId: run.id, metrics, seconds: metrics[`${def.kind}.seconds`]!, finishedAt: new Date().toISOString(), weights };
    o.cache.put(result);
    writeFileSync(path.join(stageDir, 'stage.json'), JSON.stringify({ kind: def.kind, runName: o.runName, config, init: planned.init }, null, 2) + '\n');
    removeCheckpoints(ckptDir);
    await run.end('FINISHED');
    return { kind: def.kind, hash, metrics, weights, seconds: result.seconds, reused: false, runId: run.id };
  } catch (e) {
    progress?.end();
    if (run) {
      if (e instanceof Interrupted) {
        await run.end('KILLED');
      } else {
        run.setTag('pixelbert.error', String((e as Error).message).slice(0, 4000));
        await run.end('FAILED');
      }
    }
    throw e;
  } finally {
    await (dp ?? (await starting?.catch(() => null)))?.close();
    opt.cnn.dispose();
    opt.transformer.dispose();
    for (const v of extra.values()) v.dispose();
    disposePixelBert(model);
  }
}

async function reuse(o: StageRunOptions, cached: CachedStage, tags: Record<string, string>): Promise<StageResult> {
  o.ctx.log(`${cached.kind}: reused from the run cache (stage ${cached.stageHash}, computed by run ${cached.runId} on ${cached.finishedAt}; --force recomputes)`);
  const run = o.tracker.startRun({ runName: o.runName, parentRunId: o.parentRun.id, tags: { ...tags, 'pixelbert.reusedFrom': cached.runId } });
  const metrics = { ...cached.metrics, [`${cached.kind}.seconds`]: 0 };
  run.logMetrics(metrics, 0);
  await run.end('FINISHED');
  return { kind: cached.kind, hash: cached.stageHash, metrics, weights: cached.weights, seconds: 0, reused: true, runId: run.id };
}

/**
 * One optimiser step's gradients over `accumulation` micro-batches: each micro-batch's loss is
 * weighted by its share of the batch's examples and the gradients are summed, so the update is that
 * of the whole batch (for per-example means) while only a micro-batch is in memory at a time.
 */
export async function accumulate(
  def: StageDef,
  batch: import('./types').StepBatch,
  accumulation: number,
  store: ImageStore,
  vars: tf.Variable[],
  s: { model: PixelBert; extra: Map<string, tf.Variable>; seed: number; step: number; spec: import('@pixel-bert/spec').Spec },
  share?: { index: number; count: number },
): Promise<{ loss: number; parts: Record<string, number>; grads: Record<string, tf.Tensor>; microBatches: number }> {
  const grads: Record<string, tf.Tensor> = {};
  const parts: Record<string, number> = {};
  let loss = 0;
  const pieces = chunks(batch.examples, accumulation);
  // data parallelism: this process's contiguous share of the micro-batches (possibly none)
  const [from, to] = share ? shareOf(pieces.length, share.index, share.count) : [0, pieces.length];
  for (const [i, [a, z]] of pieces.entries()) {
    if (i < from || i >= to) continue;
    const mb = pieces.length === 1 ? batch : sliceBatch(batch, a, z);
    const weight = (z - a) / batch.examples;
    const images = mb.imageIndex.length ? await batchImages(store, mb) : null; // text-only stages have none
    try {
      const kept: Record<string, tf.Scalar> = {};
      const r = tf.tidy(() =>
        tf.variableGrads(() => {
          const out = def.loss({ ...s, batch: mb, images, training: true, step: s.step * accumulation + i });
          for (const [k, v] of Object.entries(out.parts)) kept[k] = tf.keep(v);
          return tf.mul(out.total, weight) as tf.Scalar;
        }, vars),
      );
      loss += r.value.dataSync()[0]!;
      r.value.dispose();
      for (const [k, v] of Object.entries(kept)) {
        parts[k] = (parts[k] ?? 0) + weight * v.dataSync()[0]!;
        v.dispose();
      }
      for (const [k, g] of Object.entries(r.grads)) {
        const prev = grads[k];
        grads[k] = prev ? tf.add(prev, g) : g;
        if (prev) {
          prev.dispose();
          g.dispose();
        }
      }
    } finally {
      images?.images.dispose();
      images?.mask.dispose();
    }
  }
  return { loss, parts, grads, microBatches: to - from };
}

/** Micro-batches [from, to) of `n` that process `index` of `count` computes (contiguous, in order; may be empty). */
export function shareOf(n: number, index: number, count: number): [number, number] {
  return [Math.floor((index * n) / count), Math.floor(((index + 1) * n) / count)];
}

/** Scales the gradients in place so that their global norm is at most `max` (0: off); returns the norm before. */
function clipGradients(grads: Record<string, tf.Tensor>, max: number): number {
  const norm = tf.tidy(() => Math.sqrt(Object.values(grads).reduce((acc: tf.Tensor, g) => tf.add(acc, tf.sum(tf.square(g))), tf.scalar(0)).dataSync()[0]!));
  if (max > 0 && norm > max) {
    for (const k of Object.keys(grads)) {
      const g = grads[k]!;
      grads[k] = tf.mul(g, max / (norm + 1e-6));
      g.dispose();
    }
  }
  return norm;
}

export function formatMetrics(m: Record<string, number>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(2)}`)
    .join(', ');
}
