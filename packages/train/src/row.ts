// One row of Table 6 for one seed: the stage graph (DESIGN.md), a parent run, a child run per stage.
//
//   init-backbone ─┐  (paper: imported ImageNet / BERT weights instead)
//   init-text ─────┼─► pretrain (the row's MLM/ITM; skipped in row 1) ─┬─► vqa
//                  └─────────────── (row 1: straight from init) ───────┼─► nlvr2
//                                                                      └─► retrieval
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WordPieceTokenizer } from '@pixel-bert/data';
import { createPixelBert, disposePixelBert, initBackend } from '@pixel-bert/model';
import { WORKSPACE_ROOT, type ResolvedSpec, type Spec } from '@pixel-bert/spec';
import { TAGS, openTracker, type RunHandle } from '@pixel-bert/tracking';
import { RunCache } from './runner/cache';
import { dataParallelOf } from './runner/data-parallel';
import { countFromEnv } from './runner/env';
import { codeVersion } from './runner/hash';
import { checkpointDir, trackingDir } from './runner/paths';
import { loadInitialWeights, planStage, runStage, stageModelConfig, type InitSource, type PlannedStage, type StageResult } from './runner/runner';
import { Interrupted, installStopHandlers, type StopSignal } from './runner/signals';
import { StageProcess, runOnLanes, stageWaves } from './runner/stage-process';
import type { PreparedStage, StageContext, StageKind } from './runner/types';
import { StageInputError } from './stages/common';
import { prepareData } from './stages/data';
import { initBackbone } from './stages/init-backbone';
import { initText } from './stages/init-text';
import { nlvr2 } from './stages/nlvr2';
import { pretrain } from './stages/pretrain';
import { retrieval } from './stages/retrieval';
import { vqa } from './stages/vqa';

export const DEFAULT_EXPERIMENT = 'pixel-bert';

export interface RowOptions {
  resolved: ResolvedSpec;
  experiment?: string;
  /** Recompute stages found in the run cache. */
  force?: boolean;
  /** Only the shared initialisation stages (what `train:init` runs). */
  initOnly?: boolean;
  /** Only this stage and those it starts from (a partial row: its parent run is `pixelbert.kind=row-part`, which Table 6 does not read). */
  until?: StageKind;
  log?: (line: string) => void;
  write?: (s: string) => void;
  tty?: boolean;
}

export interface RowResult {
  parentRunId: string | null;
  runName: string;
  metrics: Record<string, number>;
  stages: StageResult[];
  /** The row was finished before: nothing ran. */
  alreadyDone: boolean;
}

export function rowRunName(spec: Spec): string {
  return `row${spec.row ?? 'x'}-seed${spec.seed}-${spec.scale}`;
}

/** Where a part's initial weights come from, as the spec says (`model.init`). */
function initSource(spec: Spec, part: 'backbone' | 'text', cache: RunCache, planned: PlannedStage | null): InitSource {
  const v = spec.model.init[part];
  if (v === 'none') return { kind: 'none', part };
  if (v === 'stage') {
    const p = planned!;
    return { kind: 'stage', stage: p.def.kind, hash: p.hash, weights: path.join(cache.stageDir(p.hash), 'weights.safetensors'), prefixes: p.def.provides };
  }
  const file = path.resolve(WORKSPACE_ROOT, v.replace('{arch}', spec.model.run.arch));
  if (!existsSync(file)) {
    throw new StageInputError(`model.init.${part}: ${file} does not exist (a ${part === 'backbone' ? 'torchvision state dict' : 'Hugging Face BERT'} as safetensors; 'stage' trains the built-in stand-in instead, 'none' starts from random weights)`);
  }
  return { kind: part === 'backbone' ? 'torchvision' : 'bert', file };
}

/** The row's stages in the order they run, each with its hash and where its weights start. */
export function planRow(spec: Spec, ctx: StageContext, cache: RunCache, initOnly = false): PlannedStage[] {
  const out: PlannedStage[] = [];
  const initB = spec.model.init.backbone === 'stage' ? planStage(initBackbone, ctx, []) : null;
  const initT = spec.model.init.text === 'stage' ? planStage(initText, ctx, []) : null;
  if (initB) out.push(initB);
  if (initT) out.push(initT);
  if (initOnly) return out;
  const base = [initSource(spec, 'backbone', cache, initB), initSource(spec, 'text', cache, initT)];
  let downstream = base;
  if (spec.pretrain.tasks.mlm || spec.pretrain.tasks.itm) {
    const p = planStage(pretrain, ctx, base);
    out.push(p);
    downstream = [{ kind: 'stage', stage: 'pretrain', hash: p.hash, weights: path.join(cache.stageDir(p.hash), 'weights.safetensors'), prefixes: pretrain.provides }];
  }
  for (const def of [vqa, nlvr2, retrieval]) out.push(planStage(def, ctx, downstream));
  return out;
}

