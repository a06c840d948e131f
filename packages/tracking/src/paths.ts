import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace root: the nearest folder above this package holding nx.json. */
export function workspaceRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** Where local runs live: $PIXEL_BERT_RUNS_DIR, else <workspace>/runs/tracking. */
export function defaultRunsDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.PIXEL_BERT_RUNS_DIR;
  return fromEnv ? resolve(fromEnv) : join(workspaceRoot(), 'runs', 'tracking');
}
