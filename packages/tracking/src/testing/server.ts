// Test helpers around tools/mlflow-server and the independent Python reader (not exported from index.ts).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { workspaceRoot } from '../paths';

const run = promisify(execFile);

export const SERVER_SCRIPT = join(workspaceRoot(), 'tools', 'mlflow-server');
export const CHECK_RUN_PY = join(workspaceRoot(), 'packages', 'tracking', 'py', 'check_run.py');

export async function serverCommand(args: string[]): Promise<string> {
  const { stdout } = await run(SERVER_SCRIPT, args, { maxBuffer: 1 << 20 });
  return stdout.trim();
}

/** What the official Python client reads of a run (see py/check_run.py). */
export interface PyRunView {
  run_id: string;
  status: string;
  run_name: string;
  start_time: number;
  end_time: number | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, [number, number | string, number][]>;
  artifacts: Record<string, string>;
  inputs: { name: string; digest: string; source_type: string; source: string; context: string | null }[];
  copies_by_local_id: number | null;
}

let python: Promise<string> | null = null;

/** The Python that tools/mlflow-server installed the pinned mlflow into. */
export function mlflowPython(): Promise<string> {
  python ??= serverCommand(['python']).then((out) => out.split('\n').pop()!);
  return python;
}

export async function readWithPython(uri: string, runId: string): Promise<PyRunView> {
  const py = await mlflowPython();
  const { stdout } = await run(py, [CHECK_RUN_PY, '--uri', uri, '--run-id', runId], { maxBuffer: 256 << 20 });
  return JSON.parse(stdout);
}
