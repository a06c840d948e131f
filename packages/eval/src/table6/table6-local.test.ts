import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTracker, type Tracker } from '@pixel-bert/tracking';
import { logRowRun, rowMetrics } from '../testing/row-runs';
import { table6, type Table6Result } from './report';

/** Row means over the generated world that follow the paper's findings (percent). */
export const PAPER_LIKE = {
  1: { vqa: 40, tr: 10, ir: 8, nlvr2: 50 },
  2: { vqa: 48, tr: 14, ir: 11, nlvr2: 66 },
  3: { vqa: 42, tr: 26, ir: 23, nlvr2: 50.5 },
  4: { vqa: 50, tr: 28, ir: 25, nlvr2: 68 },
  5: { vqa: 53, tr: 31, ir: 28, nlvr2: 71 },
  6: { vqa: 60, tr: 40, ir: 36, nlvr2: 78 },
} as const;

let dir: string;
let tracker: Tracker;
let result: Table6Result;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eval-table6-'));
  tracker = await openTracker({ experiment: 'pixel-bert', uri: null, runsDir: join(dir, 'runs'), handleProcessEvents: false });
  for (const row of [1, 2, 3, 4, 5, 6] as const) {
    for (const seed of [0, 1, 2]) {
      const metrics = rowMetrics(PAPER_LIKE[row], seed, 0.6);
      metrics['vqa.test.score.colour'] = PAPER_LIKE[row].vqa + (row >= 2 && row !== 3 ? 10 : 0) + seed * 0.3;
      metrics['vqa.test.score.count'] = 30 + seed * 0.3;
      if (row === 4 && seed === 2) delete metrics['nlvr2.test.accuracy']; // a run without a metric
      await logRowRun(tracker, { row, seed, metrics });
    }
  }
  // Not counted: a failed run, one still running, and one of another code version.
  await logRowRun(tracker, { row: 2, seed: 3, metrics: rowMetrics({ vqa: 0, tr: 0, ir: 0, nlvr2: 0 }, 3), status: 'FAILED' });
  await logRowRun(tracker, { row: 5, seed: 4, metrics: {}, status: 'RUNNING', stages: [] });
  await logRowRun(tracker, { row: 1, seed: 7, metrics: rowMetrics({ vqa: 99, tr: 99, ir: 99, nlvr2: 99 }, 0), codeVersion: 'aaaaaaaaaaaa' });
  // Another configuration of row 2 (a --set override): never averaged in.
  await logRowRun(tracker, { row: 2, seed: 5, metrics: rowMetrics({ vqa: 10, tr: 10, ir: 10, nlvr2: 10 }, 0), set: ['pretrain.tasks.itm=true'], stages: [] });
  // Another scale is never averaged with smoke.
  await logRowRun(tracker, { row: 1, seed: 0, scale: 'small', metrics: rowMetrics({ vqa: 77 }, 0) });
  // Paper scale: rows 5 and 6 sit beside the paper's full-model numbers.
  for (const seed of [0, 1]) {
    await logRowRun(tracker, { row: 5, seed, scale: 'paper', metrics: rowMetrics({ vqa: 70, tr: 74, ir: 52, nlvr2: 71 }, seed), stages: [] });
    await logRowRun(tracker, { row: 6, seed, scale: 'paper', metrics: rowMetrics({ vqa: 73, tr: 86, ir: 70, nlvr2: 76 }, seed), stages: [] });
  }
  result = await table6({ trackingUri: null, runsDir: join(dir, 'runs'), out: join(dir, 'out'), env: {} });
}, 120_000);

afterAll(() => { if (process.env.EVAL_KEEP) console.log("kept", dir); else rmSync(dir, { recursive: true, force: true }); });

