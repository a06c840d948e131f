import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Deliverer } from './delivery';
import { MlflowApiError, MlflowUnreachableError, TrackingInputError } from './errors';
import { flattenParams } from './flatten';
import { LIMITS, checkMetricValue, checkName, checkStep, toWireNumber, type WireNumber } from './limits';
import { JOURNAL_FILE, JournalWriter, readJournal, type JournalBody, type JournalEvent, type RunStatus } from './local/journal';
import { LocalStore, writeFileAtomic, type RunQuery, type TrackedRun } from './local/store';
import { collectMetadata } from './metadata';
import { defaultRunsDir } from './paths';
import { MlflowClient, type DatasetInput, type MetricPoint, type RemoteRun } from './rest/client';
import { GIT_DIFF_ARTIFACT, SPEC_ARTIFACT, TAGS } from './tags';

export interface TrackerOptions {
  experiment: string;
  /**
   * MLflow server to deliver to. Omitted: $MLFLOW_TRACKING_URI, and without it the local store only.
   * `null`: the local store only, whatever the environment says.
   */
  uri?: string | null;
  /** Local journal folder; default $PIXEL_BERT_RUNS_DIR or <workspace>/runs/tracking. */
  runsDir?: string;
  /** Mark runs KILLED/FAILED and flush on SIGINT, SIGTERM, uncaught errors and exit (default true). */
  handleProcessEvents?: boolean;
  /** How often queued events are sent to the server (ms, default 250). */
  flushIntervalMs?: number;
  /** Events held in memory per run before the worker reads the rest back from the journal (default 20000). */
  maxQueue?: number;
  /** How long `end()` waits for the server before leaving the rest to `sync` (ms, default 30000). */
  endTimeoutMs?: number;
  /** Where notices go (default stderr). */
  log?: (line: string) => void;
  /** Client retries per request before the worker backs off and tries again later (default 2). */
  retries?: number;
  env?: NodeJS.ProcessEnv;
}

export interface StartRunOptions {
  runName: string;
  /** Id of the parent run in this tracker (a RunHandle's `id`). */
  parentRunId?: string;
  tags?: Record<string, string>;
  params?: Record<string, ParamValue>;
  /** Recorded as mlflow.source.name (default: the entry script, relative to the workspace). */
  sourceName?: string;
}

export type ParamValue = string | number | boolean;

const MAX_BACKOFF_MS = 5000;

/** Per-run delivery bookkeeping of the worker. */
interface Outbox {
  run: RunHandle;
  queue: JournalEvent[];
  /** Events past the in-memory bound were left in the journal only; read them back from there. */
  spilled: boolean;
  /** A non-retryable server error stopped delivery of this run; `sync` can retry later. */
  failed: string | null;
}

/** Sends journaled events to the server in batches, off the caller's path. */
class DeliveryWorker {
  readonly #outboxes = new Map<string, Outbox>();
  #timer: NodeJS.Timeout | null = null;
  #busy: Promise<void> | null = null;
  #backoffMs = 0;
  #downSince: number | null = null;
  #authFailed: string | null = null;

  constructor(
    readonly deliverer: Deliverer,
    readonly intervalMs: number,
    readonly maxQueue: number,
    readonly log: (line: string) => void,
  ) {}

  register(run: RunHandle): void {
    this.#outboxes.set(run.id, { run, queue: [], spilled: false, failed: null });
  }

