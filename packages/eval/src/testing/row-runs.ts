// Test helper (not exported from index.ts): logs row runs exactly as docs/runs.md says training
// does — a parent row run (tags, flattened resolved spec, spec.yaml, final metrics at step 0) and a
// child run per stage — through @pixel-bert/tracking, so eval's tests need no training.
import { loadRowSpec, type Scale } from '@pixel-bert/spec';
import { TAGS, type RunHandle, type Tracker } from '@pixel-bert/tracking';
import { RUN_KINDS, RUN_TAGS } from '../table6/definitions';

export interface RowRunSpec {
  row: number;
  seed: number;
  scale?: Scale;
  /** Final test metrics (docs/runs.md names), in percent. */
  metrics: Record<string, number>;
  status?: 'FINISHED' | 'FAILED' | 'KILLED' | 'RUNNING';
  codeVersion?: string;
  /** --set overrides for the resolved spec (they change its hash). */
  set?: string[];
  /** Stages to create as child runs (default: the row's stages). */
  stages?: string[];
  /** Called with each stage run before it ends (e.g. to log weights). */
  onStage?: (stage: string, run: RunHandle) => void | Promise<void>;
}

export const TEST_CODE_VERSION = 'c0de0000c0de';

export async function logRowRun(tracker: Tracker, s: RowRunSpec): Promise<RunHandle> {
  const scale = s.scale ?? 'smoke';
  const resolved = loadRowSpec({ row: s.row, scale, seed: s.seed, set: s.set });
  const name = `row${s.row}-seed${s.seed}-${scale}`;
  const common = {
    [TAGS.row]: String(s.row),
    [TAGS.seed]: String(s.seed),
    [TAGS.scale]: scale,
    [TAGS.specHash]: resolved.hash,
    [RUN_TAGS.codeVersion]: s.codeVersion ?? TEST_CODE_VERSION,
    [TAGS.backend]: 'cpu',
  };
  const parent = tracker.startRun({ runName: name, tags: { ...common, [RUN_TAGS.kind]: RUN_KINDS.row } });
  parent.logSpec(resolved.spec, resolved.yaml);
  const stages = s.stages ?? ['init-backbone', 'init-text', ...(s.row === 1 ? [] : ['pretrain']), 'vqa', 'nlvr2', 'retrieval'];
  for (const stage of stages) {
    const child = tracker.startRun({
      runName: `${name}/${stage}`,
      parentRunId: parent.id,
      tags: { ...common, [RUN_TAGS.kind]: RUN_KINDS.stage, [TAGS.stage]: stage, [RUN_TAGS.stageHash]: `${stage}-${resolved.hash.slice(0, 8)}-${s.seed}` },
    });
    const own = Object.fromEntries(Object.entries(s.metrics).filter(([k]) => k.startsWith(`${stage}.`)));
    if (Object.keys(own).length > 0) child.logMetrics(own, 0);
    child.logMetric(`${stage}.seconds`, 1, 0);
    await s.onStage?.(stage, child);
    await child.end(s.status === 'RUNNING' ? 'FINISHED' : (s.status ?? 'FINISHED'));
  }
  if (Object.keys(s.metrics).length > 0) parent.logMetrics(s.metrics, 0);
  if (s.status !== 'RUNNING') await parent.end(s.status ?? 'FINISHED');
  return parent;
}

/** Final metrics of a row with a given mean per column plus a deterministic per-seed offset. */
export function rowMetrics(means: { vqa?: number; tr?: number; ir?: number; nlvr2?: number }, seed: number, spread = 1): Record<string, number> {
  const jitter = [0, 1, -1, 0.5, -0.5, 0.8, -0.8][seed % 7]! * spread;
  const m: Record<string, number> = {};
  if (means.vqa !== undefined) Object.assign(m, { 'vqa.test.score': means.vqa + jitter, 'vqa.test.score_se': 0.2, 'vqa.test.n': 48 });
  if (means.tr !== undefined) {
    Object.assign(m, { 'retrieval.test.tr_r1': means.tr + jitter, 'retrieval.test.tr_r5': Math.min(100, means.tr + 20 + jitter), 'retrieval.test.tr_r10': Math.min(100, means.tr + 30 + jitter) });
  }
  if (means.ir !== undefined) {
    Object.assign(m, { 'retrieval.test.ir_r1': means.ir + jitter, 'retrieval.test.ir_r5': Math.min(100, means.ir + 20 + jitter), 'retrieval.test.ir_r10': Math.min(100, means.ir + 30 + jitter) });
  }
  if (means.nlvr2 !== undefined) Object.assign(m, { 'nlvr2.test.accuracy': means.nlvr2 + jitter, 'nlvr2.test.n': 32 });
  return m;
}
