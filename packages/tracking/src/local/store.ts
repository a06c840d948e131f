import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromWireNumber } from '../limits';
import type { DatasetInput, MetricPoint } from '../rest/client';
import { JOURNAL_FILE, readJournal, type JournalEvent, type RunStatus } from './journal';

/** A run as the queries return it, from either store. */
export interface TrackedRun {
  store: 'local' | 'server';
  /** The id in that store (local runs and their server copies have different ids). */
  runId: string;
  experiment: string;
  runName: string;
  status: RunStatus;
  startTime: number;
  endTime: number | null;
  /** Id of the parent run in the same store, from mlflow.parentRunId. */
  parentRunId: string | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Latest value of each metric (highest step, then latest timestamp), as MLflow reports it. */
  metrics: Record<string, number>;
}

export interface RunQuery {
  experiment?: string;
  /** Every given tag must match exactly. */
  tags?: Record<string, string>;
  status?: RunStatus;
}

export interface LocalRunRecord {
  run: TrackedRun;
  events: JournalEvent[];
  artifacts: { path: string; size: number; sha256: string }[];
  inputs: DatasetInput[];
  tornTail: boolean;
}

/** Per-run delivery progress to each server it has been sent to (`delivery.json`, replaced atomically). */
export interface DeliveryState {
  remoteRunId: string;
  experimentId: string;
  artifactUri: string;
  /** Every event with seq <= deliveredSeq is in the server. */
  deliveredSeq: number;
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

export function reduceRun(events: JournalEvent[], file: string): Omit<LocalRunRecord, 'tornTail'> {
  const start = events[0];
  if (!start || start.type !== 'start') throw new Error(`${file}:1: a run journal must begin with a 'start' event`);
  const run: TrackedRun = {
    store: 'local',
    runId: start.runId,
    experiment: start.experiment,
    runName: start.runName,
    status: 'RUNNING',
    startTime: start.time,
    endTime: null,
    parentRunId: start.parentRunId,
    params: {},
    tags: { ...start.tags },
    metrics: {},
  };
  const latest: Record<string, { step: number; time: number }> = {};
  const artifacts: LocalRunRecord['artifacts'] = [];
  const inputs: DatasetInput[] = [];
  for (const ev of events) {
    switch (ev.type) {
      case 'params':
        Object.assign(run.params, ev.params);
        break;
      case 'tags':
        Object.assign(run.tags, ev.tags);
        break;
      case 'metrics':
        for (const [k, v] of Object.entries(ev.values)) {
          const l = latest[k];
          if (!l || ev.step > l.step || (ev.step === l.step && ev.time >= l.time)) {
            latest[k] = { step: ev.step, time: ev.time };
            run.metrics[k] = fromWireNumber(v);
          }
        }
        break;
      case 'artifact':
        artifacts.push({ path: ev.path, size: ev.size, sha256: ev.sha256 });
        break;
      case 'input':
        inputs.push(ev.dataset);
        break;
      case 'end':
        run.status = ev.status;
        run.endTime = ev.time;
        break;
    }
  }
  return { run, events, artifacts, inputs };
}

/** Reads the local journal store (`<runsDir>/<runId>/journal.jsonl`). */
export class LocalStore {
  constructor(readonly runsDir: string) {}

  runDir(runId: string): string {
    return join(this.runsDir, runId);
  }

  artifactFile(runId: string, path: string): string {
    return join(this.runsDir, runId, 'artifacts', ...path.split('/'));
  }

  listRunIds(): string[] {
    if (!existsSync(this.runsDir)) return [];
    return readdirSync(this.runsDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(this.runsDir, d.name, JOURNAL_FILE)))
      .map((d) => d.name)
      .sort();
  }

  readRun(runId: string): LocalRunRecord {
    const file = join(this.runDir(runId), JOURNAL_FILE);
    if (!existsSync(file)) throw new Error(`no local run '${runId}' (looked for ${file})`);
    const { events, tornTail } = readJournal(file);
    return { ...reduceRun(events, file), tornTail };
  }

  findRuns(q: RunQuery = {}): TrackedRun[] {
    const out: TrackedRun[] = [];
    for (const id of this.listRunIds()) {
      const { run } = this.readRun(id);
      if (q.experiment !== undefined && run.experiment !== q.experiment) continue;
      if (q.status !== undefined && run.status !== q.status) continue;
      if (q.tags && Object.entries(q.tags).some(([k, v]) => run.tags[k] !== v)) continue;
      out.push(run);
    }
    return out.sort((a, b) => b.startTime - a.startTime);
  }

  metricHistory(runId: string, key: string): MetricPoint[] {
    const out: MetricPoint[] = [];
    for (const ev of this.readRun(runId).events) {
      if (ev.type === 'metrics' && key in ev.values) {
        out.push({ step: ev.step, value: fromWireNumber(ev.values[key]), timestamp: ev.time });
      }
    }
    return out.sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
  }

  readDelivery(runId: string): Record<string, DeliveryState> {
    const file = join(this.runDir(runId), 'delivery.json');
    if (!existsSync(file)) return {};
    return JSON.parse(readFileSync(file, 'utf8'));
  }

  writeDelivery(runId: string, uri: string, state: DeliveryState): void {
    const all = this.readDelivery(runId);
    all[uri] = state;
    writeFileAtomic(join(this.runDir(runId), 'delivery.json'), JSON.stringify(all, null, 2) + '\n');
  }

  ensureRunDir(runId: string): string {
    const dir = this.runDir(runId);
    mkdirSync(join(dir, 'artifacts'), { recursive: true });
    return dir;
  }
}
