// The Slurm launcher on a real cluster: the single-node one of tools/slurm-local (CI starts it and
// sets PIXEL_BERT_TEST_SLURM=1, which makes these tests required; elsewhere they run when `sinfo`
// answers and are skipped otherwise). Tasks log into the test MLflow server of train's test setup
// (src/testing/global-setup.ts), and the runs are read back with the official Python client.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { slurmSweep, type SlurmSweepOptions } from './slurm';

const exec = promisify(execFile);
const required = process.env.PIXEL_BERT_TEST_SLURM === '1';
const clusterUp = (() => {
  try {
    return /up/.test(execFileSync('sinfo', ['-h', '-o', '%a'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return false;
  }
})();
if (!clusterUp && !required) console.warn('slurm.cluster.test: skipped, no Slurm cluster answers (start one with tools/slurm-local start)');

const tmp = mkdtempSync(path.join(tmpdir(), 'pixel-bert-slurm-'));
let uri = '';
let python = '';
const stamp = Date.now();

beforeAll(() => {
  if (!clusterUp && !required) return;
  if (!clusterUp) throw new Error('PIXEL_BERT_TEST_SLURM=1 but no Slurm cluster answers `sinfo` (tools/slurm-local start)');
  uri = inject('mlflowUri');
  python = inject('mlflowPython').split('\n').pop()!;
});

afterAll(async () => {
  // Jobs of these tests that are still queued (a failed test) are cancelled by name.
  if (clusterUp)
    for (const exp of [`slurm-e2e-${stamp}`, `slurm-e2e-${stamp}-scancel`])
      for (const job of [`pb-table6-smoke-${exp}`, `pb-table6-smoke-${exp}-init`]) await exec('scancel', ['--name', job]).catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
});

function taskEnv(state: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PIXEL_BERT_STATE_DIR: state, MLFLOW_TRACKING_URI: uri };
  delete env.PIXEL_BERT_RUNS_DIR;
  return env;
}

/** A sweep whose state (run cache, checkpoints, local journal, sweep folder) lives in its own folder. */
async function sweep(state: string, o: Partial<SlurmSweepOptions>) {
  const lines: string[] = [];
  const code = await slurmSweep({
    scale: 'smoke',
    rows: [1, 2, 3, 4, 5, 6],
    seeds: [0],
    dryRun: false,
    flags: {},
    env: taskEnv(state),
    print: (l) => lines.push(l),
    ...o,
  });
  return { code, out: lines.join('\n') };
}

const jobIds = (out: string) => {
  const m = /init job (\d+) .*array job (\d+)/.exec(out);
  if (!m) throw new Error(`no job ids in:\n${out}`);
  return { init: m[1]!, array: m[2]! };
};

async function waitForJobs(ids: string[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const { stdout } = await exec('squeue', ['-h', '-j', ids.join(','), '-o', '%i']).catch(() => ({ stdout: '' }));
    if (!stdout.trim()) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`jobs ${ids.join(',')} still queued or running after ${timeoutMs / 1000} s`);
}

interface PyRun {
  id: string;
  name: string;
  status: string;
  parent: string | null;
  tags: Record<string, string>;
  metrics: Record<string, number>;
}

/** Every run of an experiment, as MLflow's own Python client reads it. */
async function readRuns(experiment: string): Promise<PyRun[]> {
  const code = `
import json, sys, mlflow
c = mlflow.MlflowClient(sys.argv[1])
e = c.get_experiment_by_name(sys.argv[2])
runs = c.search_runs([e.experiment_id], max_results=5000) if e else []
print(json.dumps([{"id": r.info.run_id, "name": r.info.run_name, "status": r.info.status, "parent": r.data.tags.get("mlflow.parentRunId"),
                   "tags": r.data.tags, "metrics": r.data.metrics} for r in runs]))`;
  const { stdout } = await exec(python, ['-c', code, uri, experiment], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as PyRun[];
}

const testMetrics = (r: PyRun) => Object.fromEntries(Object.entries(r.metrics).filter(([k]) => /\.test\.|\.val\./.test(k)));
const logOf = (state: string, experiment: string, job: string) => readFileSync(path.join(state, 'slurm', `table6-smoke-${experiment}`, 'logs', `${job}.out`), 'utf8');

describe.runIf(clusterUp || required)('Slurm launcher on a single-node cluster', () => {
  const stateA = path.join(tmp, 'a');
  const expA = `slurm-e2e-${stamp}`;

  it('a partition Slurm does not know: Slurm says so, exit 2, nothing left submitted', async () => {
    const r = await sweep(path.join(tmp, 'bad'), { experiment: expA, flags: { partition: 'no-such-partition' } });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/sbatch: error: .*[Ii]nvalid partition/);
    const { stdout } = await exec('squeue', ['-h', '--name', `pb-table6-smoke-${expA}-init,pb-table6-smoke-${expA}`, '-o', '%i']);
    expect(stdout.trim()).toBe('');
  });

  let reference: PyRun | undefined;

  it('six smoke rows as one array job after the init job: every run arrives in MLflow; resubmitting submits nothing', async () => {
    const t0 = performance.now();
    const first = await sweep(stateA, { experiment: expA });
    expect(first.code, first.out).toBe(0);
    const { init, array } = jobIds(first.out);
    await waitForJobs([init, array], 900_000);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`six-row smoke array on the single-node cluster: ${seconds.toFixed(0)} s from submission to the last task's end`);

    // Every task ended COMPLETED: the same sweep again finds nothing to submit.
    const again = await sweep(stateA, { experiment: expA });
    expect(again.code).toBe(0);
    expect(again.out, `${again.out}\n--- init log:\n${logOf(stateA, expA, `init-${init}`).slice(-3000)}`).toContain('nothing to submit');
    expect(again.out.match(/COMPLETED as job/g)).toHaveLength(6);

    // The tasks deliver in the background and wait for it before they exit; allow the server a moment.
    let runs: PyRun[] = [];
    for (let i = 0; i < 30; i++) {
      runs = await readRuns(expA);
      if (runs.filter((r) => r.tags['pixelbert.kind'] === 'row' && r.status === 'FINISHED').length === 6) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const rows = runs.filter((r) => r.tags['pixelbert.kind'] === 'row');
    expect(rows.map((r) => r.name).sort()).toEqual([1, 2, 3, 4, 5, 6].map((n) => `row${n}-seed0-smoke`));
    for (const row of rows) {
      expect(row.status, row.name).toBe('FINISHED');
      for (const k of ['vqa.test.score', 'nlvr2.test.accuracy', 'retrieval.test.ir_r1']) expect(row.metrics[k], `${row.name} ${k}`).toBeGreaterThanOrEqual(0);
      const stages = runs.filter((r) => r.parent === row.id);
      expect(stages.map((s) => s.tags['pixelbert.stage'])).toEqual(expect.arrayContaining(['init-backbone', 'init-text', 'vqa', 'nlvr2', 'retrieval']));
      expect(stages.every((s) => s.status === 'FINISHED' && s.name.startsWith(`${row.name}/`))).toBe(true);
    }
    reference = rows.find((r) => r.name === 'row2-seed0-smoke');
  }, 1_200_000);

  it('a task cancelled mid-stage (scancel) is resubmitted, resumes, and ends with the metrics of the uninterrupted run', async () => {
    expect(reference, 'needs the six-row sweep above').toBeDefined();
    const stateB = path.join(tmp, 'b');
    const expB = `slurm-e2e-${stamp}-scancel`;
    const first = await sweep(stateB, { experiment: expB, rows: [2] });
    expect(first.code, first.out).toBe(0);
    const { init, array } = jobIds(first.out);
    // Cancel the task in the middle of pre-training, once it has checkpointed (every 4 steps at smoke scale).
    const log = path.join(stateB, 'slurm', `table6-smoke-${expB}`, 'logs', `${array}_0.out`);
    const until = Date.now() + 600_000;
    let cancelledAt = 0;
    while (!cancelledAt && Date.now() < until) {
      const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
      const last = [...text.matchAll(/\[pretrain\] epoch \d+\/\d+ step (\d+)\/(\d+)/g)].at(-1);
      if (last && Number(last[1]) >= Number(last[2])) throw new Error(`pre-training ended before the test could cancel it:\n${text.slice(-2000)}`);
      if (last && Number(last[1]) >= 8) {
        await exec('scancel', [`${array}_0`]);
        cancelledAt = Number(last[1]);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(cancelledAt, 'the task never reached step 8 of pre-training').toBeGreaterThan(0);
    await waitForJobs([init, array], 120_000);
    const cancelledLog = readFileSync(log, 'utf8');
    expect(cancelledLog).not.toMatch(/finished in/);

    // The same sweep again: Slurm says the task was cancelled, so it is submitted again, and resumes —
    // from pre-training's checkpoint, or (when the training process saw SIGTERM only at the end of
    // the stage, see the report) from the run cache, which then holds the finished stage.
    const again = await sweep(stateB, { experiment: expB, rows: [2] });
    expect(again.code, again.out).toBe(0);
    expect(again.out).toMatch(/row2-seed0 +CANCELLED as job \d+_0 +→ submit/);
    const resumed = jobIds(again.out);
    await waitForJobs([resumed.init, resumed.array], 600_000);
    const resumedLog = logOf(stateB, expB, `${resumed.array}_0`);
    expect(resumedLog, resumedLog.slice(-3000)).toMatch(/pretrain: (resuming from the checkpoint|reused from the run cache)/);
    expect(resumedLog, resumedLog.slice(-3000)).toMatch(/finished in/);
    expect((await sweep(stateB, { experiment: expB, rows: [2] })).out).toContain('nothing to submit');

    let runs: PyRun[] = [];
    for (let i = 0; i < 30; i++) {
      runs = (await readRuns(expB)).filter((r) => r.tags['pixelbert.kind'] === 'row');
      if (runs.some((r) => r.status === 'FINISHED')) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const finished = runs.filter((r) => r.status === 'FINISHED');
    expect(finished, JSON.stringify(runs.map((r) => [r.name, r.status]))).toHaveLength(1);
    expect(runs.length, 'the cancelled run and the resumed one').toBe(2);
    expect(runs.find((r) => r.status !== 'FINISHED')!.status).toMatch(/KILLED|RUNNING/);
    console.log(`scancel at pre-training step ${cancelledAt}; the cancelled run ended ${runs.find((r) => r.status !== 'FINISHED')!.status}; resumed by ${/pretrain: resuming from the checkpoint/.test(resumedLog) ? 'the checkpoint' : 'the run cache'}`);
    expect(testMetrics(finished[0]!)).toEqual(testMetrics(reference!));
  }, 1_200_000);
});
