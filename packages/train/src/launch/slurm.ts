// `train:table6 --launcher=slurm`: a Table 6 sweep (rows × seeds) as Slurm jobs. The workbench only
// writes specs and batch scripts and calls Slurm's commands; Slurm runs them:
//   - one job runs `train:init` (the initialisation stages every row starts from), submitted held;
//   - one array job, a task per row × seed running `train:ablation`, depends on it (afterok) and is
//     cancelled by Slurm if it fails (--kill-on-invalid-dep);
//   - the init job is released only once both were accepted, so a refused submission leaves nothing.
// Everything lives in one folder per sweep (runs/slurm/table6-<scale>-<experiment>/), which records
// what was submitted; a resubmission asks Slurm how each task ended and submits only what is not
// finished (or, with --rerun-failed, only what failed). Tasks resume by themselves: the ablation
// command reuses finished stages from the run cache and resumes from checkpoints.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { UsageError, WORKSPACE_ROOT, intFlag, loadRowSpec, type Scale } from '@pixel-bert/spec';

const exec = promisify(execFile);

/** Flags of `train:table6` for the Slurm launcher (node:util parseArgs options). */
export const SLURM_FLAGS = {
  partition: { type: 'string' },
  'gpus-per-task': { type: 'string' },
  time: { type: 'string' },
  'sbatch-arg': { type: 'string', multiple: true },
  'rerun-failed': { type: 'boolean', default: false },
} as const;

export interface SlurmFlagValues {
  partition?: string;
  'gpus-per-task'?: string;
  time?: string;
  'sbatch-arg'?: string[];
  'rerun-failed'?: boolean;
}

export interface SlurmSweepOptions {
  scale: Scale;
  seeds: number[];
  rows: number[];
  experiment?: string;
  dryRun: boolean;
  flags: SlurmFlagValues;
  /** Where sweep folders go; default sweepsRoot(env). */
  sweepsDir?: string;
  /** The environment whose PATH finds Slurm's commands and whose MLflow variables the tasks inherit. */
  env?: NodeJS.ProcessEnv;
  print?: (line: string) => void;
}

const USAGE =
  'nx run train:table6 --launcher=slurm [--scale=S] [--seeds=0,1,2] [--rows=1-6] [--partition=P] [--gpus-per-task=N] ' +
  '[--time=HH:MM:SS] [--sbatch-arg=ARG ...] [--rerun-failed] [--dry-run]';

/** Variables the tasks need from the submitting environment; sbatch exports them, the scripts only name them. */
export const PASSED_ENV = ['MLFLOW_TRACKING_URI', 'MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD', 'MLFLOW_TRACKING_TOKEN'] as const;

/** Options the launcher sets itself; an --sbatch-arg may not override them. */
const OWN_SBATCH_OPTIONS = ['--array', '-a', '--dependency', '-d', '--job-name', '-J', '--output', '-o', '--error', '-e', '--hold', '-H', '--parsable', '--chdir', '-D', '--export', '--kill-on-invalid-dep', '--wrap'];

// Slurm's job states (squeue/sacct), grouped by what a resubmission does with them.
const ACTIVE = new Set(['PENDING', 'RUNNING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SUSPENDED', 'CONFIGURING', 'COMPLETING', 'STAGE_OUT', 'SIGNALING', 'STOPPED', 'RESV_DEL_HOLD', 'SPECIAL_EXIT']);
const FAILED = new Set(['FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'REVOKED']);

/** One row × seed of a sweep. */
interface Task {
  row: number;
  seed: number;
  /** Folder of its spec and script, relative to the sweep folder: `row4-seed0`. */
  dir: string;
  specHash: string;
  yaml: string;
}

/** What sweep.json records of each submission. */
interface Submission {
  n: number;
  time: string;
  initJob: string;
  arrayJob: string;
  /** Array index i runs tasks[i] (`row4-seed0`). */
  tasks: string[];
  /** The spec hash each task was submitted with: a task whose spec has changed since is submitted again. */
  specHashes?: Record<string, string>;
}

interface SweepState {
  sweep: string;
  scale: string;
  experiment: string | null;
  submissions: Submission[];
}

/** What Slurm says of a task's latest submission. */
interface TaskStatus {
  state: string; // a Slurm state, 'NEW' (never submitted) or 'UNKNOWN' (Slurm no longer knows it)
  job?: string; // <arrayJob>_<index>
  submittedHash?: string;
}

/** <state>/slurm, where <state> is the workbench's state folder: $PIXEL_BERT_STATE_DIR, else the parent of $PIXEL_BERT_RUNS_DIR, else <workspace>/runs. */
export function sweepsRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PIXEL_BERT_STATE_DIR) return path.join(path.resolve(env.PIXEL_BERT_STATE_DIR), 'slurm');
  if (env.PIXEL_BERT_RUNS_DIR) return path.join(path.dirname(path.resolve(env.PIXEL_BERT_RUNS_DIR)), 'slurm');
  return path.join(WORKSPACE_ROOT, 'runs', 'slurm');
}