/** The stage `kind` and every stage it starts from, in the plan's order. */
export function planUntil(plan: readonly PlannedStage[], kind: StageKind): PlannedStage[] {
  const target = plan.find((p) => p.def.kind === kind);
  if (!target) throw new StageInputError(`--until=${kind}: this row has no ${kind} stage (its stages: ${plan.map((p) => p.def.kind).join(', ')})`);
  const need = new Set([target.hash]);
  for (const p of [...plan].reverse()) {
    if (!need.has(p.hash)) continue;
    for (const s of p.init) if (s.kind === 'stage') need.add(s.hash);
  }
  return plan.filter((p) => need.has(p.hash));
}

/**
 * Weights files named by `model.init` are loaded once into the model of the first stage that starts
 * from them, before anything trains: one that does not fit the architecture is bad input.
 */
function preflightInitFiles(plan: PlannedStage[], prepared: Map<PlannedStage, PreparedStage>, ctx: StageContext, vocabSize: number): void {
  const checked = new Set<string>();
  for (const p of plan) {
    if (!prepared.has(p)) continue;
    for (const s of p.init) {
      if ((s.kind !== 'torchvision' && s.kind !== 'bert') || checked.has(s.file)) continue;
      checked.add(s.file);
      const model = createPixelBert(stageModelConfig(p.def, ctx, vocabSize), 0);
      try {
        loadInitialWeights(model, [s]);
      } catch (e) {
        throw new StageInputError(`model.init.${s.kind === 'torchvision' ? 'backbone' : 'text'}: ${(e as Error).message}`);
      } finally {
        disposePixelBert(model);
      }
    }
  }
}

