import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { LocalStore } from './local/store';
import { workspaceRoot } from './paths';
import { MlflowClient } from './rest/client';
import { syncRuns } from './sync';
import { GIT_DIFF_ARTIFACT, TAGS } from './tags';
import { FaultProxy } from './testing/fault-proxy';
import { readWithPython } from './testing/server';
import { openTracker } from './tracker';

const uri = inject('mlflowUri');
const tmpRuns = (name: string) => mkdtempSync(join(tmpdir(), `tracking-${name}-`));
const unique = (name: string) => `${name}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
// MLflow's SQL store keeps NaN but stores ±Infinity as ±DBL_MAX (documented in docs/tracking.md).
const DBL_MAX = 1.7976931348623157e308;
const asServerStores = (v: number) => (v === Infinity ? DBL_MAX : v === -Infinity ? -DBL_MAX : v);

async function closedPort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
}

describe('tracker → real MLflow server, read back by the official Python client', () => {
  it('delivers params, metrics (NaN, ±Inf), tags, metadata, artifacts, inputs and nesting exactly as logged', async () => {
    const runsDir = tmpRuns('roundtrip');
    const experiment = unique('roundtrip');
    const t = await openTracker({ experiment, uri, runsDir, handleProcessEvents: false });
    const parent = t.startRun({ runName: 'row4', tags: { [TAGS.row]: '4', [TAGS.scale]: 'smoke' } });
    const child = t.startRun({
      runName: 'row4/vqa',
      parentRunId: parent.id,
      tags: { [TAGS.row]: '4', [TAGS.stage]: 'vqa', [TAGS.seed]: '7', [TAGS.backend]: 'cpu', [TAGS.specHash]: 'abc123' },
      params: { lr: 1e-4 },
    });
    const spec = { model: { layers: 2, backbone: 'r18' }, pretrain: { tasks: ['mlm', 'itm'] }, notes: 'n'.repeat(6500) };
    child.logSpec(spec, 'model:\n  layers: 2\n');
    const values = [0.5, NaN, Infinity, -Infinity, -0.25, 1e-12];
    values.forEach((v, step) => child.logMetrics({ 'train/loss': v, acc: step / 10 }, step));
    child.logArtifact('plots/curve.bin', new Uint8Array([1, 2, 3, 4]));
    child.logInput({ name: 'synth-vqa', digest: 'd41d8cd9', sourceType: 'generated', source: '{"seed":7}', context: 'train' });
    child.setTag('note', 'hello');
    await child.end();
    await parent.end();
    expect(t.pending()).toBe(0);

    const local = new LocalStore(runsDir).readRun(child.id);
    const py = await readWithPython(uri, child.remoteRunId!);
    expect(py.status).toBe('FINISHED');
    expect(py.run_name).toBe('row4/vqa');
    expect(py.params).toEqual(local.run.params);
    expect(py.params['notes']).toBe('artifact:params/notes.txt (6500 chars)');
    expect(py.params['pretrain.tasks']).toBe('["mlm","itm"]');
    expect(py.tags).toEqual({ ...local.run.tags, [TAGS.parentRunId]: parent.remoteRunId, [TAGS.localRunId]: child.id });
    for (const k of [TAGS.sourceName, TAGS.user, TAGS.gitCommit, TAGS.gitDirty]) expect(py.tags[k]).toBeTruthy();
    const wire = (v: number) => (Number.isNaN(v) ? 'NaN' : asServerStores(v));
    expect(py.metrics['train/loss']!.map(([s, v]) => [s, v])).toEqual(values.map((v, s) => [s, wire(v)]));
    expect(py.metrics['train/loss']!.map(([, , ts]) => ts)).toEqual(
      (await t.metricHistory(child.id, 'train/loss', 'local')).map((p) => p.timestamp),
    );
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    const expected: Record<string, string> = {};
    for (const a of local.artifacts) expected[a.path] = a.sha256;
    expect(py.artifacts).toEqual(expected);
    expect(py.artifacts['plots/curve.bin']).toBe(sha(new Uint8Array([1, 2, 3, 4])));
    expect(py.artifacts['params/notes.txt']).toBe(sha(new TextEncoder().encode('n'.repeat(6500))));
    if (local.run.tags[TAGS.gitDirty] === 'true') expect(py.artifacts[GIT_DIFF_ARTIFACT]).toBeTruthy();
    expect(py.inputs).toEqual([{ name: 'synth-vqa', digest: 'd41d8cd9', source_type: 'generated', source: '{"seed":7}', context: 'train' }]);
    expect(py.copies_by_local_id).toBe(1);

    // Queries: the same runs from the server and from the local journal.
    const fromServer = await t.findRuns({ tags: { [TAGS.row]: '4', [TAGS.stage]: 'vqa' }, status: 'FINISHED' });
    const fromLocal = await t.findRuns({ tags: { [TAGS.row]: '4', [TAGS.stage]: 'vqa' }, status: 'FINISHED', source: 'local' });
    expect(fromServer.map((r) => r.runId)).toEqual([child.remoteRunId]);
    expect(fromLocal.map((r) => r.runId)).toEqual([child.id]);
    expect(fromServer[0]!.params).toEqual(fromLocal[0]!.params);
    expect(fromServer[0]!.parentRunId).toBe(parent.remoteRunId);
    expect((await t.findRuns({ tags: { [TAGS.row]: '4' } })).length).toBe(2);
    expect(await t.findRuns({ tags: { [TAGS.row]: '5' } })).toEqual([]);
    const hist = await t.metricHistory(fromServer[0]!, 'acc');
    expect(hist.map((p) => p.value)).toEqual(values.map((_, s) => s / 10));
    rmSync(runsDir, { recursive: true });
  });

  it('takes 10,000 metric points in one run, each exactly once', async () => {
    const runsDir = tmpRuns('10k');
    const t = await openTracker({ experiment: unique('10k'), uri, runsDir, handleProcessEvents: false });
    const run = t.startRun({ runName: '10k' });
    for (let step = 0; step < 1000; step++) {
      const m: Record<string, number> = {};
      for (let k = 0; k < 10; k++) m[`m${k}`] = step * 10 + k;
      run.logMetrics(m, step);
    }
    await run.end();
    const client = new MlflowClient(uri);
    for (let k = 0; k < 10; k++) {
      const h = await client.getMetricHistory(run.remoteRunId!, `m${k}`);
      expect(h.map((p) => p.step)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      expect(h.map((p) => p.value)).toEqual(Array.from({ length: 1000 }, (_, i) => i * 10 + k));
    }
    rmSync(runsDir, { recursive: true });
  });

  it('keeps a run going when the server is down at start, then sync delivers it idempotently', async () => {
    const runsDir = tmpRuns('down');
    const down = `http://127.0.0.1:${await closedPort()}`;
    const notices: string[] = [];
    const t = await openTracker({ experiment: unique('down'), uri: down, runsDir, handleProcessEvents: false, endTimeoutMs: 500, log: (l) => notices.push(l) });
    expect(notices[0]).toMatch(new RegExp(`MLflow server at ${down} is not answering /health; logging continues in the local journal`));
    const run = t.startRun({ runName: 'offline', params: { a: 'x' } });
    for (let s = 0; s < 50; s++) run.logMetric('loss', 50 - s, s);
    run.logText('notes.txt', 'offline run');
    await run.end();
    expect(notices.join('\n')).toMatch(/not yet in .* npx nx run tracking:sync --to=/);
    expect(t.pending()).toBeGreaterThan(0);

    const first = await syncRuns({ to: uri, runsDir });
    expect(first.failed).toEqual([]);
    expect(first.runs).toHaveLength(1);
    const remoteId = first.runs[0]!.remoteRunId;
    const second = await syncRuns({ to: uri, runsDir });
    expect(second.runs[0]).toMatchObject({ remoteRunId: remoteId, sent: 0 });
    // Even with the delivery record gone, sync finds the server's copy instead of making another.
    rmSync(join(runsDir, run.id, 'delivery.json'));
    const third = await syncRuns({ to: uri, runsDir });
    expect(third.runs[0]!.remoteRunId).toBe(remoteId);
    const py = await readWithPython(uri, remoteId);
    expect(py.copies_by_local_id).toBe(1);
    expect(py.status).toBe('FINISHED');
    expect(py.metrics['loss']!.map(([s, v]) => [s, v])).toEqual(Array.from({ length: 50 }, (_, s) => [s, 50 - s]));
    expect(Object.keys(py.artifacts).sort()).toEqual(new LocalStore(runsDir).readRun(run.id).artifacts.map((a) => a.path).sort());
    rmSync(runsDir, { recursive: true });
  });
});