/** Runs a sweep through Slurm; returns the exit code: 0 submitted (or nothing to do), 2 Slurm refused the request as invalid, 1 other failures. */
export async function slurmSweep(o: SlurmSweepOptions): Promise<number> {
  const env = o.env ?? process.env;
  const print = o.print ?? ((s: string) => console.log(s));
  const flags = checkFlags(o.flags);
  const experiment = o.experiment ?? env.PIXEL_BERT_EXPERIMENT;
  if (experiment !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(experiment))
    throw new UsageError(`--experiment=${experiment}: the Slurm launcher names folders and jobs after it; use letters, digits, '.', '_' or '-'\nusage: ${USAGE}`);
  if (o.rows.length === 0 || o.seeds.length === 0) throw new UsageError(`no rows or no seeds to run\nusage: ${USAGE}`);

  // Resolve every spec first: a bad one stops the sweep before anything is written or submitted.
  const tasks: Task[] = [];
  for (const row of o.rows)
    for (const seed of o.seeds) {
      const r = loadRowSpec({ row, scale: o.scale, seed });
      tasks.push({ row, seed, dir: `row${row}-seed${seed}`, specHash: r.hash, yaml: r.yaml });
    }

  const sweep = `table6-${o.scale}-${experiment ?? 'pixel-bert'}`;
  const dir = path.join(o.sweepsDir ?? sweepsRoot(env), sweep);
  const scripts = renderScripts({ dir, sweep, scale: o.scale, experiment, tasks });
  const slurm = findSlurm(env);
  if (!slurm && !o.dryRun)
    throw new UsageError(
      'sbatch not found on PATH: the Slurm launcher submits through Slurm\'s client commands (sbatch, squeue, sacct, scancel, scontrol). ' +
        'Install them (Debian/Ubuntu: apt-get install slurm-client; with a cluster configured in /etc/slurm/slurm.conf), ' +
        'or start a single-node cluster on this machine with tools/slurm-local start, or run the sweep here with --launcher=local.',
    );

  // Which tasks to submit: ask Slurm how each one's latest submission ended.
  const statePath = path.join(dir, 'sweep.json');
  const state: SweepState = existsSync(statePath)
    ? (JSON.parse(readFileSync(statePath, 'utf8')) as SweepState)
    : { sweep, scale: o.scale, experiment: experiment ?? null, submissions: [] };
  const statuses = slurm ? await taskStatuses(slurm, dir, state, tasks, env) : new Map<string, TaskStatus>();
  const rerunFailed = flags['rerun-failed'] === true;
  const chosen: Task[] = [];
  print(`sweep ${sweep}: ${tasks.length} task(s) (rows ${o.rows.join(',')} × seeds ${o.seeds.join(',')}, ${o.scale} scale) in ${dir}`);
  for (const t of tasks) {
    const s = statuses.get(t.dir) ?? { state: 'NEW' };
    const changed = s.submittedHash !== undefined && s.submittedHash !== t.specHash && !ACTIVE.has(s.state);
    const submit = changed || (rerunFailed ? FAILED.has(s.state) : !ACTIVE.has(s.state) && s.state !== 'COMPLETED');
    const why = s.state === 'NEW' ? 'not submitted before' : `${s.state}${s.job ? ` as job ${s.job}` : ''}${changed ? ', spec changed since' : ''}`;
    print(`  ${t.dir.padEnd(14)} ${why.padEnd(34)} ${submit ? '→ submit' : '→ keep'}`);
    if (submit) chosen.push(t);
  }

  if (o.dryRun) {
    print(`\n# ${path.join(dir, 'init.sbatch')}\n${scripts.init}`);
    print(`# ${path.join(dir, 'array.sbatch')}\n${scripts.array}`);
    for (const t of tasks) {
      print(`# ${path.join(dir, t.dir, 'task.sh')}\n${scripts.task.get(t.dir)}`);
      print(`# ${path.join(dir, t.dir, 'spec.yaml')} (hash ${t.specHash})\n${t.yaml}`);
    }
    const args = sbatchArgs(flags);
    print(`# would run (when there is something to submit):`);
    print(`sbatch --hold --job-name=pb-${sweep}-init --dependency=singleton ${args.join(' ')} init.sbatch`);
    print(`sbatch --array=0-${Math.max(chosen.length - 1, 0)} --dependency=afterok:<init job> --kill-on-invalid-dep=yes --job-name=pb-${sweep} ${args.join(' ')} array.sbatch submit-<n>.tasks`);
    print(`scontrol release <init job>`);
    print(`\n(dry run: ${chosen.length} task(s) would be submitted; nothing was written or submitted)`);
    return 0;
  }
  if (chosen.length === 0) {
    print(`\nnothing to submit: ${rerunFailed ? 'no task failed' : 'every task is finished or still queued/running'}`);
    return 0;
  }

  // Write specs and scripts (each file atomically), then submit.
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  for (const t of tasks) {
    mkdirSync(path.join(dir, t.dir), { recursive: true });
    writeAtomic(path.join(dir, t.dir, 'spec.yaml'), t.yaml);
    writeAtomic(path.join(dir, t.dir, 'task.sh'), scripts.task.get(t.dir)!, 0o755);
  }
  writeAtomic(path.join(dir, 'init.sbatch'), scripts.init, 0o755);
  writeAtomic(path.join(dir, 'array.sbatch'), scripts.array, 0o755);
  const n = (state.submissions.at(-1)?.n ?? 0) + 1;
  const tasksFile = path.join(dir, `submit-${n}.tasks`);
  writeAtomic(tasksFile, chosen.map((t) => t.dir).join('\n') + '\n');
  warnAboutTracking(env, print);

  const common = sbatchArgs(flags);
  const init = await submit(slurm!, ['--hold', `--job-name=pb-${sweep}-init`, '--dependency=singleton', `--output=${dir}/logs/init-%j.out`, ...common, path.join(dir, 'init.sbatch')], env);
  if (!init.ok) {
    print(`\nerror: Slurm refused the init job; nothing was submitted.\n${init.message}`);
    return refusalCode(init.message);
  }
  const array = await submit(
    slurm!,
    [
      `--array=0-${chosen.length - 1}`,
      `--dependency=afterok:${init.id}`,
      '--kill-on-invalid-dep=yes',
      `--job-name=pb-${sweep}`,
      `--output=${dir}/logs/%A_%a.out`,
      ...common,
      path.join(dir, 'array.sbatch'),
      tasksFile,
    ],
    env,
  );
  if (!array.ok) {
    await run(slurm!.scancel, [init.id], env);
    print(`\nerror: Slurm refused the array job; the held init job ${init.id} was cancelled, so nothing is left submitted.\n${array.message}`);
    return refusalCode(array.message);
  }
  const specHashes = Object.fromEntries(chosen.map((t) => [t.dir, t.specHash]));
  state.submissions.push({ n, time: new Date().toISOString(), initJob: init.id, arrayJob: array.id, tasks: chosen.map((t) => t.dir), specHashes });
  writeAtomic(statePath, JSON.stringify(state, null, 2) + '\n');
  const released = await run(slurm!.scontrol, ['release', init.id], env);
  if (!released.ok) {
    print(`\nwarning: could not release the init job ${init.id}: ${released.stderr.trim()}\n  release it by hand: scontrol release ${init.id}`);
  }

  print(`\nsubmitted: init job ${init.id} (train:init --scale=${o.scale}${experiment ? ` --experiment=${experiment}` : ''}); array job ${array.id}, ${chosen.length} task(s), starting when job ${init.id} has succeeded`);
  print(`  index  task            log`);
  chosen.forEach((t, i) => print(`  ${String(i).padEnd(6)} ${t.dir.padEnd(15)} ${dir}/logs/${array.id}_${i}.out`));
  print(`  init log: ${dir}/logs/init-${init.id}.out`);
  print(`watch:   squeue -j ${init.id},${array.id}`);
  print(`results: sacct -j ${array.id} -X -o JobID,State,ExitCode,Elapsed   (without slurmdbd: sacct --completion)`);
  print(`resubmit what did not finish: the same command again; only the failed tasks: add --rerun-failed`);
  return 0;
}

