import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openTracker } from '../tracker';
import { workspaceRoot } from '../paths';
import { JournalWriter, readJournal } from './journal';
import { LocalStore } from './store';

describe('journal', () => {
  it('skips a torn last line and reports it; a damaged middle line is an error naming file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'journal-'));
    const file = join(dir, 'journal.jsonl');
    const w = new JournalWriter(file);
    w.append({ type: 'start', v: 1, runId: 'r', experiment: 'e', runName: 'n', parentRunId: null, time: 1, tags: {} });
    w.append({ type: 'metrics', step: 0, time: 2, values: { loss: 'NaN' } });
    w.close();
    appendFileSync(file, '{"seq":2,"type":"metr');
    const j = readJournal(file);
    expect(j.events.map((e) => e.seq)).toEqual([0, 1]);
    expect(j.tornTail).toBe(true);
    const lines = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, [lines[0], 'garbage', lines[1], ''].join('\n'));
    expect(() => readJournal(file)).toThrow(new RegExp(`${file}:2: not a JSON journal line`));
    rmSync(dir, { recursive: true });
  });

  it('keeps every params/metrics/tags/artifact event of a local run and answers queries from it', async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'runs-'));
    const t = await openTracker({ experiment: 'local-e', uri: null, runsDir, handleProcessEvents: false });
    const run = t.startRun({ runName: 'r1', tags: { 'pixelbert.row': '4' }, params: { lr: 0.01 } });
    run.logMetric('loss', 2, 0);
    run.logMetrics({ loss: 1, acc: NaN }, 1);
    run.logArtifact('plots/a.txt', new TextEncoder().encode('hi'));
    expect(() => run.logParam('lr', 0.02)).toThrow(/param 'lr' was already logged as "0.01"/);
    run.logParam('lr', 0.01); // same value again is fine, as in MLflow
    await run.end();
    const other = t.startRun({ runName: 'r2', tags: { 'pixelbert.row': '5' } });
    await other.end('FAILED');
    const found = await t.findRuns({ tags: { 'pixelbert.row': '4' }, status: 'FINISHED' });
    expect(found.map((r) => r.runName)).toEqual(['r1']);
    expect(found[0]!.params).toEqual({ lr: '0.01' });
    expect(found[0]!.metrics.loss).toBe(1);
    expect(Number.isNaN(found[0]!.metrics.acc)).toBe(true);
    expect(found[0]!.tags['mlflow.runName']).toBe('r1');
    expect(found[0]!.tags['mlflow.source.git.commit']).toMatch(/^[0-9a-f]{40}$/);
    expect(await t.metricHistory(found[0]!, 'loss')).toEqual([
      { step: 0, value: 2, timestamp: expect.any(Number) },
      { step: 1, value: 1, timestamp: expect.any(Number) },
    ]);
    expect(readFileSync(new LocalStore(runsDir).artifactFile(run.id, 'plots/a.txt'), 'utf8')).toBe('hi');
    expect(() => run.logMetric('loss', 0, 2)).toThrow(/has ended/);
    const r3 = t.startRun({ runName: 'limits' });
    expect(() => r3.setTag('long', 'x'.repeat(8001))).toThrow(/tag 'long' is 8001 characters; MLflow allows at most 8000/);
    expect(() => r3.logMetric('loss', '0.5' as unknown as number, 0)).toThrow(/metric 'loss' must be a number/);
    expect(() => r3.logParams({ 'bad*key': 1 })).toThrow(/param name "bad\*key" has characters MLflow refuses/);
    r3.logParams({ big: 'y'.repeat(6001) });
    await r3.end();
    const limited = new LocalStore(runsDir).readRun(r3.id);
    expect(limited.run.params.big).toBe('artifact:params/big.txt (6001 chars)');
    expect(readFileSync(new LocalStore(runsDir).artifactFile(r3.id, 'params/big.txt'), 'utf8')).toBe('y'.repeat(6001));
    expect(limited.events.filter((e) => e.type === 'tags' || e.type === 'metrics')).toEqual([]); // refused calls wrote nothing
    expect((await t.findRuns({ status: 'FAILED' })).map((r) => r.runName)).toEqual(['r2']);
    expect((await t.findRuns({})).length).toBe(3);
    rmSync(runsDir, { recursive: true });
  });

  it('loses at most the line being written when the process is killed with SIGKILL', async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'runs-kill-'));
    const script = join(workspaceRoot(), 'packages/tracking/src/testing/child-run.ts');
    const child = spawn(join(workspaceRoot(), 'node_modules/.bin/tsx'), [script, 'log-forever'], {
      env: { ...process.env, PIXEL_BERT_RUNS_DIR: runsDir, MLFLOW_TRACKING_URI: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Wait until the child has logged a good number of steps, then kill it without warning.
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (d) => {
        out += d;
        if (/step 2000\b/.test(out)) resolve();
      });
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const store = new LocalStore(runsDir);
    const [id] = store.listRunIds();
    const rec = store.readRun(id!); // throws if any complete line were damaged
    const steps = rec.events.filter((e) => e.type === 'metrics').map((e) => (e.type === 'metrics' ? e.step : -1));
    expect(steps.length).toBeGreaterThan(2000);
    expect(steps).toEqual(steps.map((_, i) => i)); // contiguous: nothing before the last line is missing
    expect(rec.run.status).toBe('RUNNING'); // no clean shutdown happened, so nothing pretends one did
    rmSync(runsDir, { recursive: true });
  });
});
