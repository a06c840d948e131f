// npx nx run tracking:sync --to=<uri> [--runs-dir=DIR] [--run=ID]: replay local runs into an MLflow server.
import { defaultRunsDir } from '../paths';
import { syncRuns } from '../sync';
import { parseArgs } from './args';

const USAGE = 'npx nx run tracking:sync --to=<MLflow URI> [--runs-dir=DIR] [--run=LOCAL_RUN_ID]';
const args = parseArgs(process.argv.slice(2), ['to', 'runs-dir', 'run'], USAGE);
const to = args.to ?? process.env.MLFLOW_TRACKING_URI;
if (!to) {
  process.stderr.write(`tracking:sync needs a server: pass --to=<uri> or set MLFLOW_TRACKING_URI\nusage: ${USAGE}\n`);
  process.exit(2);
}
const runsDir = args['runs-dir'] ?? defaultRunsDir();
console.log(`syncing local runs from ${runsDir} to ${to}`);
try {
  const report = await syncRuns({ to, runsDir, runIds: args.run ? [args.run] : undefined, log: (l) => console.log(l) });
  const sent = report.runs.reduce((n, r) => n + r.sent, 0);
  console.log(`done: ${report.runs.length} runs in ${to} (${sent} events sent), ${report.failed.length} failed`);
  process.exit(report.failed.length > 0 ? 1 : 0);
} catch (e) {
  process.stderr.write(`tracking:sync failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
