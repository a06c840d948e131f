// A `smoke` row end to end through the real CLI: what it trains, tracks and caches; a SIGKILL in the
// middle of a stage and the resume; the same spec twice giving the same metrics; bad input.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WORKSPACE_ROOT } from '@pixel-bert/spec';
import { loadSafetensors } from '@pixel-bert/model';
import { LocalStore } from '@pixel-bert/tracking';
import { ablation, ablationKilledAt, finalMetrics, finishedRow, finishedRows, localRuns, stagesOf, table6 } from './testing/row-cli';

const tmp = mkdtempSync(path.join(tmpdir(), 'pixel-bert-row-'));
const stateA = path.join(tmp, 'a');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// An experiment of its own: the CI MLflow server is shared by every package's tests.
const EXPERIMENT = `train-e2e-${process.pid}-${Date.now()}`;
const ROW = ['--row=4', '--scale=smoke', `--experiment=${EXPERIMENT}`];
let first: ReturnType<typeof ablation>;

beforeAll(() => {
  first = ablation(stateA, ROW);
}, 300_000);

/** The finished row 4 in `state` ended with the final metrics of the uninterrupted run in stateA, to 1e-6. */
function expectMetricsOfRowA(state: string): void {
  const [ma, mb] = [stateA, state].map((st) => finalMetrics(finishedRow(localRuns(st), 'row4-seed0-smoke')!));
  expect(Object.keys(mb!).sort()).toEqual(Object.keys(ma!).sort());
  for (const key of Object.keys(ma!)) expect(Math.abs(mb![key]! - ma![key]!), key).toBeLessThanOrEqual(1e-6);
}

