import type {} from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { workspaceRoot } from '../paths';
import { serverCommand } from './server';

/**
 * The integration tests always run against a real MLflow server: the one CI started
 * (PIXEL_BERT_TEST_MLFLOW_URI), or one started here with tools/mlflow-server. The fault tests get
 * a second server of their own that they may kill and restart.
 */
export default async function setup(project: TestProject) {
  const started: string[] = [];
  const faultData = mkdtempSync(join(tmpdir(), 'pixel-bert-mlflow-fault-'));
  const startServer = async (name: string, extra: string[] = []) => {
    const out = await serverCommand(['start', '--name', name, ...extra]);
    started.push(name);
    return out.split('\n').pop()!;
  };
  const settled = await Promise.allSettled([
    process.env.PIXEL_BERT_TEST_MLFLOW_URI || startServer('vitest'),
    startServer('vitest-fault', ['--data-dir', faultData]),
  ]);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    for (const name of started) await serverCommand(['stop', '--name', name]).catch(() => {});
    rmSync(faultData, { recursive: true, force: true });
    throw new Error(`could not start the MLflow servers for the tracking tests: ${(failed as PromiseRejectedResult).reason}`);
  }
  const [main, fault] = settled.map((s) => (s as PromiseFulfilledResult<string>).value) as [string, string];
  project.provide('mlflowUri', main);
  // `start` reuses a server that is already up (PIXEL_BERT_TEST_KEEP_SERVERS=1 keeps them between runs), so read its data dir back.
  const stateRoot = process.env.PIXEL_BERT_MLFLOW_STATE_DIR ?? join(workspaceRoot(), '.cache', 'mlflow-server');
  const dataDir = readFileSync(join(stateRoot, 'vitest-fault', 'data'), 'utf8').trim();
  if (dataDir !== faultData) rmSync(faultData, { recursive: true, force: true }); // a reused server keeps its own
  project.provide('faultServer', { uri: fault, name: 'vitest-fault', dataDir });
  return async () => {
    if (process.env.PIXEL_BERT_TEST_KEEP_SERVERS === '1') return;
    for (const name of started) await serverCommand(['stop', '--name', name]).catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    mlflowUri: string;
    faultServer: { uri: string; name: string; dataDir: string };
  }
}
