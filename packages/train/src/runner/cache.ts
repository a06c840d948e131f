// The run cache: a finished stage, by stage hash — its run, final metrics and weights. A later stage
// with the same hash takes these instead of training again.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from './paths';

export interface CachedStage {
  stageHash: string;
  kind: string;
  /** Local-store id of the run that computed it (its curves are there). */
  runId: string;
  metrics: Record<string, number>;
  seconds: number;
  finishedAt: string;
  /** The stage's weights (absolute path), when it trains a model. */
  weights: string | null;
}

export class RunCache {
  constructor(readonly dir: string = cacheDir()) {}

  stageDir(hash: string): string {
    return path.join(this.dir, hash);
  }

  get(hash: string): CachedStage | null {
    const file = path.join(this.stageDir(hash), 'result.json');
    if (!existsSync(file)) return null;
    let r: CachedStage;
    try {
      r = JSON.parse(readFileSync(file, 'utf8')) as CachedStage;
    } catch (e) {
      throw new Error(`run cache: ${file} is not readable JSON (${(e as Error).message}); delete it to recompute that stage`);
    }
    if (r.weights && !existsSync(r.weights)) return null; // weights gone: recompute
    return r;
  }

  /** Records a finished stage; the weights file must already be in `stageDir(hash)`. */
  put(r: CachedStage): void {
    const dir = this.stageDir(r.stageHash);
    mkdirSync(dir, { recursive: true });
    const tmp = path.join(dir, `.result.json.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(r, null, 2) + '\n');
    renameSync(tmp, path.join(dir, 'result.json'));
  }

  /** Where the row record of a finished (row, seed, spec, code) lives. */
  rowFile(key: string): string {
    return path.join(this.dir, 'rows', `${key}.json`);
  }
}