function checkFlags(f: SlurmFlagValues): SlurmFlagValues {
  intFlag('gpus-per-task', f['gpus-per-task'], USAGE, { min: 0 });
  // Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
  if (f.time !== undefined && !/^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+(:\d{1,2}){0,2})$/.test(f.time))
    throw new UsageError(`--time=${f.time}: expected Slurm's time format, e.g. 30, 1:30:00 or 2-00:00:00\nusage: ${USAGE}`);
  if (f.partition !== undefined && !/^[A-Za-z0-9_.,-]+$/.test(f.partition))
    throw new UsageError(`--partition=${f.partition}: expected a partition name (letters, digits, '_', '-', '.', or a comma-separated list)\nusage: ${USAGE}`);
  for (const a of f['sbatch-arg'] ?? []) {
    if (!a.startsWith('-')) throw new UsageError(`--sbatch-arg=${a}: expected one sbatch option, e.g. --sbatch-arg=--account=proj\nusage: ${USAGE}`);
    // `--name=value`, `--name`, or a short option with its value attached (`-o/tmp/x`).
    const name = a.startsWith('--') ? a.split('=')[0]! : a.slice(0, 2);
    if (OWN_SBATCH_OPTIONS.includes(name)) throw new UsageError(`--sbatch-arg=${a}: the launcher sets ${name} itself\nusage: ${USAGE}`);
  }
  return f;
}