export async function runRow(o: RowOptions): Promise<RowResult> {
  const { spec, yaml, hash: specHash } = o.resolved;
  const log = o.log ?? ((l: string) => console.log(l));
  const write = o.write ?? ((s: string) => process.stdout.write(s));
  const tty = o.tty ?? Boolean(process.stdout.isTTY);
  const cache = new RunCache();
  // The parent run's name: the row's, or `init-<scale>` when only the shared init stages run.
  const runName = o.initOnly ? `init-${spec.scale}` : o.until ? `${rowRunName(spec)}-until-${o.until}` : rowRunName(spec);

  // how the stages share the cores, checked before anything is prepared
  const lanes = parallelStages(spec);
  const shared = dataParallelOf(spec);
  const backend = await initBackend({ prefer: spec.backend });
  const data = await prepareData(spec, log, { reportCache: cache.dir });
  if (!data.report.ok) throw new StageInputError(`the data for ${runName} has problems (listed above); fix them before training`);
  const tokenizer = WordPieceTokenizer.fromFile(path.join(data.root, 'vocab.txt'));
  const ctx: StageContext = { spec, root: data.root, tokenizer, log };
  const whole = planRow(spec, ctx, cache, o.initOnly);
  const plan = o.until ? planUntil(whole, o.until) : whole;
  const code = codeVersion();
  const rowKey = createHash('sha256').update(`${specHash}/${code}/${o.initOnly ? 'init' : o.until ? `until-${o.until}` : 'row'}/${o.experiment ?? DEFAULT_EXPERIMENT}`).digest('hex').slice(0, 24);
  const rowFile = cache.rowFile(rowKey);
  if (!o.force && existsSync(rowFile)) {
    const done = JSON.parse(readFileSync(rowFile, 'utf8')) as RowResult & { finishedAt: string };
    log(`\n${runName} finished before (${done.finishedAt}): run ${done.parentRunId} in ${trackingDir()}; nothing to train (--force runs it again).`);
    return { ...done, alreadyDone: true };
  }

  // Everything a stage reads is read and checked before anything trains or is written.
  const prepared = new Map<PlannedStage, PreparedStage>();
  for (const p of plan) {
    if (!o.force && cache.get(p.hash)) continue;
    log(`${p.def.kind}: reading its data …`);
    prepared.set(p, await p.def.prepare(ctx));
  }

  preflightInitFiles(plan, prepared, ctx, tokenizer.vocabSize);

  const tracker = await openTracker({ experiment: o.experiment ?? DEFAULT_EXPERIMENT, handleProcessEvents: false, runsDir: trackingDir() });
  const tags: Record<string, string> = {
    [TAGS.scale]: spec.scale,
    [TAGS.seed]: String(spec.seed),
    [TAGS.specHash]: specHash,
    [TAGS.backend]: backend.name,
    'pixelbert.codeVersion': code,
  };
  if (spec.row !== undefined && !o.initOnly) tags[TAGS.row] = String(spec.row);
  const open = new Set<RunHandle>();
  installStopHandlers(() => {
    for (const r of open) r.endSync('KILLED', true);
  });
  const parent = tracker.startRun({ runName, tags: { ...tags, 'pixelbert.kind': o.initOnly ? 'init' : o.until ? 'row-part' : 'row', ...(o.until ? { 'pixelbert.until': o.until } : {}) } });
  open.add(parent);
  const exitHandler = () => {
    for (const r of open) r.endSync('FAILED', true);
  };
  process.on('exit', exitHandler);
  parent.logSpec(spec, yaml);
  log(`\n${runName}: parent run ${parent.id} (${tracker.describe()}); backend ${backend.name}; code ${code}`);
  const results: StageResult[] = [];
  const helpers: StageProcess[] = [];
  const forward = (sig: StopSignal) => {
    for (const h of helpers) h.signal(sig);
  };
  const onInt = () => forward('SIGINT');
  const onTerm = () => forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    // a stage that trains alone may share each step with gradient workers (trainer.dataParallel)
    const stage = (p: PlannedStage, stageTty: boolean, dataParallel = 1) =>
      runStage({
        planned: p,
        prepared: prepared.get(p)!,
        ctx,
        vocabSize: tokenizer.vocabSize,
        tracker,
        parentRun: parent,
        runName: `${parent.runName}/${p.def.kind}`,
        tags,
        cache,
        force: Boolean(o.force),
        uploadWeights: spec.scale !== 'paper',
        tty: stageTty,
        write,
        dataParallel,
      });
    for (const wave of stageWaves(plan)) {
      const todo = wave.filter((p) => prepared.has(p));
      const n = Math.min(lanes, todo.length);
      if (n < 2) {
        for (const p of wave) results.push(await stage(p, tty, shared));
        continue;
      }
      for (const p of wave.filter((q) => !prepared.has(q))) results.push(await stage(p, tty));
      while (helpers.length < n - 1) {
        helpers.push(
          new StageProcess(
            { spec, root: data.root, experiment: o.experiment ?? DEFAULT_EXPERIMENT, parentRunId: parent.id, parentRunName: parent.runName, tags, uploadWeights: spec.scale !== 'paper' },
            log,
            (line) => process.stderr.write(`${line}\n`),
          ),
        );
      }
      log(`${todo.map((p) => p.def.kind).join(', ')}: ${n} at a time (this process and ${n - 1} more: trainer.parallelStages = ${lanes}); each logs a line every ${spec.trainer.logEvery} steps`);
      // the second stage's bar would overwrite the first's: plain lines while stages run side by side
      results.push(...(await runOnLanes(todo, [(p) => stage(p, false), ...helpers.slice(0, n - 1).map((h) => (p: PlannedStage) => h.run(p, Boolean(o.force)))])));
    }
    results.sort((a, b) => plan.findIndex((p) => p.hash === a.hash) - plan.findIndex((p) => p.hash === b.hash));
    const metrics: Record<string, number> = {};
    for (const r of results) Object.assign(metrics, r.metrics);
    parent.logMetrics(metrics, 0);
    await parent.end('FINISHED');
    open.delete(parent);
    const result: RowResult = { parentRunId: parent.id, runName: parent.runName, metrics, stages: results, alreadyDone: false };
    mkdirSync(path.dirname(rowFile), { recursive: true });
    writeFileSync(rowFile, JSON.stringify({ ...result, finishedAt: new Date().toISOString() }, null, 2) + '\n');
    await tracker.close();
    return result;
  } catch (e) {
    const status = e instanceof Interrupted ? 'KILLED' : 'FAILED';
    await parent.end(status);
    open.delete(parent);
    await tracker.close();
    if (e instanceof Interrupted) log(`\n${runName} stopped by ${e.signal}; checkpoints are in ${checkpointDir()}. Resume with the same command.`);
    throw e;
  } finally {
    process.off('exit', exitHandler);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    await Promise.all(helpers.map((h) => h.close()));
  }
}

/** `trainer.parallelStages`, or `PIXEL_BERT_PARALLEL_STAGES` where set (train:table6 sets 1 beside other rows). */
export function parallelStages(spec: Spec, env: NodeJS.ProcessEnv = process.env): number {
  return countFromEnv(env, 'PIXEL_BERT_PARALLEL_STAGES', spec.trainer.parallelStages, 'stages of a row run at once').n;
}
