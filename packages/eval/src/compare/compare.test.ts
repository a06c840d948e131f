import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTracker } from '@pixel-bert/tracking';
import { runEvalCli } from '../testing/cli';
import { logRowRun, rowMetrics } from '../testing/row-runs';
import { compare, renderComparison } from './compare';

let dir: string;
let runsDir: string;
const ids: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eval-compare-'));
  runsDir = join(dir, 'runs');
  const tracker = await openTracker({ experiment: 'pixel-bert', uri: null, runsDir, handleProcessEvents: false });
  for (const [row, seed, vqa] of [[4, 0, 50], [5, 0, 53], [4, 1, 51], [5, 2, 54]] as const) {
    const metrics = rowMetrics({ vqa, tr: 20, nlvr2: 60 }, 0);
    if (row === 5) delete metrics['nlvr2.test.accuracy'];
    ids[`${row}-${seed}`] = (await logRowRun(tracker, { row, seed, metrics, stages: [] })).id;
  }
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('eval:compare', () => {
  it('--rows=4,5 --seed=0: only the keys that differ, every final metric with its delta', async () => {
    const c = await compare({ rows: [4, 5], seed: 0, trackingUri: null, runsDir, env: {} });
    expect(c.a.runId).toBe(ids['4-0']);
    expect(c.b.runId).toBe(ids['5-0']);
    expect(c.specDifferences).toEqual([
      { key: 'name', a: 'table6-row4', b: 'table6-row5' },
      { key: 'pretrain.pixelSampling.enabled', a: 'false', b: 'true' },
      { key: 'row', a: '4', b: '5' },
    ]);
    const vqa = c.metrics.find((m) => m.key === 'vqa.test.score')!;
    expect(vqa).toEqual({ key: 'vqa.test.score', a: 50, b: 53, delta: 3 });
    expect(c.metrics.find((m) => m.key === 'nlvr2.test.accuracy')).toEqual({ key: 'nlvr2.test.accuracy', a: 60, b: null, delta: null });
    const md = renderComparison(c);
    expect(md).toMatch(/\| pretrain\.pixelSampling\.enabled \| false \| true \|/);
    expect(md).toMatch(/\| vqa\.test\.score \| 50 \| 53 \| \+3 \|/);
    expect(md).toMatch(/\| nlvr2\.test\.accuracy \| 60 \| — \| — \|/);
  });

  it('--rows without --seed takes the newest seed both rows have', async () => {
    const c = await compare({ rows: [4, 5], trackingUri: null, runsDir, env: {} });
    expect([c.a.runId, c.b.runId]).toEqual([ids['4-0'], ids['5-0']]);
  });

  it('--runs=A,B compares any two runs by id; the same run twice has no spec differences', async () => {
    const c = await compare({ runs: [ids['4-1']!, ids['5-2']!], trackingUri: null, runsDir, env: {} });
    expect(c.specDifferences.map((d) => d.key)).toEqual(['name', 'pretrain.pixelSampling.enabled', 'row', 'seed']);
    const same = await compare({ runs: [ids['4-1']!, ids['4-1']!], trackingUri: null, runsDir, env: {} });
    expect(same.specDifferences).toEqual([]);
    expect(same.metrics.every((m) => m.delta === 0)).toBe(true);
  });

  it('the CLI prints the comparison; an unknown run, a row without runs or bad flags exit 2 with a clear message', () => {
    const ok = runEvalCli('compare', [`--runs=${ids['4-0']},${ids['5-0']}`], { PIXEL_BERT_RUNS_DIR: runsDir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/## Spec differences \(3 keys\)/);
    const unknown = runEvalCli('compare', [`--runs=${ids['4-0']},0123456789abcdef0123456789abcdef`], { PIXEL_BERT_RUNS_DIR: runsDir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/error: no run '0123456789abcdef0123456789abcdef' in local store .*runs/);
    const noRow = runEvalCli('compare', ['--rows=1,5'], { PIXEL_BERT_RUNS_DIR: runsDir });
    expect(noRow.code).toBe(2);
    expect(noRow.stderr).toMatch(/no finished run of row 1 in local store .*pixelbert\.row=1/);
    const noCommon = runEvalCli('compare', ['--rows=4,5', '--seed=1'], { PIXEL_BERT_RUNS_DIR: runsDir });
    expect(noCommon.code).toBe(2);
    expect(noCommon.stderr).toMatch(/no finished run of row 5 with seed 1/);
    const bad = runEvalCli('compare', ['--rows=4,9'], { PIXEL_BERT_RUNS_DIR: runsDir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--rows=9: expected a whole number from 1 to 6/);
    const both = runEvalCli('compare', ['--rows=4,5', '--runs=a,b']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give either --runs=A,B or --rows=R1,R2/);
  });
});