/** sbatch options shared by both jobs. The environment is exported whole: MLflow's variables travel by name, never as values. */
function sbatchArgs(f: SlurmFlagValues): string[] {
  const args = ['--parsable', '--export=ALL', `--chdir=${WORKSPACE_ROOT}`];
  if (f.partition) args.push(`--partition=${f.partition}`);
  if (f.time) args.push(`--time=${f.time}`);
  if (f['gpus-per-task'] !== undefined) args.push(`--gpus-per-task=${f['gpus-per-task']}`);
  args.push(...(f['sbatch-arg'] ?? []));
  return args;
}

/**
 * The lines of a script that run one of train's CLIs (what `npx nx run train:<target> <args>` runs)
 * as a single process and hand it Slurm's signals. On scancel or the time limit Slurm sends SIGTERM
 * to the batch shell only (SIGKILL to everything KillWait later); through npx, nx and tsx's own parent
 * process it would never reach the training process, which needs it to checkpoint and end its runs
 * KILLED. The shell waits in the background so that its trap runs at once, and forwards the signal.
 */
function runForwardingSignals(cli: string, args: string): string[] {
  return [
    `# = npx nx run train:${cli.replace(/\.ts$/, '')} ${args}, as one process that gets Slurm's SIGTERM (scancel, time limit)`,
    `node --import tsx packages/train/src/cli/${cli} ${args} &`,
    'child=$!',
    'trap \'kill -TERM "$child" 2>/dev/null\' TERM',
    'trap \'kill -INT "$child" 2>/dev/null\' INT',
    '# wait returns early when a signal is trapped; wait again until the process has really ended',
    'while :; do',
    '  wait "$child" && status=0 || status=$?',
    '  kill -0 "$child" 2>/dev/null || break',
    'done',
    'exit "$status"',
  ];
}

