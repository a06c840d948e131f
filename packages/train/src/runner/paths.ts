import path from 'node:path';
import { WORKSPACE_ROOT } from '@pixel-bert/spec';

/**
 * Where the workbench keeps its state: `runs/` under the workspace (tracking journal, run cache,
 * checkpoints), or `$PIXEL_BERT_STATE_DIR`; with only `$PIXEL_BERT_RUNS_DIR` set (the tracker's
 * journal folder), its parent.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PIXEL_BERT_STATE_DIR) return path.resolve(env.PIXEL_BERT_STATE_DIR);
  if (env.PIXEL_BERT_RUNS_DIR) return path.dirname(path.resolve(env.PIXEL_BERT_RUNS_DIR));
  return path.join(WORKSPACE_ROOT, 'runs');
}

export const trackingDir = (env: NodeJS.ProcessEnv = process.env) => (env.PIXEL_BERT_RUNS_DIR ? path.resolve(env.PIXEL_BERT_RUNS_DIR) : path.join(stateDir(env), 'tracking'));
export const cacheDir = (env: NodeJS.ProcessEnv = process.env) => path.join(stateDir(env), 'cache');
export const checkpointDir = (env: NodeJS.ProcessEnv = process.env) => path.join(stateDir(env), 'checkpoints');
