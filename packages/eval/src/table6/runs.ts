/**
 * Reading row runs (docs/runs.md) back from the tracker: the local store or an MLflow server.
 */
import { createHash } from 'node:crypto';
import { TAGS, type Tracker, type TrackedRun } from '@pixel-bert/tracking';
import { RUN_KINDS, RUN_TAGS, TOGGLE_PARAMS, type Toggles } from './definitions';

export interface RowRun {
  store: 'local' | 'server';
  runId: string;
  runName: string;
  status: string;
  startTime: number;
  row: number | null;
  seed: number | null;
  scale: string;
  specHash: string;
  /**
   * What must be equal for runs to be averaged: the resolved spec without its seed. The tag
   * pixelbert.specHash covers the seed too (it differs between seeds of one row), so this is the
   * sha256 of the run's params (the flattened spec) less `seed`, `name` and `description`; runs
   * without params fall back to their spec hash.
   */
  configHash: string;
  codeVersion: string;
  backend: string;
  toggles: Toggles;
  /** Latest value of each metric. */
  metrics: Record<string, number>;
  params: Record<string, string>;
  /** The run's page in the MLflow UI, when a server that holds it is known. */
  link: string | null;
}

function parseBool(v: string | undefined): boolean | null {
  if (v === 'true') return true;
  if (v === 'false') return false;
  return null;
}

function parseIntTag(v: string | undefined): number | null {
  return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : null;
}

/** Params that differ between seeds of one configuration, or only label it. */
const NOT_CONFIGURATION = new Set(['seed', 'name', 'description']);

export function configHashOf(params: Record<string, string>, specHash: string): string {
  const keys = Object.keys(params).filter((k) => !NOT_CONFIGURATION.has(k)).sort();
  if (keys.length === 0) return specHash;
  const h = createHash('sha256');
  for (const k of keys) h.update(`${k}\u0000${params[k]}\u0000`);
  return h.digest('hex');
}

export function togglesOf(params: Record<string, string>): Toggles {
  return {
    mlm: parseBool(params[TOGGLE_PARAMS.mlm]),
    itm: parseBool(params[TOGGLE_PARAMS.itm]),
    sampling: parseBool(params[TOGGLE_PARAMS.sampling]),
    backbone: params[TOGGLE_PARAMS.backbone] ?? null,
    arch: params[TOGGLE_PARAMS.arch] ?? null,
  };
}

/** The MLflow UI's page of a run. */
export function runLink(uri: string, experimentId: string, runId: string): string {
  return `${uri.replace(/\/+$/, '')}/#/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(runId)}`;
}

export function toRowRun(r: TrackedRun, link: string | null): RowRun {
  return {
    store: r.store,
    runId: r.runId,
    runName: r.runName,
    status: r.status,
    startTime: r.startTime,
    row: parseIntTag(r.tags[TAGS.row]),
    seed: parseIntTag(r.tags[TAGS.seed]),
    scale: r.tags[TAGS.scale] ?? '(no scale tag)',
    specHash: r.tags[TAGS.specHash] ?? '(no spec hash)',
    configHash: configHashOf(r.params, r.tags[TAGS.specHash] ?? '(no spec hash)'),
    codeVersion: r.tags[RUN_TAGS.codeVersion] ?? '(no code version)',
    backend: r.tags[TAGS.backend] ?? '',
    toggles: togglesOf(r.params),
    metrics: r.metrics,
    params: r.params,
    link,
  };
}

export interface ReadOptions {
  scale?: string;
}

/**
 * Every row run of the tracker's experiment (any status: unfinished ones are listed, not counted),
 * from the server when the tracker has one, else from the local store. Links point at `linkUri`
 * (the tracker's server by default): server runs directly, local runs through their delivery record.
 */
export async function readRowRuns(tracker: Tracker, opts: ReadOptions = {}, linkUri: string | null = tracker.uri): Promise<RowRun[]> {
  const tags: Record<string, string> = { [RUN_TAGS.kind]: RUN_KINDS.row };
  if (opts.scale) tags[TAGS.scale] = opts.scale;
  const runs = await tracker.findRuns({ tags });
  let experimentId: string | null = null;
  if (tracker.client && runs.some((r) => r.store === 'server')) experimentId = await tracker.client.getExperimentIdByName(tracker.experiment);
  return runs.map((r) => {
    let link: string | null = null;
    if (r.store === 'server' && tracker.uri && experimentId !== null) link = runLink(tracker.uri, experimentId, r.runId);
    else if (r.store === 'local' && linkUri) {
      const d = tracker.store.readDelivery(r.runId)[linkUri];
      if (d) link = runLink(linkUri, d.experimentId, d.remoteRunId);
    }
    return toRowRun(r, link);
  });
}
