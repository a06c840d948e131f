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

/**
 * Where local runs live: $PIXEL_BERT_RUNS_DIR, else `tracking/` under $PIXEL_BERT_STATE_DIR (where
 * training keeps its state), else <workspace>/runs/tracking — so training, eval and tracking:sync
 * read and write the same journal whichever of the two variables is set.
 */
export function defaultRunsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PIXEL_BERT_RUNS_DIR) return resolve(env.PIXEL_BERT_RUNS_DIR);
  if (env.PIXEL_BERT_STATE_DIR) return join(resolve(env.PIXEL_BERT_STATE_DIR), 'tracking');
  return join(workspaceRoot(), 'runs', 'tracking');
}

/**
 * Where reports (eval:table6, eval:attention) go unless --out says: `reports/` beside the local
 * runs they are built from — under $PIXEL_BERT_STATE_DIR, else beside $PIXEL_BERT_RUNS_DIR, else
 * <workspace>/runs/reports — so that a sweep kept in a state folder of its own never overwrites the
 * workspace's report.
 */
export function defaultReportsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PIXEL_BERT_STATE_DIR) return join(resolve(env.PIXEL_BERT_STATE_DIR), 'reports');
  if (env.PIXEL_BERT_RUNS_DIR) return join(dirname(resolve(env.PIXEL_BERT_RUNS_DIR)), 'reports');
  return join(workspaceRoot(), 'runs', 'reports');
}
