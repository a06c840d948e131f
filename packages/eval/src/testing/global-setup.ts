import type {} from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { WORKSPACE_ROOT } from '@pixel-bert/spec';

const run = promisify(execFile);
const SERVER = join(WORKSPACE_ROOT, 'tools', 'mlflow-server');
const NAME = 'vitest-eval';

/**
 * eval's integration tests read runs from a real MLflow server and check the report's links
 * against it: the one CI started (PIXEL_BERT_TEST_MLFLOW_URI), or one started here with
 * tools/mlflow-server (sqlite store, artifact proxy, temporary data), stopped afterwards.
 */
export default async function setup(project: TestProject) {
  let started = false;
  let uri = process.env.PIXEL_BERT_TEST_MLFLOW_URI;
  if (!uri) {
    const { stdout } = await run(SERVER, ['start', '--name', NAME], { maxBuffer: 1 << 20 });
    uri = stdout.trim().split('\n').pop()!;
    started = true;
  }
  project.provide('mlflowUri', uri);
  return async () => {
    if (started && process.env.PIXEL_BERT_TEST_KEEP_SERVERS !== '1') await run(SERVER, ['stop', '--name', NAME]).catch(() => {});
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    mlflowUri: string;
  }
}
