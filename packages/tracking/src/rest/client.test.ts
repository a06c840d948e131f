import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MlflowApiError, MlflowUnreachableError } from '../errors';
import { FaultProxy } from '../testing/fault-proxy';
import { MlflowClient } from './client';

const uri = inject('mlflowUri');
let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await new FaultProxy(uri).start();
});
afterAll(() => proxy.stop());

const fast = { baseDelayMs: 20, maxDelayMs: 200 };

async function freshRun(client: MlflowClient, name: string) {
  const exp = await client.getOrCreateExperiment(`client-test-${Date.now()}-${Math.random()}`);
  return client.createRun({ experimentId: exp, runName: name, startTime: Date.now(), tags: [] });
}

describe('MlflowClient against the real server (faults injected by a proxy in front of it)', () => {
  it('retries bursts of 503 and 429 (honouring Retry-After) and the data lands once', async () => {
    const client = new MlflowClient(proxy.uri, { ...fast, env: {} });
    const run = await freshRun(client, 'bursts');
    let n = 0;
    proxy.plan = (_m, path) => {
      if (!path.includes('log-batch')) return null;
      n++;
      if (n <= 3) return { status: 503, body: 'busy' };
      if (n <= 5) return { status: 429, body: '{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}', headers: { 'retry-after': '0' } };
      return null;
    };
    await client.logBatch(run.info.runId, { metrics: [{ key: 'm', value: 1, timestamp: 1, step: 0 }] });
    proxy.plan = () => null;
    expect(n).toBe(6); // 3 × 503, 2 × 429, then through
    expect(await client.getMetricHistory(run.info.runId, 'm')).toEqual([{ step: 0, value: 1, timestamp: 1 }]);
  });

  it("does not retry a 400 and surfaces MLflow's error_code and message", async () => {
    const client = new MlflowClient(proxy.uri, { ...fast, env: {} });
    const run = await freshRun(client, 'bad');
    await client.logBatch(run.info.runId, { params: [{ key: 'p', value: '1' }] });
    const before = proxy.count('log-batch');
    const err = await client.logBatch(run.info.runId, { params: [{ key: 'p', value: '2' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(MlflowApiError);
    expect(err.errorCode).toBe('INVALID_PARAMETER_VALUE');
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/Changing param values is not allowed/);
    expect(proxy.count('log-batch') - before).toBe(1);
  });

  it('sends basic or bearer credentials from the env and names the env vars on 401, never the secret', async () => {
    proxy.plan = (_m, _p, h) =>
      h.authorization === 'Bearer good-token' ? null : { status: 401, body: '{"error_code":"UNAUTHENTICATED","message":"bad credentials"}' };
    const bad = new MlflowClient(proxy.uri, { ...fast, env: { MLFLOW_TRACKING_USERNAME: 'ann', MLFLOW_TRACKING_PASSWORD: 's3cret-pw' } });
    const err = await bad.getExperimentIdByName('Default').catch((e) => e);
    expect(err).toBeInstanceOf(MlflowApiError);
    expect(err.message).toMatch(/MLFLOW_TRACKING_USERNAME\/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN/);
    expect(err.message).not.toContain('s3cret-pw');
    const seen = proxy.requests.at(-1)!.headers.authorization;
    expect(seen).toBe(`Basic ${Buffer.from('ann:s3cret-pw').toString('base64')}`);
    const good = new MlflowClient(proxy.uri, { ...fast, env: { MLFLOW_TRACKING_TOKEN: 'good-token' } });
    expect(await good.getExperimentIdByName('Default')).toBe('0');
    proxy.plan = () => null;
  });

  it('gives up on a server that is not there with a clear unreachable error', async () => {
    const port = await new Promise<number>((r) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => r(p));
      });
    });
    const client = new MlflowClient(`http://127.0.0.1:${port}`, { retries: 2, ...fast, env: {} });
    const err = await client.getExperimentIdByName('x').catch((e) => e);
    expect(err).toBeInstanceOf(MlflowUnreachableError);
    expect(err.message).toMatch(new RegExp(`MLflow server at http://127.0.0.1:${port} is unreachable .*ECONNREFUSED`));
  });

  it('searches with a filter, order_by and paging', async () => {
    const client = new MlflowClient(uri, { env: {} });
    const exp = await client.getOrCreateExperiment(`client-search-${Date.now()}-${Math.random()}`);
    for (let i = 0; i < 3; i++) {
      await client.createRun({ experimentId: exp, runName: `r${i}`, startTime: 1000 + i, tags: [{ key: 'pixelbert.row', value: i < 2 ? '4' : '5' }] });
    }
    await client.createRun({ experimentId: exp, runName: 'r3', startTime: 2000, tags: [{ key: 'pixelbert.row', value: '4' }] });
    const page1 = await client.searchRuns({ experimentIds: [exp], filter: "tags.`pixelbert.row` = '4'", orderBy: ['attributes.start_time DESC'], maxResults: 2 });
    expect(page1.runs.map((r) => r.info.runName)).toEqual(['r3', 'r1']);
    expect(page1.nextPageToken).toBeTruthy();
    const page2 = await client.searchRuns({ experimentIds: [exp], filter: "tags.`pixelbert.row` = '4'", orderBy: ['attributes.start_time DESC'], maxResults: 2, pageToken: page1.nextPageToken! });
    expect(page2.runs.map((r) => r.info.runName)).toEqual(['r0']);
    const all = await client.searchAllRuns({ experimentIds: [exp], orderBy: ['attributes.start_time ASC'] });
    expect(all.map((r) => r.info.runName)).toEqual(['r0', 'r1', 'r2', 'r3']);
    await client.updateRun(all[0]!.info.runId, 'FINISHED', 5000);
    await client.setTag(all[0]!.info.runId, 'note', 'done');
    const got = await client.getRun(all[0]!.info.runId);
    expect(got.info).toMatchObject({ status: 'FINISHED', endTime: 5000, startTime: 1000 });
    expect(got.tags.note).toBe('done');
  });

  it('uploads, lists and downloads artifacts through the mlflow-artifacts proxy, and logs dataset inputs', async () => {
    const client = new MlflowClient(uri, { env: {} });
    const run = await freshRun(client, 'artifacts');
    const bytes = new Uint8Array([0, 1, 2, 255, 10, 13]);
    await client.uploadArtifact(run.info.artifactUri, 'dir/x.bin', bytes);
    expect(await client.listArtifacts(run.info.artifactUri)).toEqual([{ path: 'dir', isDir: true, size: null }]);
    expect(await client.listArtifacts(run.info.artifactUri, 'dir')).toEqual([{ path: 'dir/x.bin', isDir: false, size: 6 }]);
    expect(Array.from(await client.downloadArtifact(run.info.artifactUri, 'dir/x.bin'))).toEqual(Array.from(bytes));
    await client.logInputs(run.info.runId, [{ name: 'synth', digest: 'd1', sourceType: 'local', source: '{}', context: 'train' }]);
  });
});
