/**
 * Runs and their artifacts by id, from whichever store holds them: the tracker's server when it has
 * one, the local store otherwise (a local id also works while a server is configured).
 */
import { existsSync, readFileSync } from 'node:fs';
import { MlflowApiError, MlflowClient, openTracker, trackedFromServer, type Tracker, type TrackedRun } from '@pixel-bert/tracking';
import { DEFAULT_EXPERIMENT } from './table6/definitions';

/** A user-facing problem (bad flag, unknown run, unreachable server): printed as is, exit code 2. */
export class EvalError extends Error {
  override name = 'UsageError'; // @pixel-bert/spec's runCli prints UsageErrors without a stack, exit 2
}

/** Fails clearly when a tracking URI does not answer, before anything is read or written. */
export async function checkServer(uri: string): Promise<void> {
  let ok = false;
  let why = '';
  try {
    ok = await new MlflowClient(uri).health();
  } catch (e) {
    why = `: ${(e as Error).message}`;
  }
  if (!ok) {
    throw new EvalError(
      `the MLflow server at ${uri} does not answer (GET ${uri.replace(/\/+$/, '')}/health failed${why}). ` +
        `Check --tracking-uri / MLFLOW_TRACKING_URI, or start a server with tools/mlflow-server start. Nothing was written.`,
    );
  }
}

/** Where the eval commands read runs from, as every one of them takes it. */
export interface TrackerChoice {
  /** MLflow server; undefined: $MLFLOW_TRACKING_URI; null: the local store only. */
  trackingUri?: string | null;
  /** Default $PIXEL_BERT_EXPERIMENT, else 'pixel-bert' (docs/runs.md). */
  experiment?: string;
  /** Local store folder (default $PIXEL_BERT_RUNS_DIR or <workspace>/runs/tracking). */
  runsDir?: string;
  env?: NodeJS.ProcessEnv;
}

/** Opens the tracker to read from; a server URI that does not answer fails here, before anything is written. */
export async function openForReading(c: TrackerChoice): Promise<{ tracker: Tracker; uri: string | null; experiment: string }> {
  const env = c.env ?? process.env;
  const uri = c.trackingUri === undefined ? env.MLFLOW_TRACKING_URI || null : c.trackingUri;
  const experiment = c.experiment ?? env.PIXEL_BERT_EXPERIMENT ?? DEFAULT_EXPERIMENT;
  if (uri) await checkServer(uri);
  const tracker = await openTracker({ experiment, uri, runsDir: c.runsDir, env, log: () => {} });
  return { tracker, uri, experiment };
}

/** The run with this id: from the server (by its id) or the local store (by its local id). */
export async function getRun(tracker: Tracker, runId: string): Promise<TrackedRun> {
  if (!/^[0-9a-zA-Z_-]{1,64}$/.test(runId)) throw new EvalError(`'${runId}' is not a run id (MLflow run ids are 32 hex digits)`);
  if (tracker.store.listRunIds().includes(runId)) return tracker.store.readRun(runId).run;
  if (tracker.client) {
    try {
      return trackedFromServer(await tracker.client.getRun(runId), tracker.experiment);
    } catch (e) {
      // MLflow answers an unknown id with 404 RESOURCE_DOES_NOT_EXIST (some versions: 400 INVALID_PARAMETER_VALUE).
      if (!(e instanceof MlflowApiError && (e.status === 404 || e.errorCode === 'RESOURCE_DOES_NOT_EXIST' || e.errorCode === 'INVALID_PARAMETER_VALUE'))) throw e;
    }
  }
  throw new EvalError(
    `no run '${runId}' in ${tracker.describe()}${tracker.client ? ' nor in its local store' : ''}. ` +
      `Run ids are shown by eval:table6 (and in the MLflow UI); a run logged elsewhere needs --tracking-uri of the server that holds it.`,
  );
}

/** Artifact paths of a run under `dir` (recursively; '' = all). */
export async function listRunArtifacts(tracker: Tracker, run: Pick<TrackedRun, 'store' | 'runId'>, dir = ''): Promise<string[]> {
  const under = (p: string) => dir === '' || p.startsWith(dir.replace(/\/+$/, '') + '/');
  if (run.store === 'local') {
    return [...new Set(tracker.store.readRun(run.runId).artifacts.map((a) => a.path))].filter(under).sort();
  }
  const client = tracker.client!;
  const { info } = await client.getRun(run.runId);
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await client.listArtifacts(info.artifactUri, d)) {
      if (e.isDir) await walk(e.path);
      else out.push(e.path);
    }
  };
  await walk(dir.replace(/\/+$/, ''));
  return out.sort();
}

export async function readRunArtifact(tracker: Tracker, run: Pick<TrackedRun, 'store' | 'runId'>, path: string): Promise<Uint8Array> {
  if (run.store === 'local') {
    const file = tracker.store.artifactFile(run.runId, path);
    if (!existsSync(file)) throw new EvalError(`run ${run.runId} has no artifact '${path}' (looked for ${file})`);
    return readFileSync(file);
  }
  const client = tracker.client!;
  const { info } = await client.getRun(run.runId);
  return client.downloadArtifact(info.artifactUri, path);
}
