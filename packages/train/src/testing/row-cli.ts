// Helpers of the train tests: the ablation CLI in a child process with its own state folder, and
// the runs it left in the local store.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { WORKSPACE_ROOT } from '@pixel-bert/spec';
import { LocalStore, type TrackedRun } from '@pixel-bert/tracking';

// node itself with tsx's loader, not the tsx binary: that runs the script in a child process, which
// a SIGKILL of the binary would leave running.
const NODE = [process.execPath, '--import', 'tsx'];
const ABLATION = path.join(WORKSPACE_ROOT, 'packages/train/src/cli/ablation.ts');

export function stateEnv(state: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PIXEL_BERT_STATE_DIR: state, INIT_CWD: WORKSPACE_ROOT, ...extra };
  delete env.PIXEL_BERT_RUNS_DIR;
  delete env.MLFLOW_TRACKING_URI;
  // As from a shell: TensorFlow's thread settings this test process made when it loaded the backend
  // would otherwise decide a child's (train:table6 once gave its init stages two threads, unless set).
  for (const k of ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS']) if (!(k in extra)) delete env[k];
  return env;
}

export function ablation(state: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(NODE[0]!, [...NODE.slice(1), ABLATION, ...args], { cwd: WORKSPACE_ROOT, encoding: 'utf8', env: stateEnv(state, extraEnv), maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Starts the CLI and sends `signal` once its output matches `when`; resolves with the output and exit code. */
export function ablationKilledAt(state: string, args: string[], when: RegExp, signal: NodeJS.Signals = 'SIGKILL'): Promise<{ out: string; killed: boolean; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE[0]!, [...NODE.slice(1), ABLATION, ...args], { cwd: WORKSPACE_ROOT, env: stateEnv(state) });
    let out = '';
    let killed = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!killed && when.test(out)) {
        killed = true;
        child.kill(signal);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => resolve({ out, killed, code }));
  });
}

export function localRuns(state: string): TrackedRun[] {
  return new LocalStore(path.join(state, 'tracking')).findRuns({});
}

/** The finished row runs named `name` (e.g. `row4-seed0-smoke`) among `runs`. */
export function finishedRows(runs: TrackedRun[], name: string): TrackedRun[] {
  return runs.filter((r) => r.runName === name && r.tags['pixelbert.kind'] === 'row' && r.status === 'FINISHED');
}

/** The first finished row run named `name` among `runs`. */
export function finishedRow(runs: TrackedRun[], name: string): TrackedRun | undefined {
  return finishedRows(runs, name)[0];
}

/** The child runs of `parent` among `runs` (a row's stages). */
export function stagesOf(runs: TrackedRun[], parent: TrackedRun): TrackedRun[] {
  return runs.filter((r) => r.parentRunId === parent.runId);
}

/** The final metrics of a finished row run, without wall times and memory. */
export function finalMetrics(run: TrackedRun): Record<string, number> {
  return Object.fromEntries(Object.entries(run.metrics).filter(([k]) => !k.endsWith('.seconds') && !k.endsWith('.peak_rss_mb')));
}

/** train:table6 in a child process with its own state folder. */
export function table6(state: string, args: string[]) {
  const r = spawnSync(NODE[0]!, [...NODE.slice(1), path.join(WORKSPACE_ROOT, 'packages/train/src/cli/table6.ts'), ...args], { cwd: WORKSPACE_ROOT, encoding: 'utf8', env: stateEnv(state), maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