  enqueue(runId: string, ev: JournalEvent): void {
    const box = this.#outboxes.get(runId);
    if (!box || box.failed || this.#authFailed) return;
    if (box.queue.length < this.maxQueue && !box.spilled) box.queue.push(ev);
    else box.spilled = true;
    this.#schedule(box.queue.length >= 1000 ? 0 : this.intervalMs);
  }

  /** Events journaled but not yet in the server, over all runs. */
  pending(runId?: string): number {
    let n = 0;
    for (const [id, box] of this.#outboxes) {
      if (runId !== undefined && id !== runId) continue;
      if (box.failed || this.#authFailed) continue;
      const delivered = this.deliverer.state(id)?.deliveredSeq ?? -1;
      n += Math.max(0, box.run.journalLength - 1 - delivered);
    }
    return n;
  }

  #schedule(delayMs: number): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.tick();
    }, Math.max(delayMs, this.#backoffMs));
    this.#timer.unref(); // logging must never keep a finished program alive; exit handlers flush
  }

  /** One delivery pass over all runs; concurrent callers share the pass in progress. */
  tick(): Promise<void> {
    if (!this.#busy) {
      this.#busy = this.#pass().finally(() => {
        this.#busy = null;
        if (this.pending() > 0) this.#schedule(this.intervalMs);
      });
    }
    return this.#busy;
  }

  async #pass(): Promise<void> {
    for (const [runId, box] of this.#outboxes) {
      if (box.failed || this.#authFailed) continue;
      try {
        for (;;) {
          const delivered = this.deliverer.state(runId)?.deliveredSeq ?? -1;
          if (box.run.journalLength - 1 <= delivered) break;
          let first = 0;
          while (first < box.queue.length && box.queue[first]!.seq <= delivered) first++;
          let events = box.queue.slice(first);
          if (events.length === 0 || events[0]!.seq !== delivered + 1) {
            // The queue overflowed (or started after events were written): read the backlog from the journal.
            events = readJournal(box.run.journalFile).events.slice(delivered + 1, delivered + 1 + this.maxQueue);
            box.spilled = false;
            box.queue = [];
          }
          await this.deliverer.deliver(runId, events);
          const now = this.deliverer.state(runId)?.deliveredSeq ?? -1;
          // The queue is in seq order: drop the delivered head in place.
          let drop = 0;
          while (drop < box.queue.length && box.queue[drop]!.seq <= now) drop++;
          box.queue.splice(0, drop);
        }
        if (this.#downSince !== null) {
          this.log(`[tracking] MLflow server at ${this.deliverer.uri} is back; backlog delivered`);
          this.#downSince = null;
        }
        this.#backoffMs = 0;
      } catch (e) {
        if (e instanceof MlflowUnreachableError || (e instanceof MlflowApiError && e.retryable)) {
          if (this.#downSince === null) {
            this.#downSince = Date.now();
            this.log(
              `[tracking] ${e.message}; the run goes on, events stay in the local journal ` +
                `(${box.run.journalFile}) and are delivered when the server returns ` +
                `(or: npx nx run tracking:sync --to=${this.deliverer.uri})`,
            );
          }
          this.#backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(250, this.#backoffMs * 2));
          return;
        }
        const msg = e instanceof Error ? e.message : String(e);
        if (e instanceof MlflowApiError && (e.status === 401 || e.status === 403)) {
          this.#authFailed = msg;
        } else {
          box.failed = msg;
        }
        box.queue = [];
        this.log(
          `[tracking] delivery of run ${runId} to ${this.deliverer.uri} stopped: ${msg}. ` +
            `Everything is in ${box.run.journalFile}; fix the cause, then: npx nx run tracking:sync --to=${this.deliverer.uri}`,
        );
      }
    }
  }

  /** Delivers until nothing is pending or the time is up; returns what is still pending. */
  async flush(timeoutMs: number, runId?: string): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending(runId) > 0 && Date.now() < deadline) {
      await this.tick();
      if (this.pending(runId) > 0 && this.#backoffMs > 0) {
        await new Promise((r) => setTimeout(r, Math.min(this.#backoffMs, Math.max(0, deadline - Date.now()))));
      }
    }
    return this.pending(runId);
  }

  failure(runId: string): string | null {
    return this.#authFailed ?? this.#outboxes.get(runId)?.failed ?? null;
  }

  forget(runId: string): void {
    this.#outboxes.delete(runId);
  }
}

/** A run being logged. Every call is written to the local journal before it returns. */
export class RunHandle {
  readonly id: string;
  readonly experiment: string;
  readonly runName: string;
  readonly parentRunId: string | null;
  readonly dir: string;
  readonly journalFile: string;
  #writer: JournalWriter;
  #params = new Map<string, string>();
  #status: RunStatus = 'RUNNING';
  #endPromise: Promise<void> | null = null;
  /** Ended by a signal or an uncaught error: the training loop may still call in while the process winds down. */
  #endedByShutdown = false;

  /** @internal use Tracker.startRun */
  constructor(
    readonly tracker: Tracker,
    opts: StartRunOptions,
  ) {
    this.id = randomUUID().replace(/-/g, '');
    this.experiment = tracker.experiment;
    this.runName = opts.runName;
    this.parentRunId = opts.parentRunId ?? null;
    this.dir = tracker.store.ensureRunDir(this.id);
    this.journalFile = join(this.dir, JOURNAL_FILE);
    this.#writer = new JournalWriter(this.journalFile);
  }

  get status(): RunStatus {
    return this.#status;
  }

  /** Events written to the journal so far. */
  get journalLength(): number {
    return this.#writer.nextSeq;
  }

  /** The run's id in the server, once it has been created there. */
  get remoteRunId(): string | null {
    return this.tracker.deliveryState(this.id)?.remoteRunId ?? null;
  }

  /** @internal */
  append(body: JournalBody): void {
    if (this.#status !== 'RUNNING' && body.type !== 'end') {
      if (this.#endedByShutdown) return; // the process is exiting; the run's end is already journaled
      throw new TrackingInputError(`run '${this.runName}' (${this.id}) has ended (${this.#status}); nothing more can be logged to it`);
    }
    const ev = this.#writer.append(body);
    this.tracker.enqueue(this.id, ev);
  }

  logParam(key: string, value: ParamValue): void {
    this.logParams({ [key]: value });
  }

  /**
   * Params are immutable in MLflow: re-logging a key with the same value is fine, a different value
   * is refused here (as the server would). A value over 6000 characters is stored as the artifact
   * `params/<key>.txt` and the param holds the pointer `artifact:params/<key>.txt (<n> chars)`.
   */
  logParams(params: Record<string, ParamValue>): void {
    const out: Record<string, string> = {};
    for (const [key, raw] of Object.entries(params)) {
      checkName('param', key, `logParams`);
      if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
        throw new TrackingInputError(`logParams: param '${key}' must be a string, number or boolean, got ${JSON.stringify(raw)}`);
      }
      let value = String(raw);
      if (value.length > LIMITS.paramValueChars) {
        const path = `params/${key}.txt`;
        this.logArtifact(path, new TextEncoder().encode(value));
        value = `artifact:${path} (${value.length} chars)`;
      }
      const old = this.#params.get(key);
      if (old !== undefined && old !== value) {
        throw new TrackingInputError(
          `logParams: param '${key}' was already logged as ${JSON.stringify(old)}; MLflow params cannot change ` +
            `(tried ${JSON.stringify(value)}). Log a metric or a tag for values that change.`,
        );
      }
      if (old === undefined) out[key] = value;
    }
    for (const [k, v] of Object.entries(out)) this.#params.set(k, v);
    if (Object.keys(out).length > 0) this.append({ type: 'params', params: out });
  }

  /** Values must be numbers; NaN and ±Infinity are kept as they are (MLflow stores NaN; its SQL store clamps ±Infinity to ±1.797e308). */
  logMetric(key: string, value: number, step: number): void {
    this.logMetrics({ [key]: value }, step);
  }

  /** Several metrics of one step: one journal line (cheaper per metric than logMetric). */
  logMetrics(values: Record<string, number>, step: number): void {
    checkStep(step, 'logMetrics');
    const wire: Record<string, WireNumber> = {};
    for (const [k, v] of Object.entries(values)) {
      checkName('metric', k, 'logMetrics');
      wire[k] = toWireNumber(checkMetricValue(k, v, 'logMetrics'));
    }
    this.append({ type: 'metrics', step, time: Date.now(), values: wire });
  }

  setTag(key: string, value: string): void {
    this.setTags({ [key]: value });
  }

  setTags(tags: Record<string, string>): void {
    for (const [k, v] of Object.entries(tags)) checkTag(k, v, 'setTags');
    this.append({ type: 'tags', tags: { ...tags } });
  }

  /** Stores bytes, or the file at a path, as the artifact `name` (a relative path such as `plots/loss.svg`). */
  logArtifact(name: string, source: Uint8Array | string): void {
    checkName('artifact', name, 'logArtifact');
    let bytes: Uint8Array;
    if (typeof source === 'string') {
      try {
        bytes = readFileSync(source);
      } catch (e) {
        throw new TrackingInputError(`logArtifact: cannot read '${source}' for artifact '${name}': ${(e as Error).message}`);
      }
    } else {
      bytes = source;
    }
    const file = this.tracker.store.artifactFile(this.id, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    this.append({ type: 'artifact', path: name, size: bytes.length, sha256 });
  }

  logText(name: string, text: string): void {
    this.logArtifact(name, new TextEncoder().encode(text));
  }

  /** Records a dataset the run used (MLflow's log-inputs): name, digest (≤ 36 chars), source. */
  logInput(dataset: DatasetInput): void {
    if (!dataset.name || !dataset.digest || dataset.digest.length > 36) {
      throw new TrackingInputError(`logInput: dataset needs a name and a digest of at most 36 characters, got ${JSON.stringify(dataset)}`);
    }
    this.append({ type: 'input', dataset: { ...dataset } });
  }

  /** The resolved spec as flattened params (long values become artifacts) and its YAML as `spec.yaml`. */
  logSpec(resolvedSpec: object, yamlText: string): void {
    this.logText(SPEC_ARTIFACT, yamlText);
    this.logParams(flattenParams(resolvedSpec));
  }

  /**
   * Ends the run and waits (up to endTimeoutMs) until the server has everything; what it could
   * not deliver stays in the journal for `tracking:sync`. Safe to call twice.
   */
  end(status: Exclude<RunStatus, 'RUNNING'> = 'FINISHED'): Promise<void> {
    if (!this.#endPromise) {
      this.endSync(status);
      this.#endPromise = this.tracker.afterEnd(this);
    }
    return this.#endPromise;
  }

  /** Journals the end at once, without waiting for delivery (for signal and exit handlers). */
  endSync(status: Exclude<RunStatus, 'RUNNING'>, byShutdown = false): void {
    if (this.#status !== 'RUNNING') return;
    this.#endedByShutdown = byShutdown;
    this.append({ type: 'end', status, time: Date.now() });
    this.#status = status;
    this.#writer.close();
    activeRuns.delete(this);
  }
}

function checkTag(key: string, value: unknown, where: string): void {
  checkName('tag', key, where);
  if (typeof value !== 'string') throw new TrackingInputError(`${where}: tag '${key}' must be a string, got ${JSON.stringify(value)}`);
  if (value.length > LIMITS.tagValueChars) {
    throw new TrackingInputError(
      `${where}: tag '${key}' is ${value.length} characters; MLflow allows at most ${LIMITS.tagValueChars}. ` +
        `Store long text as an artifact (run.logText) instead.`,
    );
  }
}

export interface FindRunsOptions extends RunQuery {
  /** 'server' (default when a server is configured) or 'local'. */
  source?: 'server' | 'local';
}

/** A server's run in the shape the local store gives its runs. */
export function trackedFromServer(r: RemoteRun, experiment: string): TrackedRun {
  return {
    store: 'server',
    runId: r.info.runId,
    experiment,
    runName: r.info.runName,
    status: r.info.status as RunStatus,
    startTime: r.info.startTime,
    endTime: r.info.endTime,
    parentRunId: r.tags[TAGS.parentRunId] ?? null,
    params: r.params,
    tags: r.tags,
    metrics: r.metrics,
  };
}

export class Tracker {
  readonly experiment: string;
  readonly uri: string | null;
  readonly runsDir: string;
  readonly store: LocalStore;
  readonly client: MlflowClient | null;
  readonly #worker: DeliveryWorker | null;
  readonly #opts: TrackerOptions;
  readonly #log: (line: string) => void;

  constructor(opts: TrackerOptions) {
    const env = opts.env ?? process.env;
    if (!opts.experiment) throw new TrackingInputError('openTracker: an experiment name is required');
    this.#opts = opts;
    this.experiment = opts.experiment;
    this.uri = opts.uri === undefined ? env.MLFLOW_TRACKING_URI || null : opts.uri;
    this.runsDir = opts.runsDir ?? defaultRunsDir(env);
    this.store = new LocalStore(this.runsDir);
    this.#log = opts.log ?? ((l) => process.stderr.write(l + '\n'));
    if (this.uri) {
      this.client = new MlflowClient(this.uri, { retries: opts.retries ?? 2, env });
      this.#worker = new DeliveryWorker(
        new Deliverer(this.client, this.store),
        opts.flushIntervalMs ?? 250,
        opts.maxQueue ?? 20_000,
        this.#log,
      );
    } else {
      this.client = null;
      this.#worker = null;
    }
  }

  /** Where runs go, for printing. */
  describe(): string {
    return this.uri ? `MLflow server ${this.uri} (journaled first in ${this.runsDir})` : `local store ${this.runsDir}`;
  }

  startRun(opts: StartRunOptions): RunHandle {
    if (!opts.runName) throw new TrackingInputError('startRun: runName is required');
    const tags = opts.tags ?? {};
    for (const [k, v] of Object.entries(tags)) checkTag(k, v, 'startRun tags');
    if (opts.parentRunId && !this.store.listRunIds().includes(opts.parentRunId)) {
      throw new TrackingInputError(`startRun: parent run '${opts.parentRunId}' is not a run of the local store ${this.runsDir}`);
    }
    const meta = collectMetadata(opts.sourceName);
    const run = new RunHandle(this, opts);
    this.#worker?.register(run);
    const allTags: Record<string, string> = { ...meta.tags, [TAGS.runName]: opts.runName, ...tags };
    if (run.parentRunId) allTags[TAGS.parentRunId] = run.parentRunId;
    run.append({
      type: 'start',
      v: 1,
      runId: run.id,
      experiment: this.experiment,
      runName: opts.runName,
      parentRunId: run.parentRunId,
      time: Date.now(),
      tags: allTags,
    });
    if (meta.diff !== null) run.logText(GIT_DIFF_ARTIFACT, meta.diff);
    if (opts.params) run.logParams(opts.params);
    activeRuns.add(run);
    if (this.#opts.handleProcessEvents !== false) installProcessHandlers();
    trackers.add(this);
    return run;
  }

  /** @internal */
  enqueue(runId: string, ev: JournalEvent): void {
    this.#worker?.enqueue(runId, ev);
  }

  /** @internal */
  deliveryState(runId: string) {
    return this.#worker?.deliverer.state(runId) ?? null;
  }

  /** @internal */
  async afterEnd(run: RunHandle): Promise<void> {
    if (!this.#worker) return;
    const left = await this.#worker.flush(this.#opts.endTimeoutMs ?? 30_000, run.id);
    const failure = this.#worker.failure(run.id);
    if (left > 0 && !failure) {
      this.#log(
        `[tracking] run ${run.id} ended; ${left} events are not yet in ${this.uri} (kept in ${run.journalFile}). ` +
          `Deliver them with: npx nx run tracking:sync --to=${this.uri}`,
      );
    }
    if (left === 0) this.#worker.forget(run.id);
  }

  /** Events not yet delivered to the server (0 without a server). */
  pending(): number {
    return this.#worker?.pending() ?? 0;
  }

  /** Delivers what is queued, waiting at most timeoutMs; returns the number of events still pending. */
  async flush(timeoutMs = 30_000): Promise<number> {
    return this.#worker ? this.#worker.flush(timeoutMs) : 0;
  }

  #source(source?: 'server' | 'local'): 'server' | 'local' {
    const s = source ?? (this.client ? 'server' : 'local');
    if (s === 'server' && !this.client) {
      throw new TrackingInputError(`findRuns: source 'server' needs a tracking URI (set MLFLOW_TRACKING_URI or pass uri)`);
    }
    return s;
  }

  /** Runs of the tracker's experiment (or `q.experiment`) whose tags all match; newest first. */
  async findRuns(q: FindRunsOptions = {}): Promise<TrackedRun[]> {
    const experiment = q.experiment ?? this.experiment;
    if (this.#source(q.source) === 'local') return this.store.findRuns({ ...q, experiment });
    const client = this.client!;
    const expId = await client.getExperimentIdByName(experiment);
    if (expId === null) return [];
    const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    const clauses = Object.entries(q.tags ?? {}).map(([k, v]) => `tags.\`${k}\` = ${quote(v)}`);
    if (q.status) clauses.push(`attributes.status = ${quote(q.status)}`);
    const runs = await client.searchAllRuns({
      experimentIds: [expId],
      filter: clauses.join(' and '),
      orderBy: ['attributes.start_time DESC'],
    });
    return runs.map((r) => trackedFromServer(r, experiment));
  }

  /** Every logged point of one metric, by step, from the store the run came from. */
  async metricHistory(run: TrackedRun | string, key: string, source?: 'server' | 'local'): Promise<MetricPoint[]> {
    const id = typeof run === 'string' ? run : run.runId;
    const s = typeof run === 'string' ? this.#source(source) : run.store;
    if (s === 'local') return this.store.metricHistory(id, key);
    return this.client!.getMetricHistory(id, key);
  }

  /** Ends open runs of this tracker as FINISHED and delivers what is queued. */
  async close(): Promise<void> {
    await Promise.all([...activeRuns].filter((r) => r.tracker === this).map((r) => r.end('FINISHED')));
    await this.flush(this.#opts.endTimeoutMs ?? 30_000);
    trackers.delete(this);
  }
}

/**
 * Opens a tracker. With a server URI (argument or MLFLOW_TRACKING_URI) every event is journaled
 * locally first and delivered in the background; a server that is down is reported once and the
 * run goes on. Without one, runs live in the local store only.
 */
export async function openTracker(opts: TrackerOptions): Promise<Tracker> {
  const t = new Tracker(opts);
  if (t.client && !(await t.client.health())) {
    (opts.log ?? ((l: string) => process.stderr.write(l + '\n')))(
      `[tracking] MLflow server at ${t.uri} is not answering /health; logging continues in the local journal ` +
        `(${t.runsDir}) and the backlog is delivered when the server is up (or: npx nx run tracking:sync --to=${t.uri})`,
    );
  }
  return t;
}

// ---- process events: a clean shutdown never leaves a run RUNNING --------------------------------

const activeRuns = new Set<RunHandle>();
const trackers = new Set<Tracker>();
let handlersInstalled = false;
const SHUTDOWN_FLUSH_MS = 10_000;

async function flushAll(): Promise<void> {
  await Promise.all([...trackers].map((t) => t.flush(SHUTDOWN_FLUSH_MS)));
}

function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  let shuttingDown = false;
  const shutdown = (status: 'KILLED' | 'FAILED', exitCode: number) => {
    if (shuttingDown) process.exit(exitCode); // a second signal: stop waiting
    shuttingDown = true;
    for (const run of [...activeRuns]) run.endSync(status, true);
    const timer = setTimeout(() => process.exit(exitCode), SHUTDOWN_FLUSH_MS + 1000);
    void flushAll().finally(() => {
      clearTimeout(timer);
      process.exit(exitCode);
    });
  };
  process.on('SIGINT', () => shutdown('KILLED', 130));
  process.on('SIGTERM', () => shutdown('KILLED', 143));
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    shutdown('FAILED', 1);
  });
  // The event loop emptied with runs still open: the program is done, end them and deliver.
  process.on('beforeExit', () => {
    if (activeRuns.size === 0 || shuttingDown) return;
    for (const run of [...activeRuns]) void run.end(process.exitCode ? 'FAILED' : 'FINISHED');
  });
  // process.exit() was called: only synchronous work is possible, so journal the end; `sync` delivers it.
  process.on('exit', (code) => {
    for (const run of [...activeRuns]) run.endSync(code === 0 ? 'FINISHED' : 'FAILED');
  });
}