describe('live delivery refused by the server', () => {
  it('stops on a 400 or 401 with a clear message, keeps logging locally, and sync delivers later', async () => {
    const proxy = await new FaultProxy(uri).start();
    const runsDir = tmpRuns('refused');
    const notices: string[] = [];
    proxy.plan = (_m, path) =>
      path.includes('log-batch') ? { status: 400, body: '{"error_code":"INVALID_PARAMETER_VALUE","message":"injected refusal"}' } : null;
    const t = await openTracker({ experiment: unique('refused'), uri: proxy.uri, runsDir, handleProcessEvents: false, log: (l) => notices.push(l) });
    const run = t.startRun({ runName: 'refused' });
    for (let s = 0; s < 20; s++) run.logMetric('loss', s, s);
    await run.end();
    const refusals = proxy.count('log-batch', 400);
    expect(refusals).toBe(1); // not retried
    expect(notices.join('\n')).toMatch(/delivery of run \w+ to .* stopped: .*INVALID_PARAMETER_VALUE: injected refusal.*tracking:sync/);

    proxy.plan = () => ({ status: 401, body: '{"error_code":"UNAUTHENTICATED","message":"who are you"}' });
    const t2 = await openTracker({
      experiment: unique('refused'),
      uri: proxy.uri,
      runsDir,
      handleProcessEvents: false,
      log: (l) => notices.push(l),
      env: { MLFLOW_TRACKING_TOKEN: 'wrong-token' },
    });
    const run2 = t2.startRun({ runName: 'unauthorised' });
    run2.logMetric('loss', 1, 0);
    await run2.end();
    expect(notices.at(-1)).toMatch(/MLFLOW_TRACKING_USERNAME\/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN/);
    expect(notices.join('\n')).not.toContain('wrong-token');
    await proxy.stop();

    const report = await syncRuns({ to: uri, runsDir });
    expect(report.failed).toEqual([]);
    const client = new MlflowClient(uri);
    for (const r of report.runs) {
      const n = r.runName === 'refused' ? 20 : 1;
      expect((await client.getMetricHistory(r.remoteRunId, 'loss')).length).toBe(n);
      expect((await client.getRun(r.remoteRunId)).info.status).toBe('FINISHED');
    }
    rmSync(runsDir, { recursive: true });
  });
});

