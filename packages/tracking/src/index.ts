// Public face of @pixel-bert/tracking: MLflow runs that nothing can lose.
export { openTracker, Tracker, RunHandle, trackedFromServer } from './tracker';
export type { TrackerOptions, StartRunOptions, ParamValue, FindRunsOptions } from './tracker';
export { TAGS, GIT_DIFF_ARTIFACT, SPEC_ARTIFACT } from './tags';
export { MlflowClient } from './rest/client';
export type { ClientOptions, RemoteRun, RunInfo, MetricPoint, ArtifactEntry, DatasetInput } from './rest/client';
export { chunkBatch } from './rest/batch';
export type { Batch, WireMetric, WireKV } from './rest/batch';
export { LocalStore } from './local/store';
export type { TrackedRun, RunQuery, DeliveryState } from './local/store';
export type { RunStatus, JournalEvent } from './local/journal';
export { Deliverer } from './delivery';
export { syncRuns } from './sync';
export type { SyncReport } from './sync';
export { flattenParams } from './flatten';
export { LIMITS } from './limits';
export { MlflowApiError, MlflowUnreachableError, TrackingInputError } from './errors';
export { defaultReportsDir, defaultRunsDir } from './paths';