describe('train:ablation --row=4 --scale=smoke', () => {
  it('trains every stage, tracks a parent run with the spec and final metrics and a child run per stage', () => {
    expect(first.code, first.err + first.out.slice(-3000)).toBe(0);
    const runs = localRuns(stateA);
    const parent = runs.find((r) => r.tags['pixelbert.kind'] === 'row')!;
    expect(parent.status).toBe('FINISHED');
    expect(parent.runName).toBe('row4-seed0-smoke');
    expect(parent.tags).toMatchObject({ 'pixelbert.row': '4', 'pixelbert.scale': 'smoke', 'pixelbert.seed': '0' });
    expect(parent.tags['pixelbert.specHash']).toMatch(/^[0-9a-f]{64}$/);
    expect(parent.tags['pixelbert.codeVersion']).toMatch(/^[0-9a-f]{12}$/);
    expect(parent.params['pretrain.tasks.mlm']).toBe('true');
    expect(parent.params['finetune.retrieval.negatives']).toBe('7');
    for (const k of ['vqa.test.score', 'nlvr2.test.accuracy', 'nlvr2.test.consistency', 'retrieval.test.tr_r1', 'retrieval.test.ir_r1', 'retrieval.test.ir_r10', 'pretrain.val.mlm_accuracy', 'pretrain.val.itm_accuracy']) {
      expect(parent.metrics[k], k).toBeGreaterThanOrEqual(0);
      expect(parent.metrics[k], k).toBeLessThanOrEqual(100);
    }
    expect(parent.metrics['retrieval.test.images']).toBe(16);
    // Reference rankers on the same split: chance ties all 16 images; counting ties fewer, so it scores more.
    expect(parent.metrics['retrieval.test.chance.ir_r1']).toBeCloseTo(100 / 16, 3);
    expect(parent.metrics['retrieval.test.chance.ir_r10']).toBeCloseTo(1000 / 16, 3);
    for (const k of ['tr_r1', 'ir_r1', 'ir_r5']) expect(parent.metrics[`retrieval.test.counting.${k}`], k).toBeGreaterThan(parent.metrics[`retrieval.test.chance.${k}`]!);
    expect(Object.keys(parent.metrics).some((k) => /^vqa\.test\.score\.(colour|shape|count)$/.test(k))).toBe(true);
    // held-out ITM per kind of pair: the matched pairs, and the negatives by what tells them apart
    const itmKinds = Object.keys(parent.metrics).filter((k) => /^pretrain\.val\.itm_accuracy_(count|shape|colour|size|texture|relation|order|wording)$/.test(k));
    expect(itmKinds.length).toBeGreaterThan(0);
    for (const k of ['pretrain.val.itm_accuracy_matched', 'pretrain.val.itm_ranking', ...itmKinds, ...itmKinds.map((m) => m.replace('accuracy', 'ranking'))]) {
      expect(parent.metrics[k], k).toBeGreaterThanOrEqual(0);
      expect(parent.metrics[k], k).toBeLessThanOrEqual(100);
    }
    // how plainly the pixel stream carries colour and shape after pre-training (a generated world), per depth
    const smokeLayers = Object.keys(parent.metrics).filter((k) => /^pretrain\.pixels\.colour\.layer\d+$/.test(k));
    expect(smokeLayers.length).toBeGreaterThan(0);
    for (const k of ['pretrain.pixels.colour.token', 'pretrain.pixels.shape.token', ...smokeLayers, ...smokeLayers.map((l) => l.replace('colour', 'shape'))]) {
      expect(parent.metrics[k], k).toBeGreaterThanOrEqual(0);
      expect(parent.metrics[k], k).toBeLessThanOrEqual(100);
    }
    const children = stagesOf(runs, parent);
    expect(children.map((r) => r.tags['pixelbert.stage']).sort()).toEqual(['init-backbone', 'init-text', 'nlvr2', 'pretrain', 'retrieval', 'vqa']);
    for (const c of children) {
      expect(c.status).toBe('FINISHED');
      expect(c.runName).toBe(`row4-seed0-smoke/${c.tags['pixelbert.stage']}`);
    }
    const pre = children.find((r) => r.tags['pixelbert.stage'] === 'pretrain')!;
    expect(pre.metrics['train.loss.mlm']).toBeGreaterThan(0);
    expect(pre.metrics['train.loss.itm']).toBeGreaterThan(0);
    expect(pre.metrics['train.lr.transformer']).toBe(1e-4);
    expect(pre.metrics['pretrain.peak_rss_mb']).toBeGreaterThan(100);
    // no tensor is left behind by a step: the live count is the same after every step of a stage
    for (const c of children) {
      const counts = new LocalStore(path.join(stateA, 'tracking')).metricHistory(c.runId, 'train.num_tensors').map((p) => p.value);
      expect(counts.length, c.runName).toBeGreaterThan(2);
      expect(new Set(counts.slice(1)).size, `${c.runName}: ${counts.join(',')}`).toBe(1);
    }
    // per-step curves, and the weights a later command (attention maps) loads
    const journal = path.join(stateA, 'tracking', pre.runId);
    for (const a of ['model/weights.safetensors', 'model/config.json', 'model/vocab.txt']) expect(existsSync(path.join(journal, 'artifacts', a)), a).toBe(true);
    expect(existsSync(path.join(stateA, 'tracking', parent.runId, 'artifacts', 'spec.yaml'))).toBe(true);
    expect(first.out).toMatch(new RegExp(`runs: experiment '${EXPERIMENT}', parent run [0-9a-f]{32}`));
  });

  it('tracking:sync puts the runs into a real MLflow server, where the official Python client reads them', () => {
    const uri = inject('mlflowUri');
    const sync = spawnSync(process.execPath, ['--import', 'tsx', path.join(WORKSPACE_ROOT, 'packages/tracking/src/cli/sync.ts'), `--to=${uri}`, `--runs-dir=${path.join(stateA, 'tracking')}`], { cwd: WORKSPACE_ROOT, encoding: 'utf8' });
    expect(sync.status, sync.stderr + sync.stdout).toBe(0);
    const script = [
      'import json, sys',
      'from mlflow.tracking import MlflowClient',
      'c = MlflowClient(tracking_uri=sys.argv[1])',
      'e = c.get_experiment_by_name(sys.argv[2])',
      'runs = c.search_runs([e.experiment_id], max_results=1000)',
      'row = [r for r in runs if r.data.tags.get("pixelbert.kind") == "row"][0]',
      'kids = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == row.info.run_id]',
      'print(json.dumps({"status": row.info.status, "name": row.info.run_name, "metrics": row.data.metrics, "params": len(row.data.params),',
      '  "mlm": row.data.params.get("pretrain.tasks.mlm"), "stages": sorted(k.data.tags["pixelbert.stage"] for k in kids),',
      '  "artifacts": [a.path for a in c.list_artifacts(row.info.run_id)],',
      '  "loss_points": len(c.get_metric_history([k for k in kids if k.data.tags["pixelbert.stage"] == "pretrain"][0].info.run_id, "train.loss"))}))',
    ].join('\n');
    const py = spawnSync(inject('mlflowPython'), ['-c', script, uri, EXPERIMENT], { encoding: 'utf8' });
    expect(py.status, py.stderr).toBe(0);
    const got = JSON.parse(py.stdout.trim().split('\n').pop()!);
    expect(got.status).toBe('FINISHED');
    expect(got.name).toBe('row4-seed0-smoke');
    expect(got.mlm).toBe('true');
    expect(got.params).toBeGreaterThan(50);
    expect(got.stages).toEqual(['init-backbone', 'init-text', 'nlvr2', 'pretrain', 'retrieval', 'vqa']);
    for (const k of ['vqa.test.score', 'nlvr2.test.accuracy', 'retrieval.test.ir_r1', 'retrieval.test.tr_r1']) expect(got.metrics[k], k).toBe(localRuns(stateA).find((r) => r.tags['pixelbert.kind'] === 'row')!.metrics[k]);
    expect(got.artifacts).toContain('spec.yaml');
    expect(got.loss_points).toBeGreaterThan(10);
  });

  it('a second identical command trains nothing and creates no run', () => {
    const before = localRuns(stateA).length;
    const again = ablation(stateA, ROW);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/finished before/);
    expect(again.out).not.toMatch(/\[pretrain\]/);
    expect(localRuns(stateA).length).toBe(before);
  });

  it('--until=pretrain runs only pre-training and what it starts from, as a partial row Table 6 does not read', () => {
    const r = ablation(stateA, [...ROW, '--until=pretrain']);
    expect(r.code, r.err + r.out.slice(-2000)).toBe(0);
    expect(r.out).toMatch(/pretrain: reused from the run cache/);
    expect(r.out).not.toMatch(/^(vqa|nlvr2|retrieval):/m);
    const part = localRuns(stateA).find((x) => x.runName === 'row4-seed0-smoke-until-pretrain')!;
    expect(part.tags).toMatchObject({ 'pixelbert.kind': 'row-part', 'pixelbert.until': 'pretrain', 'pixelbert.row': '4' });
    expect(part.metrics['pretrain.val.mlm_accuracy']).toBeGreaterThan(0);
    expect(part.metrics['vqa.test.score']).toBeUndefined();
    const none = ablation(stateA, ['--row=1', '--scale=smoke', '--until=pretrain']);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/--until=pretrain: row 1 has no pre-training/);
    expect(ablation(stateA, [...ROW, '--until=vqa2']).err).toMatch(/--until=vqa2: expected one of init-backbone, init-text, pretrain, vqa, nlvr2, retrieval/);
  }, 120_000);

  it('ITM first on whole captions (pretrain.mlm.fromEpoch, itm.text=unmasked): ITM trains from the first step, MLM from the epoch it joins', () => {
    const r = ablation(stateA, [...ROW, '--until=pretrain', '--set', 'pretrain.epochs=2', '--set', 'pretrain.mlm.fromEpoch=1', '--set', 'pretrain.itm.text=unmasked']);
    expect(r.code, r.err + r.out.slice(-2000)).toBe(0);
    expect(r.out).toMatch(/MLM \(15 % of tokens, from epoch 2 on \(ITM alone before\)\) \+ ITM \(.*on whole captions\)/);
    const runs = localRuns(stateA);
    const part = runs.find((x) => x.tags['pixelbert.kind'] === 'row-part' && x.params['pretrain.mlm.fromEpoch'] === '1')!;
    expect(part.params['pretrain.itm.text']).toBe('unmasked');
    const stage = stagesOf(runs, part).find((x) => x.tags['pixelbert.stage'] === 'pretrain')!;
    expect(stage.tags['pixelbert.reusedFrom']).toBeUndefined();
    const store = new LocalStore(path.join(stateA, 'tracking'));
    const itm = store.metricHistory(stage.runId, 'train.loss.itm').map((p) => p.step).sort((a, b) => a - b);
    const mlm = store.metricHistory(stage.runId, 'train.loss.mlm').map((p) => p.step).sort((a, b) => a - b);
    const perEpoch = itm.length / 2;
    expect(Number.isInteger(perEpoch) && perEpoch > 0, `${itm.length} ITM losses over 2 epochs`).toBe(true);
    expect(mlm).toEqual(itm.slice(perEpoch)); // MLM's loss exactly in the second epoch's steps
    for (const k of ['pretrain.val.mlm_accuracy', 'pretrain.val.itm_accuracy', 'pretrain.val.itm_ranking', 'pretrain.val.itm_accuracy_matched']) {
      expect(part.metrics[k], k).toBeGreaterThanOrEqual(0);
      expect(part.metrics[k], k).toBeLessThanOrEqual(100);
    }
  }, 300_000);

  it('another row reuses the shared initialisation stages from the run cache', () => {
    // (seed 1: the init stages are shared by every seed too; row 1 seed 0 is train:table6's below)
    const r = ablation(stateA, ['--row=1', '--seed=1', '--scale=smoke', `--experiment=${EXPERIMENT}`]);
    expect(r.code, r.err + r.out.slice(-2000)).toBe(0);
    expect(r.out).toMatch(/init-backbone: reused from the run cache/);
    expect(r.out).toMatch(/init-text: reused from the run cache/);
    expect(r.out).not.toMatch(/\[pretrain\]/); // row 1 has no pre-training
    const row1 = localRuns(stateA).find((x) => x.runName === 'row1-seed1-smoke' && x.tags['pixelbert.kind'] === 'row')!;
    const reused = stagesOf(localRuns(stateA), row1).filter((x) => x.tags['pixelbert.reusedFrom']);
    expect(reused.map((x) => x.tags['pixelbert.stage']).sort()).toEqual(['init-backbone', 'init-text']);
  }, 300_000);

  it('with gradient accumulation the init stages are its own and the schedule is still counted in the spec\'s batches', () => {
    const r = ablation(stateA, ['--row=1', '--scale=smoke', '--until=vqa', `--experiment=${EXPERIMENT}`, '--set', 'optim.accumulation=3', '--set', 'optim.warmupSteps=5']);
    expect(r.code, r.err + r.out.slice(-2000)).toBe(0);
    // micro-batches change an init stage's batch-norm statistics: not the accumulation-1 stages of the rows above
    expect(r.out).not.toMatch(/init-(backbone|text): reused from the run cache/);
    const part = localRuns(stateA).find((x) => x.runName === 'row1-seed0-smoke-until-vqa' && x.tags['pixelbert.kind'] === 'row-part')!;
    const vqa = stagesOf(localRuns(stateA), part).find((x) => x.tags['pixelbert.stage'] === 'vqa')!;
    const store = new LocalStore(path.join(stateA, 'tracking'));
    const lr = store.metricHistory(vqa.runId, 'train.lr.transformer');
    expect(lr.length).toBe(Math.ceil(Number(vqa.params['data.trainQuestions']) / 8)); // one point per batch of 8, as without accumulation
    expect(lr[0]!.value).toBeCloseTo(1e-4 / 5, 12);
    expect(lr[4]!.value).toBeCloseTo(1e-4, 12);
  }, 300_000);

  it('killed (SIGKILL) in the middle of pre-training, the same command resumes from the checkpoint and ends with the metrics of the uninterrupted run', async () => {
    const stateB = path.join(tmp, 'b');
    const k = await ablationKilledAt(stateB, ROW, /\[pretrain\] epoch 1\/1 step (1[2-9]|[2-3]\d)\//);
    expect(k.killed, k.out.slice(-2000)).toBe(true);
    const ckpts = path.join(stateB, 'checkpoints');
    expect(readdirSync(ckpts).some((h) => existsSync(path.join(ckpts, h, 'state.safetensors')))).toBe(true);
    const resumed = ablation(stateB, ROW);
    expect(resumed.code, resumed.err + resumed.out.slice(-2000)).toBe(0);
    expect(resumed.out).toMatch(/pretrain: resuming from the checkpoint at epoch 1, step (8|12|16|20|24|28)/);
    expectMetricsOfRowA(stateB);
    // the killed attempt's runs stay as the journal left them (RUNNING), never FINISHED
    expect(localRuns(stateB).filter((r) => r.runName === 'row4-seed0-smoke' && r.status === 'RUNNING').length).toBe(1);
  }, 400_000);

  it('SIGINT finishes the step, checkpoints, marks the runs KILLED and says how to resume', async () => {
    const stateE = path.join(tmp, 'e');
    const k = await ablationKilledAt(stateE, ROW, /\[pretrain\] epoch 1\/1 step ([4-9]|1\d)\//, 'SIGINT');
    expect(k.killed).toBe(true);
    expect(k.code, k.out.slice(-2000)).toBe(130);
    expect(k.out).toMatch(/SIGINT: finishing this step, then checkpointing/);
    expect(k.out).toMatch(/Resume: run the same command again/);
    const runs = localRuns(stateE);
    expect(runs.find((r) => r.runName === 'row4-seed0-smoke')!.status).toBe('KILLED');
    expect(runs.find((r) => r.runName === 'row4-seed0-smoke/pretrain')!.status).toBe('KILLED');
    const hash = runs.find((r) => r.runName === 'row4-seed0-smoke/pretrain')!.tags['pixelbert.stageHash']!;
    expect(existsSync(path.join(stateE, 'checkpoints', hash, 'state.safetensors'))).toBe(true);
  }, 300_000);

  it('a loss that turns NaN stops the stage: its run FAILED with the step, exit 1, the checkpoint kept', () => {
    const stateF = path.join(tmp, 'f');
    // an absurd CNN learning rate for VQA alone (finetune.vqa.lr, which the init stages before it do
    // not read) makes VQA fine-tuning (row 1: straight after the init stages) diverge
    const r = ablation(stateF, ['--row=1', '--scale=smoke', '--set', 'finetune.vqa.lr.cnn=1e30', '--set', 'trainer.checkpointEvery=1']);
    expect(r.code, r.out.slice(-2000)).toBe(1);
    expect(r.err).toMatch(/the loss is (NaN|Infinity|-Infinity) at epoch 1, step \d+/);
    const runs = localRuns(stateF);
    const vqa = runs.find((x) => x.runName === 'row1-seed0-smoke/vqa')!;
    expect(vqa.status).toBe('FAILED');
    expect(Number(vqa.params['stage.lr.cnn'])).toBe(1e30);
    expect(runs.find((x) => x.runName === 'row1-seed0-smoke/init-backbone')!.status).toBe('FINISHED');
    expect(vqa.tags['pixelbert.error']).toMatch(/loss is/);
    expect(runs.find((x) => x.runName === 'row1-seed0-smoke')!.status).toBe('FAILED');
  }, 300_000);

  it('train:table6 runs the rows asked for (two at a time), skips finished ones and lists failures with their rerun command', () => {
    const dry = table6(stateA, ['--scale=smoke', '--rows=1,4', '--seeds=0', `--experiment=${EXPERIMENT}`, '--dry-run']);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain(`npx nx run train:ablation --row=4 --seed=0 --scale=smoke --experiment=${EXPERIMENT}`);
    // one init job per backbone: rows 1 and 4 share theirs, row 6 has its own
    expect(dry.out).toContain(`npx nx run train:init --scale=smoke --experiment=${EXPERIMENT} --rows=1,4\n`);
    const dry6 = table6(stateA, ['--scale=smoke', '--rows=4,6', '--dry-run']);
    expect(dry6.out).toMatch(/after the init stages of resnet-smoke and resnext-smoke/);
    expect(dry6.out).toContain('npx nx run train:init --scale=smoke --rows=4\n');
    expect(dry6.out).toContain('npx nx run train:init --scale=smoke --rows=6\n');
    // --jobs=auto: one row per core, 3 GiB each
    const auto = Math.min(2, availableParallelism(), Math.floor(totalmem() / 2 ** 30 / 3));
    expect(dry.out).toContain(`2 row-runs, ${auto === 1 ? 'one after another' : `${auto} at a time`}`);
    expect(table6(stateA, ['--scale=smoke', '--rows=1,4', '--jobs=1', '--dry-run']).out).toMatch(/2 row-runs, one after another/);
    // two rows side by side: row 4 seed 0 was trained above (skipped), row 1 trains beside it
    const r = table6(stateA, ['--scale=smoke', '--rows=1,4', '--seeds=0', '--jobs=2', `--experiment=${EXPERIMENT}`]);
    expect(r.code, r.err + r.out.slice(-2000)).toBe(0);
    expect(r.out).toMatch(/^\[r4 s0\] .*finished before/m);
    expect(r.out).toMatch(/^\[r1 s0\] == row1-seed0-smoke: finished/m);
    expect(r.out).toMatch(/2 of 2 row-runs finished/);
    expect(localRuns(stateA).find((x) => x.runName === 'row1-seed0-smoke')!.status).toBe('FINISHED');
    expect(table6(stateA, ['--rows=0-2']).code).toBe(2);
    const badJobs = table6(stateA, ['--jobs=0', '--dry-run']);
    expect(badJobs.code).toBe(2);
    expect(badJobs.err).toMatch(/--jobs=0: expected a whole number ≥ 1 or auto/);
  }, 300_000);

  it('train:table6 in a fresh state folder trains the init stages as a row does: the same metrics as the row run alone', () => {
    // (its init stages once ran on every core: a stage's numbers depend on TensorFlow's thread count)
    const stateT = path.join(tmp, 't');
    const r = table6(stateT, ['--scale=smoke', '--rows=4', '--seeds=0', '--jobs=1', `--experiment=${EXPERIMENT}`]);
    expect(r.code, r.err + r.out.slice(-2000)).toBe(0);
    const runs = localRuns(stateT);
    // stateA's row 4 trained its own init stages (the first test); other tests there trained other variants
    const runsA = localRuns(stateA);
    const rowsA = finishedRows(runsA, 'row4-seed0-smoke');
    for (const stage of ['init-backbone', 'init-text']) {
      // trained once, by the sweep's init step; the row takes it from the run cache
      const trained = runs.filter((x) => x.tags['pixelbert.stage'] === stage && !x.tags['pixelbert.reusedFrom']);
      expect(trained, stage).toHaveLength(1);
      const t = trained[0]!;
      const a = rowsA.flatMap((r) => stagesOf(runsA, r)).find((x) => x.tags['pixelbert.stage'] === stage && !x.tags['pixelbert.reusedFrom'])!;
      expect(a, stage).toBeDefined();
      expect(t.tags['pixelbert.stageHash']).toBe(a!.tags['pixelbert.stageHash']);
      const learnt = (x: typeof t) => Object.fromEntries(Object.entries(x.metrics).filter(([k]) => k.startsWith('val.') || k === 'train.loss'));
      expect(Object.keys(learnt(a)).length, stage).toBeGreaterThan(1);
      expect(learnt(t), stage).toEqual(learnt(a));
    }
    const a = finishedRow(runsA, 'row4-seed0-smoke')!;
    const t = finishedRow(runs, 'row4-seed0-smoke')!;
    expect(finalMetrics(t)).toEqual(finalMetrics(a));
  }, 300_000);

  it('the same spec, seed and backend give identical metrics in a fresh state folder', () => {
    const stateC = path.join(tmp, 'c');
    const r = ablation(stateC, ROW);
    expect(r.code, r.err).toBe(0);
    const a = finishedRow(localRuns(stateA), 'row4-seed0-smoke')!;
    const c = finishedRow(localRuns(stateC), 'row4-seed0-smoke')!;
    expect(finalMetrics(c)).toEqual(finalMetrics(a));
  }, 300_000);

  it('with trainer.parallelStages=2 the independent stages run two at a time, in two processes, with the same metrics', () => {
    const stateG = path.join(tmp, 'g');
    const r = ablation(stateG, [...ROW, '--set', 'trainer.parallelStages=2']);
    expect(r.code, r.err + r.out.slice(-3000)).toBe(0);
    expect(r.out).toMatch(/init-backbone, init-text: 2 at a time/);
    expect(r.out).toMatch(/vqa, nlvr2, retrieval: 2 at a time/);
    const a = finishedRow(localRuns(stateA), 'row4-seed0-smoke')!;
    const runs = localRuns(stateG);
    const g = finishedRow(runs, 'row4-seed0-smoke')!;
    expect(finalMetrics(g)).toEqual(finalMetrics(a));
    const children = stagesOf(runs, g);
    expect(children.map((x) => x.tags['pixelbert.stage']).sort()).toEqual(['init-backbone', 'init-text', 'nlvr2', 'pretrain', 'retrieval', 'vqa']);
    for (const c of children) expect(c.status, c.runName).toBe('FINISHED');
    // side by side: VQA (a helper's first stage) and NLVR² (this process's) overlap in time
    const [vqa, nlvr2] = ['vqa', 'nlvr2'].map((k) => children.find((x) => x.tags['pixelbert.stage'] === k)!);
    expect(vqa!.startTime!).toBeLessThan(nlvr2!.endTime!);
    expect(nlvr2!.startTime!).toBeLessThan(vqa!.endTime!);
    expect(existsSync(path.join(stateG, 'checkpoints')) ? readdirSync(path.join(stateG, 'checkpoints')) : []).toEqual([]); // no lock or checkpoint left
  }, 300_000);

  it('with trainer.dataParallel=2 two processes share each step: the parameters of the same accumulation in one process, bit for bit', () => {
    const args = ['--row=4', '--scale=smoke', '--until=pretrain', `--experiment=${EXPERIMENT}`, '--set', 'optim.accumulation=2'];
    const [one, two] = [1, 2].map((n) => {
      const state = path.join(tmp, `dp${n}`);
      const r = ablation(state, args, { PIXEL_BERT_DATA_PARALLEL: String(n) });
      expect(r.code, r.err + r.out.slice(-3000)).toBe(0);
      return { state, out: r.out };
    });
    expect(two!.out).toMatch(/pretrain: each step's 2 micro-batches shared by 2 processes/);
    expect(one!.out).not.toMatch(/shared by/);
    const stages = readdirSync(path.join(one!.state, 'cache')).filter((d) => existsSync(path.join(one!.state, 'cache', d, 'weights.safetensors')));
    expect(stages).toHaveLength(3); // init-backbone, init-text, pretrain: the same stage hashes in both
    let buffers = 0;
    for (const stage of stages) {
      const [a, b] = [one!, two!].map((x) => loadSafetensors(path.join(x.state, 'cache', stage, 'weights.safetensors')));
      expect(b!.names().sort()).toEqual(a!.names().sort());
      for (const name of a!.names()) {
        const [va, vb] = [a!, b!].map((f) => f.read(name).values);
        if (!/running_(mean|var)$/.test(name)) {
          expect(Buffer.from(vb!.buffer, vb!.byteOffset, vb!.byteLength).equals(Buffer.from(va!.buffer, va!.byteOffset, va!.byteLength)), `${stage} ${name}`).toBe(true);
        } else {
          buffers++;
          for (let i = 0; i < va!.length; i++) expect(Math.abs(vb![i]! - va![i]!), `${stage} ${name}[${i}]`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(va![i]!)));
        }
      }
    }
    expect(buffers).toBeGreaterThan(0);
    const pre = (state: string) => localRuns(state).find((x) => x.tags['pixelbert.stage'] === 'pretrain' && x.status === 'FINISHED')!;
    expect(pre(two!.state).metrics['train.loss']).toBe(pre(one!.state).metrics['train.loss']);
  }, 300_000);

  it('a data-parallel count that does not divide the micro-batches exits 2 before anything trains, saying what would be right', () => {
    const state = path.join(tmp, 'dp-bad');
    const r = ablation(state, ['--row=4', '--scale=smoke', `--experiment=${EXPERIMENT}`, '--set', 'optim.accumulation=2'], { PIXEL_BERT_DATA_PARALLEL: '3' });
    expect(r.code).toBe(2);
    expect(r.err + r.out).toMatch(/PIXEL_BERT_DATA_PARALLEL=3 splits each batch's micro-batches over 3 processes, but optim.accumulation is 2/);
    expect(existsSync(path.join(state, 'cache')) ? readdirSync(path.join(state, 'cache')).filter((d) => !d.startsWith('data-')) : []).toEqual([]);
  }, 120_000);

  it('killed (SIGKILL) while two stages run side by side, the helper checkpoints and stops; the same command resumes both and ends with the same metrics', async () => {
    const stateH = path.join(tmp, 'h');
    const args = [...ROW, '--set', 'trainer.parallelStages=2'];
    const k = await ablationKilledAt(stateH, args, /\[nlvr2\] epoch 1\/\d+ step (8|12|16)\//);
    expect(k.killed, k.out.slice(-2000)).toBe(true);
    const resumed = ablation(stateH, args);
    expect(resumed.code, resumed.err + resumed.out.slice(-3000)).toBe(0);
    expect(resumed.out).toMatch(/(vqa|nlvr2): resuming from the checkpoint/);
    expectMetricsOfRowA(stateH);
  }, 400_000);

  it('a corrupt checkpoint is an error naming the file, not a silent restart', () => {
    const stateD = path.join(tmp, 'd');
    const first = ablation(stateD, ['--row=4', '--scale=smoke', '--set', 'trainer.checkpointEvery=1']);
    expect(first.code).toBe(0);
    // plant a truncated checkpoint for a stage the next command must train (row 2's pre-training)
    const dry = ablation(stateD, ['--row=2', '--scale=smoke', '--set', 'trainer.checkpointEvery=1']);
    expect(dry.code).toBe(0);
    const preHash = localRuns(stateD).find((x) => x.runName === 'row2-seed0-smoke/pretrain')!.tags['pixelbert.stageHash']!;
    const dir = path.join(stateD, 'checkpoints', preHash);
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(path.join(dir, 'state.safetensors'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const r = ablation(stateD, ['--row=2', '--scale=smoke', '--set', 'trainer.checkpointEvery=1', '--force']);
    expect(r.code).not.toBe(0);
    expect(r.err + r.out).toContain(path.join(dir, 'state.safetensors'));
  }, 300_000);
});

describe('bad input stops before anything is trained or written', () => {
  const cases: [string, string[], RegExp][] = [
    ['an answer vocabulary larger than the data has', ['--set', 'finetune.vqa.answerVocabSize=500'], /answerVocabSize is 500.*only \d+ distinct answers/],
    ['more retrieval negatives than the split has', ['--set', 'finetune.retrieval.negatives=400', '--set', 'finetune.retrieval.hardNegatives=3'], /negatives is 400.*at most \d+/],
    ['an init weights file that does not exist', ['--set', 'model.init.backbone=weights/nope.safetensors'], /model\.init\.backbone: .*nope\.safetensors does not exist/],
  ];
  for (const [what, set, message] of cases) {
    it(what, () => {
      const state = path.join(tmp, `bad-${what.replace(/\W+/g, '-')}`);
      const r = ablation(state, [...ROW, ...set]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(existsSync(path.join(state, 'tracking'))).toBe(false);
      expect(existsSync(path.join(state, 'checkpoints'))).toBe(false);
    });
  }
  it('an init weights file that does not fit the architecture', () => {
    // the smoke backbone's own weights are not a resnet-small's
    const state = path.join(tmp, 'bad-arch');
    const weights = readdirSync(path.join(stateA, 'cache'))
      .map((h) => path.join(stateA, 'cache', h, 'weights.safetensors'))
      .find((f) => existsSync(f))!;
    const r = ablation(state, ['--row=4', '--scale=smoke', '--set', `model.init.backbone=${path.relative(WORKSPACE_ROOT, weights)}`]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/model\.init\.backbone.*does not fit/s);
    expect(existsSync(path.join(state, 'tracking'))).toBe(false);
  });
});
