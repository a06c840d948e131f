import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, inject, it } from 'vitest';
import { workspaceRoot } from './paths';
import { syncRuns } from './sync';
import { readWithPython } from './testing/server';

const uri = inject('mlflowUri');

it('tracking:bench into the local store, then sync: the official Python client sees all 10,000 points', async () => {
  const runsDir = mkdtempSync(join(tmpdir(), 'tracking-bench-'));
  const { stdout } = await promisify(execFile)(
    join(workspaceRoot(), 'node_modules/.bin/tsx'),
    [join(workspaceRoot(), 'packages/tracking/src/cli/bench.ts'), `--runs-dir=${runsDir}`, '--no-record'],
    { env: { ...process.env, MLFLOW_TRACKING_URI: '' } },
  );
  expect(stdout).toMatch(/points: 10000 in .* metrics\/s/);
  expect(stdout).toMatch(/caller overhead per step \(20 logMetric calls\): mean [\d.]+ ms/);
  const report = await syncRuns({ to: uri, runsDir });
  expect(report.failed).toEqual([]);
  const py = await readWithPython(uri, report.runs[0]!.remoteRunId);
  const keys = Object.keys(py.metrics);
  expect(keys).toHaveLength(20);
  expect(keys.reduce((n, k) => n + py.metrics[k]!.length, 0)).toBe(10_000);
  for (const k of keys) expect(py.metrics[k]!.map(([s]) => s)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  expect(Object.keys(py.params)).toHaveLength(30);
  expect(py.artifacts['bench/blob.bin']).toMatch(/^[0-9a-f]{64}$/);
  expect(py.status).toBe('FINISHED');
  rmSync(runsDir, { recursive: true });
});