const shq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function renderScripts(o: { dir: string; sweep: string; scale: string; experiment?: string; tasks: Task[] }) {
  const env = `export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false`;
  const exp = o.experiment ? ` --experiment=${o.experiment}` : '';
  const passed = `# ${PASSED_ENV.join(', ')}: inherited from the submitting shell (sbatch --export=ALL), never written here.`;
  const init = [
    '#!/usr/bin/env bash',
    `# Generated by pixel-bert train:table6 --launcher=slurm (sweep ${o.sweep}): the initialisation stages`,
    `# every row starts from, run once; the array job's tasks depend on this job (afterok).`,
    passed,
    'set -euo pipefail',
    `cd ${shq(WORKSPACE_ROOT)}`,
    env,
    `echo "[pixel-bert] init job $SLURM_JOB_ID on $(hostname): train:init --scale=${o.scale}${exp}"`,
    ...runForwardingSignals('init.ts', `--scale=${o.scale}${exp}`),
    '',
  ].join('\n');
  const array = [
    '#!/usr/bin/env bash',
    `# Generated by pixel-bert train:table6 --launcher=slurm (sweep ${o.sweep}): one array task per row × seed.`,
    `# Argument: a submit-<n>.tasks file; line i names the task folder that array index i runs.`,
    passed,
    'set -euo pipefail',
    `SWEEP=${shq(o.dir)}`,
    'mapfile -t TASKS < "$1"',
    'TASK="${TASKS[$SLURM_ARRAY_TASK_ID]}"',
    '# The task\'s own job id: without slurmdbd, sacct --completion lists array tasks by it.',
    'echo "$SLURM_JOB_ID" > "$SWEEP/$TASK/job-${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
    'echo "[pixel-bert] task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} (job $SLURM_JOB_ID) on $(hostname): $TASK"',
    'exec bash "$SWEEP/$TASK/task.sh"',
    '',
  ].join('\n');
  const task = new Map<string, string>();
  for (const t of o.tasks) {
    task.set(
      t.dir,
      [
        '#!/usr/bin/env bash',
        `# Table 6 row ${t.row}, seed ${t.seed}, ${o.scale} scale (sweep ${o.sweep}); resolved spec: spec.yaml beside this file`,
        `# (hash ${t.specHash}). Run by the array job, or by hand. A finished stage is taken from the run cache,`,
        `# an interrupted one resumes from its checkpoint.`,
        passed,
        'set -euo pipefail',
        `cd ${shq(WORKSPACE_ROOT)}`,
        env,
        ...runForwardingSignals('ablation.ts', `--row=${t.row} --scale=${o.scale} --seed=${t.seed}${exp}`),
        '',
      ].join('\n'),
    );
  }
  return { init, array, task };
}

interface SlurmCommands {
  sbatch: string;
  squeue: string;
  sacct: string;
  scancel: string;
  scontrol: string;
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const d of (env.PATH ?? '').split(path.delimiter)) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

function findSlurm(env: NodeJS.ProcessEnv): SlurmCommands | undefined {
  const sbatch = findOnPath('sbatch', env);
  if (!sbatch) return undefined;
  const other = (n: string) => findOnPath(n, env) ?? n;
  return { sbatch, squeue: other('squeue'), sacct: other('sacct'), scancel: other('scancel'), scontrol: other('scontrol') };
}

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { env, maxBuffer: 16 << 20 });
    return { ok: true, stdout, stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return { ok: false, stdout: err.stdout ?? '', stderr: err.stderr || err.message };
  }
}

async function submit(slurm: SlurmCommands, args: string[], env: NodeJS.ProcessEnv): Promise<{ ok: true; id: string } | { ok: false; message: string }> {
  const r = await run(slurm.sbatch, args, env);
  // --parsable prints "<id>" or "<id>;<cluster>".
  const id = r.stdout.trim().split(/\s+/).at(-1)?.split(';')[0] ?? '';
  if (!r.ok || !/^\d+$/.test(id)) return { ok: false, message: (r.stderr.trim() || r.stdout.trim() || 'sbatch printed no job id').replace(/^/gm, '  ') };
  return { ok: true, id };
}

/** sbatch refusing the request itself (a bad partition, time or option) is bad input: exit 2; anything else 1. */
function refusalCode(message: string): number {
  return /invalid|unrecognized|unknown|not recognized|unavailable|not available|requested node configuration/i.test(message) ? 2 : 1;
}

function writeAtomic(file: string, text: string, mode = 0o644): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}