describe('eval:table6 from the local store', () => {
  it('builds one table per scale with six rows, mean ± std over three seeds', () => {
    expect(result.tables.map((t) => t.scale)).toEqual(['smoke', 'small', 'paper']);
    const smoke = result.tables[0]!;
    expect(smoke.rows.map((r) => r.row)).toEqual([1, 2, 3, 4, 5, 6]);
    const r2 = smoke.rows[1]!;
    expect(r2.toggles).toMatchObject({ mlm: true, itm: false, sampling: false, backbone: 'resnet50', arch: 'resnet-smoke' });
    expect(r2.cells.vqa).toMatchObject({ n: 3 });
    expect(r2.cells.vqa!.mean).toBeCloseTo(48, 10); // jitters 0, +0.6, −0.6
    expect(r2.cells.vqa!.std).toBeCloseTo(0.6, 10);
    expect(smoke.rows[5]!.toggles.backbone).toBe('resnext152');
    // The small-scale run stands alone: only row 1, n = 1, not averaged into smoke.
    const small = result.tables[1]!;
    expect(small.rows[0]!.cells.vqa).toMatchObject({ n: 1, mean: 77 });
    expect(small.rows.slice(1).every((r) => r.group === null && r.cells.vqa!.n === 0)).toBe(true);
    expect(small.findings.every((f) => f.verdict === 'inconclusive')).toBe(true);
  });

  it('counts neither failed nor unfinished runs, and lists them', () => {
    const smoke = result.tables[0]!;
    expect(smoke.excluded.map((e) => [e.run.runName, e.run.status]).sort()).toEqual([
      ['row2-seed3-smoke', 'FAILED'],
      ['row5-seed4-smoke', 'RUNNING'],
    ]);
    expect(smoke.rows[1]!.cells.vqa!.n).toBe(3);
    expect(result.markdown).toMatch(/### Runs not counted\n\n(- .*\n)*- row2-seed3-smoke \([0-9a-f]{32}\): status FAILED: not counted/);
    expect(result.markdown).toMatch(/- row5-seed4-smoke \([0-9a-f]{32}\): status RUNNING: not counted/);
  });

  it('never averages another code version in: it is flagged', () => {
    const r1 = result.tables[0]!.rows[0]!;
    expect(r1.group!.codeVersion).toBe('c0de0000c0de');
    expect(r1.others.map((g) => g.codeVersion)).toEqual(['aaaaaaaaaaaa']);
    expect(r1.cells.vqa!.mean).toBeCloseTo(40, 10);
    expect(r1.flags.join('\n')).toMatch(/not averaged in: 1 run\(s\) with spec [0-9a-f]{12} \/ code aaaaaaaaaaaa .*row1-seed7-smoke/);
  });

  it('never averages another configuration of a row in (a --set override): it is flagged, with its toggles', () => {
    const r2 = result.tables[0]!.rows[1]!;
    expect(r2.group!.runs.map((r) => r.seed)).toEqual([0, 1, 2]);
    expect(r2.toggles.itm).toBe(false);
    expect(r2.others).toHaveLength(1);
    expect(r2.others[0]!.runs[0]!.toggles).toMatchObject({ mlm: true, itm: true });
    expect(r2.flags.join('\n')).toMatch(/not averaged in: 1 run\(s\) with spec [0-9a-f]{12} \/ code c0de0000c0de .*row2-seed5-smoke/);
  });

  it('sets the paper-scale rows 5 and 6 beside the paper\'s numbers, with their source', () => {
    const paperMd = result.markdown.slice(result.markdown.indexOf('## Scale `paper`'));
    expect(paperMd).toMatch(/\| paper 5 \|  \|  \|  \| ResNet-50 \| 71\.35 \(VQA 2\.0 test-dev\) \| 75\.7 \(Flickr30K TR R@1\); 59\.8 \(MS-COCO 5K TR R@1\) \|/);
    expect(paperMd).toMatch(/\| paper 6 \|  \|  \|  \| ResNeXt-152 \| 74\.45 \(VQA 2\.0 test-dev\) \|/);
    expect(paperMd).toMatch(/Huang et al\. 2020 \(arXiv 2004\.00849\), Tables 2–5/);
    expect(result.markdown.slice(0, result.markdown.indexOf('## Scale `paper`'))).not.toMatch(/\| paper 5 \|/);
    const backbone = result.tables[2]!.findings.find((f) => f.finding.id === 'backbone')!;
    expect(backbone.verdict).toBe('reproduced'); // row 6 − row 5: +3, +12, +18, +5 with spread 0.7
  });

  it('shows a missing metric as missing with its n, never as zero', () => {
    const r4 = result.tables[0]!.rows[3]!;
    expect(r4.cells.nlvr2).toMatchObject({ n: 2 });
    expect(r4.flags.join('\n')).toMatch(/1 run\(s\) lack nlvr2.test.accuracy: row4-seed2-smoke/);
    const smallMd = result.markdown.slice(result.markdown.indexOf('## Scale `small`'));
    expect(smallMd).toMatch(/\| 2 \| ✓ \|  \|  \| resnet50 \| — \| — \| — \| — \|/); // a missing row: its canonical toggles, no numbers
    const csv = readFileSync(join(result.out, 'table6.csv'), 'utf8').trim().split('\n');
    const header = csv[0]!.split(',');
    const smallRow2 = csv.find((l) => l.startsWith('small,2,'))!.split(',');
    expect(smallRow2[header.indexOf('vqa_mean')]).toBe('');
    expect(smallRow2[header.indexOf('vqa_n')]).toBe('0');
  });

  it('gives the paper-like runs the verdicts the numbers support', () => {
    const v = Object.fromEntries(result.tables[0]!.findings.map((f) => [f.finding.id, f.verdict]));
    expect(v).toEqual({
      'mlm-vqa': 'reproduced',
      'itm-vqa': 'reproduced',
      'itm-retrieval': 'reproduced',
      'nlvr2-needs-mlm': 'reproduced',
      'mlm-itm-combined': 'reproduced',
      'sampling-vqa': 'reproduced',
      'sampling-retrieval': 'reproduced',
      'sampling-nlvr2': 'reproduced',
      backbone: 'reproduced',
    });
  });

  it('prints Markdown with the toggles, the verdicts and the per-type table', () => {
    const md = result.markdown;
    expect(md).toMatch(/\| row \| MLM \| ITM \| sampling \| backbone \| VQA \| TR R@1 \| IR R@1 \| NLVR² \|/);
    expect(md).toMatch(/\| 5 \| ✓ \| ✓ \| ✓ \| resnet50 \(resnet-smoke\) \| 53\.00 ± 0\.60 \(n=3\) \|/);
    expect(md).toMatch(/\| MLM pre-training adds about 7\.6 to VQA \(row 2 vs row 1\) \| REPRODUCED \| VQA: row 2 − row 1 \(paper \+7\.6\) = 8\.00, 95 % CI \[6\.67, 9\.33\]/);
    const perType = result.tables[0]!.perType.find((p) => p.type === 'colour')!;
    expect(perType.effects[0]!.diff).toBeCloseTo(18, 10); // MLM adds 8 overall and 10 more on colour
    expect(result.tables[0]!.perType.find((p) => p.type === 'count')!.effects[0]!.diff).toBeCloseTo(0, 10);
    expect(md).toMatch(/\| VQA \| colour \|/);
  });

  it('writes CSV, JSON, SVG, PNG and HTML, and logs them as artifacts of a table6 run', async () => {
    expect(readdirSync(result.out).sort()).toEqual(['report.html', 'table6.csv', 'table6.json', 'table6.md', 'table6.png', 'table6.svg']);
    const json = JSON.parse(readFileSync(join(result.out, 'table6.json'), 'utf8'));
    expect(json.method.alpha).toBe(0.05);
    expect(json.scales[1].rows[1].cells.vqa).toMatchObject({ n: 0, mean: null });
    expect(json.paperReference.find((r: any) => r.on === 'VQA 2.0 test-dev')).toMatchObject({ r50: 71.35, x152: 74.45 });
    const png = await sharp(join(result.out, 'table6.png')).stats();
    expect(png.channels.slice(0, 3).some((c) => c.stdev > 10)).toBe(true); // not blank
    const meta = await sharp(join(result.out, 'table6.png')).metadata();
    expect(meta.width).toBeGreaterThan(600);
    expect(readFileSync(join(result.out, 'report.html'), 'utf8')).toMatch(/<tr class="table6-row" data-row="6">/);
    const runs = await tracker.findRuns({ tags: { 'pixelbert.kind': 'table6' } });
    expect(runs.map((r) => r.runId)).toEqual([result.runId]);
    const arts = tracker.store.readRun(result.runId!).artifacts.map((a) => a.path).filter((p) => p.startsWith('table6/')).sort();
    expect(arts).toEqual(['table6/report.html', 'table6/table6.csv', 'table6/table6.json', 'table6/table6.md', 'table6/table6.png', 'table6/table6.svg']);
  });

  it('with no runs says where it looked and which tags it expected, and writes nothing', async () => {
    const out = join(dir, 'none');
    await expect(table6({ trackingUri: null, runsDir: join(dir, 'empty-store'), out, env: {} })).rejects.toThrow(
      /no row runs found in the local store .*empty-store, experiment 'pixel-bert': looked for runs tagged pixelbert\.kind=row .*Nothing was written/,
    );
    await expect(table6({ trackingUri: null, runsDir: join(dir, 'runs'), out, experiment: 'nothing-here', scale: 'paper', env: {} })).rejects.toThrow(
      /experiment 'nothing-here': looked for runs tagged pixelbert\.kind=row and pixelbert\.scale=paper .*--scale=paper/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('with a tracking URI that does not answer fails clearly and writes nothing', async () => {
    const out = join(dir, 'down');
    await expect(table6({ trackingUri: 'http://127.0.0.1:9', runsDir: join(dir, 'runs'), out, env: {} })).rejects.toThrow(
      /the MLflow server at http:\/\/127\.0\.0\.1:9 does not answer .*Nothing was written/,
    );
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('down'))).toEqual([]);
  });
});