describe('process events: a clean shutdown never leaves a run RUNNING', () => {
  const child = (mode: string, runsDir: string, experiment: string) =>
    // node with tsx's loader, not the tsx binary: that runs the script in a child of its own, and a
    // signal to the binary reaches the script only through its relay (a race under load).
    spawn(process.execPath, ['--import', 'tsx', join(workspaceRoot(), 'packages/tracking/src/testing/child-run.ts'), mode], {
      env: { ...process.env, PIXEL_BERT_RUNS_DIR: runsDir, MLFLOW_TRACKING_URI: uri, CHILD_EXPERIMENT: experiment },
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  const cases = [
    { mode: 'until-signal', signal: 'SIGTERM' as const, code: 143, status: 'KILLED' },
    { mode: 'until-signal', signal: 'SIGINT' as const, code: 130, status: 'KILLED' },
    { mode: 'throw', signal: null, code: 1, status: 'FAILED' },
    { mode: 'no-end', signal: null, code: 0, status: 'FINISHED' },
  ];
  it.concurrent.each(cases)('$mode $signal → exit $code, run $status locally and in the server', async ({ mode, signal, code, status }) => {
    const runsDir = tmpRuns(`proc-${mode}`);
    const experiment = unique(`proc-${mode}`);
    const p = child(mode, runsDir, experiment);
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => {
      out += d;
      if (signal && /step 100\b/.test(out)) p.kill(signal);
    });
    p.stderr!.on('data', (d) => (err += d));
    const exitCode = await new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
    expect(exitCode, err).toBe(code);
    if (mode === 'throw') expect(err).toMatch(/boom from the training loop/);
    const store = new LocalStore(runsDir);
    const [id] = store.listRunIds();
    const local = store.readRun(id!).run;
    expect(local.status).toBe(status);
    const client = new MlflowClient(uri);
    const expId = (await client.getExperimentIdByName(experiment))!;
    const remote = await client.searchAllRuns({ experimentIds: [expId] });
    expect(remote.map((r) => r.info.status)).toEqual([status]);
    const steps = store.metricHistory(id!, 'loss').length;
    expect((await client.getMetricHistory(remote[0]!.info.runId, 'loss')).length).toBe(steps);
    rmSync(runsDir, { recursive: true });
  });
});
