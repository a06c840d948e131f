import { describe, expect, it } from 'vitest';
import { buildTable } from './build';
import { renderMarkdown, toJson } from './render';
import type { RowRun } from './runs';

const run = (row: number, seed: number, metrics: Record<string, number>): RowRun => ({
  store: 'local',
  runId: `r${row}s${seed}`,
  runName: `row${row}-seed${seed}-small`,
  status: 'FINISHED',
  startTime: row * 10 + seed,
  row,
  seed,
  scale: 'small',
  specHash: `spec${row}${seed}`,
  configHash: `config${row}`,
  codeVersion: 'c0de',
  backend: 'cpu',
  toggles: { mlm: row !== 1 && row !== 3, itm: row >= 3, sampling: row >= 5, backbone: 'resnet50', arch: 'resnet-small' },
  metrics,
  params: {},
  link: null,
});

describe('Table 6 reference levels', () => {
  it("shows the chance and counting levels the runs logged for their test splits, averaged over the counted runs", () => {
    const runs = [1, 2].flatMap((row) =>
      [0, 1].map((seed) =>
        run(row, seed, {
          'vqa.test.score': 60 + seed,
          'vqa.test.chance': 20.86,
          'retrieval.test.chance.tr_r1': 1,
          'retrieval.test.chance.ir_r1': 1,
          'retrieval.test.counting.tr_r1': 2,
          'retrieval.test.counting.ir_r1': row === 1 ? 1.9 : 2.1,
        }),
      ),
    );
    const t = buildTable('small', runs);
    expect(t.baselines.map((b) => b.metric)).toEqual(['vqa.test.chance', 'retrieval.test.chance.tr_r1', 'retrieval.test.chance.ir_r1', 'retrieval.test.counting.tr_r1', 'retrieval.test.counting.ir_r1']);
    expect(t.baselines.find((b) => b.metric === 'retrieval.test.counting.ir_r1')!.summary).toMatchObject({ n: 4, mean: 2 });
    const md = renderMarkdown([t], { source: 'test' });
    expect(md).toContain('VQA chance (the most frequent training answer) 20.86');
    expect(md).toMatch(/IR R@1 of counting the objects alone 2\.00 ± 0\.12/);
    const json = toJson([t], {}) as { scales: { baselines: { metric: string; mean: number; n: number }[] }[] };
    expect(json.scales[0]!.baselines.find((b) => b.metric === 'vqa.test.chance')).toMatchObject({ mean: 20.86, n: 4 });
  });

  it('says nothing of levels no run logged (older runs)', () => {
    const t = buildTable('small', [run(1, 0, { 'vqa.test.score': 60 })]);
    expect(t.baselines).toEqual([]);
    expect(renderMarkdown([t], { source: 'test' })).not.toContain('Reference levels');
  });
});
