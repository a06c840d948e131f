import type {} from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { WORKSPACE_ROOT } from '@pixel-bert/spec';

const run = promisify(execFile);
const SERVER = join(WORKSPACE_ROOT, 'tools', 'mlflow-server');
const NAME = 'vitest-train';

/**
 * The training tests sync a row's runs into a real MLflow server and read them back with the
 * official Python client: CI's server (PIXEL_BERT_TEST_MLFLOW_URI), or one started here with
 * tools/mlflow-server and stopped afterwards.
 */
export default async function setup(project: TestProject) {
  let started = false;
  let uri = process.env.PIXEL_BERT_TEST_MLFLOW_URI;
  if (!uri) {
    const { stdout } = await run(SERVER, ['start', '--name', NAME], { maxBuffer: 1 << 20 });
    uri = stdout.trim().split('\n').pop()!;
    started = true;
  }
  const { stdout: python } = await run(SERVER, ['python']);
  project.provide('mlflowUri', uri);
  project.provide('mlflowPython', python.trim());
  return async () => {
    if (started && process.env.PIXEL_BERT_TEST_KEEP_SERVERS !== '1') await run(SERVER, ['stop', '--name', NAME]).catch(() => {});
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    mlflowUri: string;
    mlflowPython: string;
  }
}
