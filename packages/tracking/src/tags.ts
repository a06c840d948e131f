/**
 * Tag names. `mlflow.*` are MLflow's own system tags (the UI reads them); `pixelbert.*` are the
 * workbench's: callers pass the values, the names live here so that every package spells them alike.
 */
export const TAGS = {
  runName: 'mlflow.runName',
  parentRunId: 'mlflow.parentRunId',
  user: 'mlflow.user',
  sourceName: 'mlflow.source.name',
  sourceType: 'mlflow.source.type',
  gitCommit: 'mlflow.source.git.commit',
  /** "true" when the work tree had uncommitted changes; the diff is the artifact GIT_DIFF_ARTIFACT. */
  gitDirty: 'pixelbert.git.dirty',
  /** Id of the run in the local journal it was delivered from (makes delivery idempotent). */
  localRunId: 'pixelbert.localRunId',
  specHash: 'pixelbert.specHash',
  row: 'pixelbert.row',
  scale: 'pixelbert.scale',
  seed: 'pixelbert.seed',
  backend: 'pixelbert.backend',
  /** Pipeline stage of a child run: pretrain, vqa, nlvr2, retrieval. */
  stage: 'pixelbert.stage',
} as const;

export const GIT_DIFF_ARTIFACT = 'git/uncommitted.diff';
export const SPEC_ARTIFACT = 'spec.yaml';
