// Runs one of eval's CLIs as a user would (tsx, from the workspace root) and captures its output.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from '@pixel-bert/spec';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runEvalCli(name: 'table6' | 'compare' | 'attention', args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [join(WORKSPACE_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(WORKSPACE_ROOT, 'packages', 'eval', 'src', 'cli', `${name}.ts`), ...args], {
    cwd: WORKSPACE_ROOT,
    encoding: 'utf8',
    env: { ...process.env, MLFLOW_TRACKING_URI: '', ...env },
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
