import { describe, expect, it } from 'vitest';
import { LIMITS } from '../limits';
import { chunkBatch, type Batch } from './batch';

const within = (b: Batch) =>
  b.metrics.length <= LIMITS.metricsPerBatch &&
  b.params.length <= LIMITS.paramsPerBatch &&
  b.tags.length <= LIMITS.tagsPerBatch &&
  b.metrics.length + b.params.length + b.tags.length <= LIMITS.entitiesPerBatch &&
  JSON.stringify(b).length <= 1_000_000;

describe('chunkBatch', () => {
  it("splits by MLflow's per-kind, total and size limits and keeps every entity once, in order", () => {
    const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: `m${i % 7}`, value: i, timestamp: 1, step: i }));
    const params = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: 'v' }));
    const tags = Array.from({ length: 130 }, (_, i) => ({ key: `t${i}`, value: 'x'.repeat(7000) }));
    const chunks = chunkBatch({ metrics, params, tags });
    expect(chunks.every(within)).toBe(true);
    expect(chunks.flatMap((c) => c.metrics)).toEqual(metrics);
    expect(chunks.flatMap((c) => c.params)).toEqual(params);
    expect(chunks.flatMap((c) => c.tags)).toEqual(tags);
    // 130 tags of 7 kB exceed 900 kB: the size limit, not only the count, must have split them.
    expect(chunks.filter((c) => c.tags.length > 0).length).toBeGreaterThanOrEqual(2);
  });
  it('returns no request for an empty batch', () => {
    expect(chunkBatch({ metrics: [], params: [], tags: [] })).toEqual([]);
  });
});
