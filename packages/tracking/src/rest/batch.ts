import { LIMITS, type WireNumber } from '../limits';

export interface WireMetric {
  key: string;
  value: WireNumber;
  timestamp: number;
  step: number;
}
export interface WireKV {
  key: string;
  value: string;
}
export interface Batch {
  metrics: WireMetric[];
  params: WireKV[];
  tags: WireKV[];
}

/**
 * Splits one logical batch into requests that each fit MLflow's log-batch limits: at most 1000
 * metrics, 100 params, 100 tags, 1000 entities and ~1 MB of JSON. Order within each kind is kept.
 * Params go first so that a run's configuration lands before its metrics.
 */
export function chunkBatch(batch: Batch, limits = LIMITS): Batch[] {
  const out: Batch[] = [];
  let cur: Batch = { metrics: [], params: [], tags: [] };
  let bytes = 0;
  const count = () => cur.metrics.length + cur.params.length + cur.tags.length;
  const push = <K extends keyof Batch>(kind: K, item: Batch[K][number], perKind: number) => {
    const size = JSON.stringify(item).length + 1;
    if (cur[kind].length >= perKind || count() >= limits.entitiesPerBatch || (bytes + size > limits.batchBytes && count() > 0)) {
      out.push(cur);
      cur = { metrics: [], params: [], tags: [] };
      bytes = 0;
    }
    (cur[kind] as Batch[K][number][]).push(item);
    bytes += size;
  };
  for (const p of batch.params) push('params', p, limits.paramsPerBatch);
  for (const t of batch.tags) push('tags', t, limits.tagsPerBatch);
  for (const m of batch.metrics) push('metrics', m, limits.metricsPerBatch);
  if (count() > 0) out.push(cur);
  return out;
}
