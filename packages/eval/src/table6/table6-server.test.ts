import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MlflowClient, openTracker } from '@pixel-bert/tracking';
import { compare } from '../compare/compare';
import { runEvalCli } from '../testing/cli';
import { logRowRun, rowMetrics } from '../testing/row-runs';
import { table6, type Table6Result } from './report';

/** Rows 1–6 logged into a real MLflow server (each test run in an experiment of its own), read back by eval:table6. */
const uri = inject('mlflowUri');
const experiment = `eval-table6-${Date.now()}-${process.pid}`;
let dir: string;
let result: Table6Result;
const client = new MlflowClient(uri);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eval-table6-server-'));
  const tracker = await openTracker({ experiment, uri, runsDir: join(dir, 'runs'), handleProcessEvents: false, log: () => {} });
  const means = { 1: 40, 2: 48, 3: 42, 4: 50, 5: 53, 6: 60 } as const;
  for (const row of [1, 2, 3, 4, 5, 6] as const) {
    for (const seed of [0, 1]) {
      await logRowRun(tracker, { row, seed, metrics: rowMetrics({ vqa: means[row], tr: means[row] - 20, ir: means[row] - 25, nlvr2: row === 1 || row === 3 ? 50 : 70 }, seed, 0.5), stages: row === 4 ? ['pretrain', 'vqa'] : [] });
    }
  }
  await logRowRun(tracker, { row: 6, seed: 2, metrics: {}, status: 'FAILED', stages: [] });
  await tracker.close();
  // Read from the server only: the local journals are moved out of the way.
  rmSync(join(dir, 'runs'), { recursive: true, force: true });
  result = await table6({ trackingUri: uri, experiment, runsDir: join(dir, 'reader-runs'), out: join(dir, 'out'), env: {} });
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('eval:table6 from a real MLflow server', () => {
  it('reads the row runs back from the server and averages the two seeds of each row', () => {
    const t = result.tables[0]!;
    expect(t.scale).toBe('smoke');
    expect(t.rows.every((r) => r.group?.runs.length === 2 && r.group.runs.every((x) => x.store === 'server'))).toBe(true);
    expect(t.rows[4]!.cells.vqa!.mean).toBeCloseTo(53.25, 10); // seeds 0 and 1: jitter 0 and +0.5
    expect(t.rows[4]!.cells.vqa!.n).toBe(2);
    expect(t.rows[2]!.toggles).toMatchObject({ mlm: false, itm: true, sampling: false, backbone: 'resnet50' });
    expect(t.excluded.map((e) => e.run.status)).toEqual(['FAILED']);
    expect(t.findings.find((f) => f.finding.id === 'mlm-vqa')!.verdict).toBe('reproduced');
  });

  it('links every counted run to its page in the MLflow UI, and each link names a run the server has', async () => {
    const expId = await client.getExperimentIdByName(experiment);
    const runs = result.tables[0]!.rows.flatMap((r) => r.group!.runs);
    expect(runs).toHaveLength(12);
    for (const r of runs) {
      expect(r.link).toBe(`${uri.replace(/\/+$/, '')}/#/experiments/${expId}/runs/${r.runId}`);
      const got = await client.getRun(r.link!.split('/runs/')[1]!);
      expect(got.info.runName).toBe(r.runName);
    }
    const html = readFileSync(join(result.out, 'report.html'), 'utf8');
    expect(html.match(/class="run-link"/g)).toHaveLength(12 + 1); // 12 counted + the failed one listed
  });

  it('logs the outputs as artifacts of a table6 run on the server', async () => {
    expect(result.runLink).toMatch(new RegExp(`^${uri.replace(/\/+$/, '')}/#/experiments/\\d+/runs/[0-9a-f]{32}$`));
    const remote = await client.getRun(result.runLink!.split('/runs/')[1]!);
    expect(remote.tags['pixelbert.kind']).toBe('table6');
    const files = (await client.listArtifacts(remote.info.artifactUri, 'table6')).map((a) => a.path).sort();
    expect(files).toEqual(['table6/report.html', 'table6/table6.csv', 'table6/table6.json', 'table6/table6.md', 'table6/table6.png', 'table6/table6.svg']);
    const md = new TextDecoder().decode(await client.downloadArtifact(remote.info.artifactUri, 'table6/table6.md'));
    expect(md).toBe(result.markdown);
  });

  it('eval:compare reads the same server: rows 4 and 5 of seed 0 differ in pixel sampling, their VQA by +3', async () => {
    const c = await compare({ rows: [4, 5], seed: 0, trackingUri: uri, experiment, runsDir: join(dir, 'reader-runs'), env: {} });
    expect([c.a.store, c.b.store]).toEqual(['server', 'server']);
    expect(c.specDifferences.map((d) => d.key)).toEqual(['name', 'pretrain.pixelSampling.enabled', 'row']);
    expect(c.metrics.find((m) => m.key === 'vqa.test.score')!.delta).toBeCloseTo(3, 10);
  });

  it('the CLI prints the table from the server; an experiment without runs exits 2 and says where it looked', () => {
    const ok = runEvalCli('table6', [`--tracking-uri=${uri}`, `--experiment=${experiment}`, `--out=${join(dir, 'cli-out')}`, '--no-log'], { PIXEL_BERT_RUNS_DIR: join(dir, 'cli-runs') });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/\| 5 \| ✓ \| ✓ \| ✓ \| resnet50 \(resnet-smoke\) \| 53\.25 ± 0\.35 \(n=2\) \|/);
    const none = runEvalCli('table6', [`--tracking-uri=${uri}`, '--experiment=eval-no-such-experiment', `--out=${join(dir, 'none')}`], { PIXEL_BERT_RUNS_DIR: join(dir, 'cli-runs') });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`no row runs found in the MLflow server ${uri}, experiment 'eval-no-such-experiment'`);
  });
});
