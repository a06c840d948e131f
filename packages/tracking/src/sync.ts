import { Deliverer } from './delivery';
import { MlflowUnreachableError } from './errors';
import { LocalStore } from './local/store';
import { MlflowClient, type ClientOptions } from './rest/client';

export interface SyncReport {
  runs: { localRunId: string; runName: string; remoteRunId: string; sent: number; status: string }[];
  failed: { localRunId: string; error: string }[];
}

/**
 * Replays every local run into the server at `to`. Idempotent: a run already there is found
 * (by pixelbert.localRunId) and only what it lacks is sent; running it twice sends nothing new.
 */
export async function syncRuns(a: {
  to: string;
  runsDir: string;
  runIds?: string[];
  log?: (line: string) => void;
  client?: ClientOptions;
}): Promise<SyncReport> {
  const log = a.log ?? (() => {});
  const store = new LocalStore(a.runsDir);
  const client = new MlflowClient(a.to, a.client);
  const deliverer = new Deliverer(client, store);
  const ids = a.runIds ?? store.listRunIds();
  // Parents before children (the child's mlflow.parentRunId needs the parent's server id); oldest first.
  const records = ids.map((id) => store.readRun(id)).sort((x, y) => x.run.startTime - y.run.startTime);
  const report: SyncReport = { runs: [], failed: [] };
  for (const [i, rec] of records.entries()) {
    const id = rec.run.runId;
    try {
      const sent = await deliverer.deliver(id, rec.events);
      const remote = deliverer.state(id)!;
      report.runs.push({ localRunId: id, runName: rec.run.runName, remoteRunId: remote.remoteRunId, sent, status: rec.run.status });
      log(
        `[${i + 1}/${records.length}] ${rec.run.runName} (${id}) -> ${remote.remoteRunId}: ` +
          (sent === 0 ? 'already up to date' : `${sent} events sent`) +
          (rec.tornTail ? ' (journal ended in a torn line from a crash; it was skipped)' : ''),
      );
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      report.failed.push({ localRunId: id, error });
      log(`[${i + 1}/${records.length}] ${rec.run.runName} (${id}): FAILED: ${error}`);
      if (e instanceof MlflowUnreachableError) {
        // No point retrying every remaining run against a server that is not there.
        for (const r of records.slice(i + 1)) report.failed.push({ localRunId: r.run.runId, error });
        log(`stopped: the server is unreachable; ${records.length - i - 1} more runs not synced`);
        break;
      }
    }
  }
  return report;
}
