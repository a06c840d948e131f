import { MlflowApiError, MlflowUnreachableError } from '../errors';
import { fromWireNumber } from '../limits';
import { chunkBatch, type Batch, type WireKV } from './batch';

/** HTTP statuses worth retrying: the request may succeed later unchanged. */
const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export interface ClientOptions {
  /** Retries after the first attempt on network errors and 408/429/5xx. */
  retries?: number;
  /** First backoff delay; doubles each retry, with full jitter, capped at maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Credentials; default from MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN. */
  env?: NodeJS.ProcessEnv;
}

export interface RunInfo {
  runId: string;
  experimentId: string;
  runName: string;
  status: string;
  startTime: number;
  endTime: number | null;
  artifactUri: string;
}
export interface RemoteRun {
  info: RunInfo;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Latest value of each metric. */
  metrics: Record<string, number>;
}
export interface MetricPoint {
  step: number;
  value: number;
  timestamp: number;
}
export interface ArtifactEntry {
  path: string;
  isDir: boolean;
  size: number | null;
}
export interface DatasetInput {
  name: string;
  digest: string;
  sourceType: string;
  source: string;
  /** e.g. "train" / "eval": stored as the input tag mlflow.data.context. */
  context?: string;
}

function authHeader(env: NodeJS.ProcessEnv): string | null {
  const token = env.MLFLOW_TRACKING_TOKEN;
  if (token) return `Bearer ${token}`;
  const user = env.MLFLOW_TRACKING_USERNAME;
  const pass = env.MLFLOW_TRACKING_PASSWORD;
  if (user || pass) return `Basic ${Buffer.from(`${user ?? ''}:${pass ?? ''}`).toString('base64')}`;
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parseRun(j: any): RemoteRun {
  const info = j.info ?? {};
  const kv = (xs: any[] | undefined) => Object.fromEntries((xs ?? []).map((x) => [x.key, x.value ?? '']));
  return {
    info: {
      runId: info.run_id,
      experimentId: info.experiment_id,
      runName: info.run_name ?? '',
      status: info.status,
      startTime: Number(info.start_time ?? 0),
      endTime: info.end_time == null ? null : Number(info.end_time),
      artifactUri: info.artifact_uri ?? '',
    },
    params: kv(j.data?.params),
    tags: kv(j.data?.tags),
    metrics: Object.fromEntries((j.data?.metrics ?? []).map((m: any) => [m.key, fromWireNumber(m.value)])),
  };
}

/**
 * A small MLflow REST client over Node's fetch (MLflow REST API 2.0, as served by `mlflow server`).
 * Credentials are sent as a header only: they are never logged, put in errors, or written into a run.
 */
export class MlflowClient {
  readonly uri: string;
  readonly #auth: string | null;
  readonly #retries: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #timeoutMs: number;

  constructor(uri: string, opts: ClientOptions = {}) {
    if (!/^https?:\/\//.test(uri)) {
      throw new Error(`MLflow tracking URI '${uri}' must start with http:// or https:// (e.g. http://127.0.0.1:5000)`);
    }
    this.uri = uri.replace(/\/+$/, '');
    this.#auth = authHeader(opts.env ?? process.env);
    this.#retries = opts.retries ?? 5;
    this.#baseDelayMs = opts.baseDelayMs ?? 250;
    this.#maxDelayMs = opts.maxDelayMs ?? 8000;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** One request with retries. `body` is JSON unless it is a Uint8Array (artifact upload). */
  async request(
    method: 'GET' | 'POST' | 'PUT',
    endpoint: string,
    opts: { query?: Record<string, string | number | undefined>; body?: unknown; raw?: boolean } = {},
  ): Promise<any> {
    const url = new URL(this.uri + endpoint);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {};
    if (this.#auth) headers.authorization = this.#auth;
    let body: Uint8Array | string | undefined;
    if (opts.body instanceof Uint8Array) {
      body = opts.body;
      headers['content-type'] = 'application/octet-stream';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    let lastNetworkError = '';
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.#timeoutMs) });
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        lastNetworkError = err.cause?.code ?? err.cause?.message ?? err.message;
        if (attempt < this.#retries) {
          await sleep(this.#delay(attempt, null));
          continue;
        }
        throw new MlflowUnreachableError(this.uri, `${method} ${endpoint}`, lastNetworkError);
      }
      if (res.ok) {
        if (opts.raw) return new Uint8Array(await res.arrayBuffer());
        const text = await res.text();
        return text ? JSON.parse(text) : {};
      }
      const text = await res.text().catch(() => '');
      const retryable = RETRY_STATUS.has(res.status);
      if (retryable && attempt < this.#retries) {
        await sleep(this.#delay(attempt, res.headers.get('retry-after')));
        continue;
      }
      let code = `HTTP_${res.status}`;
      let message = text.replace(/\s+/g, ' ').slice(0, 300);
      try {
        const j = JSON.parse(text);
        code = j.error_code ?? code;
        message = j.message ?? message;
      } catch {
        /* not JSON: keep the text */
      }
      if (res.status === 401 || res.status === 403) {
        message =
          `the server refused the credentials (${this.#auth ? 'sent from' : 'none set in'} ` +
          `MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN): ${message}`;
      }
      throw new MlflowApiError(res.status, code, message, `${method} ${endpoint}`, retryable);
    }
  }

  #delay(attempt: number, retryAfter: string | null): number {
    const ra = retryAfter ? Number(retryAfter) : NaN;
    if (Number.isFinite(ra) && ra >= 0) return Math.min(ra * 1000, this.#maxDelayMs);
    const cap = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** attempt);
    return cap / 2 + Math.random() * (cap / 2); // jitter so that many clients do not retry in step
  }

  async health(): Promise<boolean> {
    try {
      const res = await fetch(this.uri + '/health', { signal: AbortSignal.timeout(3000) });
      return res.ok;
    } catch {
      return false;
    }
  }

  async getExperimentIdByName(name: string): Promise<string | null> {
    try {
      const j = await this.request('GET', '/api/2.0/mlflow/experiments/get-by-name', { query: { experiment_name: name } });
      return j.experiment.experiment_id;
    } catch (e) {
      if (e instanceof MlflowApiError && e.errorCode === 'RESOURCE_DOES_NOT_EXIST') return null;
      throw e;
    }
  }

  async createExperiment(name: string): Promise<string> {
    const j = await this.request('POST', '/api/2.0/mlflow/experiments/create', { body: { name } });
    return j.experiment_id;
  }

  async getOrCreateExperiment(name: string): Promise<string> {
    const id = await this.getExperimentIdByName(name);
    if (id !== null) return id;
    try {
      return await this.createExperiment(name);
    } catch (e) {
      // Another process created it between our get and create.
      if (e instanceof MlflowApiError && e.errorCode === 'RESOURCE_ALREADY_EXISTS') {
        const again = await this.getExperimentIdByName(name);
        if (again !== null) return again;
      }
      throw e;
    }
  }

  async createRun(a: { experimentId: string; runName: string; startTime: number; tags: WireKV[] }): Promise<RemoteRun> {
    const j = await this.request('POST', '/api/2.0/mlflow/runs/create', {
      body: { experiment_id: a.experimentId, run_name: a.runName, start_time: a.startTime, tags: a.tags },
    });
    return parseRun(j.run);
  }

  async updateRun(runId: string, status: string, endTime?: number): Promise<void> {
    await this.request('POST', '/api/2.0/mlflow/runs/update', { body: { run_id: runId, status, end_time: endTime } });
  }

  async getRun(runId: string): Promise<RemoteRun> {
    const j = await this.request('GET', '/api/2.0/mlflow/runs/get', { query: { run_id: runId } });
    return parseRun(j.run);
  }

  async searchRuns(a: {
    experimentIds: string[];
    filter?: string;
    orderBy?: string[];
    maxResults?: number;
    pageToken?: string;
  }): Promise<{ runs: RemoteRun[]; nextPageToken: string | null }> {
    const j = await this.request('POST', '/api/2.0/mlflow/runs/search', {
      body: {
        experiment_ids: a.experimentIds,
        filter: a.filter ?? '',
        order_by: a.orderBy ?? [],
        max_results: a.maxResults ?? 1000,
        page_token: a.pageToken,
      },
    });
    return { runs: (j.runs ?? []).map(parseRun), nextPageToken: j.next_page_token || null };
  }

  /** All pages of a search. */
  async searchAllRuns(a: { experimentIds: string[]; filter?: string; orderBy?: string[] }): Promise<RemoteRun[]> {
    const out: RemoteRun[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.searchRuns({ ...a, pageToken });
      out.push(...page.runs);
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken);
    return out;
  }

  /** Logs any number of entities, split into requests within MLflow's log-batch limits. */
  async logBatch(runId: string, batch: Partial<Batch>): Promise<number> {
    const chunks = chunkBatch({ metrics: batch.metrics ?? [], params: batch.params ?? [], tags: batch.tags ?? [] });
    for (const c of chunks) {
      await this.request('POST', '/api/2.0/mlflow/runs/log-batch', { body: { run_id: runId, ...c } });
    }
    return chunks.length;
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.request('POST', '/api/2.0/mlflow/runs/set-tag', { body: { run_id: runId, key, value } });
  }

  async logInputs(runId: string, datasets: DatasetInput[]): Promise<void> {
    await this.request('POST', '/api/2.0/mlflow/runs/log-inputs', {
      body: {
        run_id: runId,
        datasets: datasets.map((d) => ({
          tags: d.context ? [{ key: 'mlflow.data.context', value: d.context }] : [],
          dataset: { name: d.name, digest: d.digest, source_type: d.sourceType, source: d.source },
        })),
      },
    });
  }

  async getMetricHistory(runId: string, key: string): Promise<MetricPoint[]> {
    const out: MetricPoint[] = [];
    let pageToken: string | undefined;
    do {
      const j = await this.request('GET', '/api/2.0/mlflow/metrics/get-history', {
        query: { run_id: runId, metric_key: key, max_results: 25_000, page_token: pageToken },
      });
      for (const m of j.metrics ?? []) out.push({ step: Number(m.step ?? 0), value: fromWireNumber(m.value), timestamp: Number(m.timestamp) });
      pageToken = j.next_page_token || undefined;
    } while (pageToken);
    return out.sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
  }

  /** Path of a run's artifact root inside the server's artifact proxy. */
  #proxyPath(artifactUri: string, path: string): string {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri);
    if (!m) {
      throw new Error(
        `run artifact root '${artifactUri}' is not served by the MLflow server; start the server with --serve-artifacts ` +
          `(tools/mlflow-server does) so that artifacts go through /api/2.0/mlflow-artifacts`,
      );
    }
    const root = m[1]!.replace(/\/+$/, '');
    return path ? `${root}/${path}` : root;
  }

  /** Endpoint of one artifact file in the server's artifact proxy. */
  #artifactEndpoint(artifactUri: string, path: string): string {
    return `/api/2.0/mlflow-artifacts/artifacts/${this.#proxyPath(artifactUri, path).split('/').map(encodeURIComponent).join('/')}`;
  }

  async uploadArtifact(artifactUri: string, path: string, bytes: Uint8Array): Promise<void> {
    await this.request('PUT', this.#artifactEndpoint(artifactUri, path), { body: bytes });
  }

  async downloadArtifact(artifactUri: string, path: string): Promise<Uint8Array> {
    return this.request('GET', this.#artifactEndpoint(artifactUri, path), { raw: true });
  }

  /** Lists one directory level of a run's artifacts (paths relative to the run's artifact root). */
  async listArtifacts(artifactUri: string, dir = ''): Promise<ArtifactEntry[]> {
    const j = await this.request('GET', '/api/2.0/mlflow-artifacts/artifacts', {
      query: { path: this.#proxyPath(artifactUri, dir) },
    });
    return (j.files ?? []).map((f: any) => ({
      path: dir ? `${dir}/${f.path}` : f.path,
      isDir: Boolean(f.is_dir),
      size: f.file_size == null ? null : Number(f.file_size),
    }));
  }
}