function warnAboutTracking(env: NodeJS.ProcessEnv, print: (s: string) => void): void {
  const uri = env.MLFLOW_TRACKING_URI;
  if (!uri) {
    print('note: MLFLOW_TRACKING_URI is not set, so each task journals its runs only in the local store of the node it ran on (runs/tracking); deliver them later with tracking:sync');
  } else if (/^https?:\/\/(127\.|localhost\b|\[::1\])/.test(uri)) {
    print('note: MLFLOW_TRACKING_URI is a loopback address: tasks reach it only when they run on this machine (a single-node cluster); on a multi-node cluster give an address the compute nodes reach');
  }
}

/**
 * How the latest submission of each task ended, from Slurm: squeue for tasks still queued or
 * running; sacct for finished ones (accounting through slurmdbd), else `sacct --completion` (the
 * job completion log, which lists array tasks by their own job id: the task wrote it beside its
 * script).
 */
async function taskStatuses(slurm: SlurmCommands, dir: string, state: SweepState, tasks: Task[], env: NodeJS.ProcessEnv): Promise<Map<string, TaskStatus>> {
  const latest = new Map<string, { sub: Submission; index: number }>();
  for (const sub of state.submissions) sub.tasks.forEach((t, index) => latest.set(t, { sub, index }));
  const wanted = tasks.filter((t) => latest.has(t.dir));
  const out = new Map<string, TaskStatus>();
  if (wanted.length === 0) return out;
  const arrayJobs = [...new Set(wanted.map((t) => latest.get(t.dir)!.sub.arrayJob))];

  const known = new Map<string, string>(); // "<arrayJob>_<index>" → state
  const q = await run(slurm.squeue, ['-h', '-r', '-j', arrayJobs.join(','), '-o', '%i|%T'], env);
  if (q.ok) for (const line of q.stdout.split('\n')) addState(known, line);
  const acct = await run(slurm.sacct, ['-X', '-n', '-P', '-j', arrayJobs.join(','), '-o', 'JobID,State'], env);
  if (acct.ok && !/accounting storage is disabled/i.test(acct.stdout + acct.stderr)) {
    for (const line of acct.stdout.split('\n')) if (!known.has(line.split('|')[0]!)) addState(known, line);
  } else {
    // A day before the first submission asked about: sacct reads -S in the cluster's local time.
    const first = Date.parse(state.submissions.find((s) => arrayJobs.includes(s.arrayJob))!.time);
    const since = new Date(first - 86_400_000).toISOString().slice(0, 10);
    const c = await run(slurm.sacct, ['--completion', '-a', '-n', '-P', '-S', since, '-o', 'JobIDRaw,State'], env);
    const byRaw = new Map<string, string>();
    for (const line of c.stdout.split('\n')) addState(byRaw, line);
    for (const t of wanted) {
      const { sub, index } = latest.get(t.dir)!;
      const key = `${sub.arrayJob}_${index}`;
      if (known.has(key)) continue;
      const marker = path.join(dir, t.dir, `job-${key}`);
      // A task that never started (its array cancelled while pending) wrote no marker: it is part
      // of the array's own record.
      const raw = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : sub.arrayJob;
      const s = byRaw.get(raw);
      if (s) known.set(key, s);
    }
  }
  for (const t of wanted) {
    const { sub, index } = latest.get(t.dir)!;
    const job = `${sub.arrayJob}_${index}`;
    out.set(t.dir, { state: known.get(job) ?? 'UNKNOWN', job, submittedHash: sub.specHashes?.[t.dir] });
  }
  return out;
}

/** Adds one `JobID|State` line; an array's pending remainder (`12_[3-5,7%2]`) stands for each of its indices. */
export function addState(into: Map<string, string>, line: string): void {
  const [id, st] = line.trim().split('|');
  if (!id || !st) return;
  const state = st.split(/\s+/)[0]!.replace(/\+$/, '');
  const m = /^(\d+)_\[([\d,-]+)(?:%\d+)?\]$/.exec(id);
  if (!m) {
    into.set(id, state);
    return;
  }
  for (const part of m[2]!.split(',')) {
    const [a, b = a] = part.split('-').map(Number) as [number, number?];
    for (let i = a; i <= b!; i++) into.set(`${m[1]}_${i}`, state);
  }
}
