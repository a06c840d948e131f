// `npx nx run train:table6 [--scale=S] [--seeds=0,1,2] [--rows=1-6] [--jobs=N|auto] [--experiment=E] [--launcher=local|slurm] [--dry-run]`
// Every row × seed of Table 6. Locally: the shared initialisation stages first, then each row in a
// process of its own, `--jobs` of them at a time (a finished row is skipped from the run cache, an
// interrupted one resumes); a failed row does not stop the sweep, and the failures are listed at the
// end with the command that reruns each. With --launcher=slurm the same work becomes a Slurm array
// job (launch/slurm.ts).
//
// Why rows side by side: a `small` step is made of ~1200 small kernels and keeps only ~1.4 of 2
// cores busy; two rows at once keep both busy (docs/performance.md has the measurement). Rows share
// nothing but the init stages and the generated world, both made by the init command before any row
// starts (for every backbone the rows use), so running them at once changes no result.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ROWS, SCALES, UsageError, WORKSPACE_ROOT, parseFlags, runCli, type Scale } from '@pixel-bert/spec';
import { SLURM_FLAGS, slurmSweep } from '../launch/slurm';
import { parseList } from './rows';
import { formatSeconds } from '../runner/progress';

const USAGE = 'nx run train:table6 [--scale=smoke|small|paper] [--seeds=0,1,2] [--rows=1-6] [--jobs=N|auto] [--experiment=NAME] [--launcher=local|slurm] [--dry-run] [slurm flags]';

/** Memory a row's process may take at smoke/small (peak RSS measured ≈ 1.5 GB), with headroom. */
const ROW_MEMORY_BYTES = 3 * 2 ** 30;

/**
 * How many rows run at once. `auto`: one per core at smoke/small, as many as memory allows (3 GiB
 * each); one at paper scale, whose rows fill a machine on their own.
 */
export function jobsFor(raw: string, scale: Scale, cores = os.availableParallelism(), memory = os.totalmem()): number {
  if (raw === 'auto') return scale === 'paper' ? 1 : Math.max(1, Math.min(cores, Math.floor(memory / ROW_MEMORY_BYTES)));
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`--jobs=${raw}: expected a whole number ≥ 1 or auto\nusage: ${USAGE}`);
  return Number(raw);
}

/** Expected relative cost of a row (the ResNeXt row longest, row 1 without pre-training shortest): the longest start first. */
const ROW_COST: Record<number, number> = { 1: 1, 2: 3, 3: 3, 4: 3.5, 5: 3.5, 6: 5 };

interface Job {
  row: number;
  seed: number;
  args: string[];
}

interface Finished {
  job: Job;
  code: number | null;
  seconds: number;
}

/**
 * Runs the jobs, `jobs` processes at a time, each in a process group of its own so that a Ctrl-C
 * reaches this process alone: it passes each signal on once (a row finishes its step, checkpoints
 * and exits 130; a second Ctrl-C makes the rows exit at once) and starts nothing new. With one job
 * at a time a row writes straight to the terminal (its progress bar included); with more, each
 * line comes prefixed with its row and seed.
 */
async function runPool(list: Job[], jobs: number, spawnRow: (job: Job, piped: boolean) => ChildProcess, t0: number): Promise<{ finished: Finished[]; interrupted: boolean }> {
  const queue = [...list].sort((a, b) => (ROW_COST[b.row] ?? 1) - (ROW_COST[a.row] ?? 1) || a.seed - b.seed || a.row - b.row);
  const running = new Set<ChildProcess>();
  const finished: Finished[] = [];
  let interrupted = false;
  let lastSignalAt = -Infinity;
  const relay = (sig: NodeJS.Signals) => {
    // One Ctrl-C can arrive two or three times: from the terminal, relayed by tsx, and as the SIGTERM
    // nx sends its task. Passed on twice it would make the rows stop without their checkpoint, so
    // any stop signal within 1.5 s of the last counts once; a second Ctrl-C after that stops the
    // rows at once, as it does a single row.
    const now = performance.now();
    if (now - lastSignalAt < 1500) return;
    lastSignalAt = now;
    interrupted = true;
    console.error(`\n${sig}: passing it on to the ${running.size} running row(s); no new row starts`);
    for (const c of running) {
      try {
        if (c.pid) process.kill(-c.pid, sig);
      } catch {
        // the row ended between its last output and this signal: nothing to pass on
      }
    }
  };
  process.on('SIGINT', relay);
  process.on('SIGTERM', relay);
  let started = 0;
  try {
    await new Promise<void>((done) => {
      const next = () => {
        while (!interrupted && running.size < jobs && queue.length) {
          const job = queue.shift()!;
          started++;
          console.log(`\n==== [${started}/${list.length}] row ${job.row}, seed ${job.seed} starts (${formatSeconds((performance.now() - t0) / 1000)} so far${jobs > 1 ? `, ${running.size + 1} running` : ''})`);
          const ts = performance.now();
          const child = spawnRow(job, jobs > 1);
          running.add(child);
          if (jobs > 1) {
            const tag = `[r${job.row} s${job.seed}] `;
            for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]] as const) {
              let rest = '';
              from!.setEncoding('utf8');
              from!.on('data', (chunk: string) => {
                const lines = (rest + chunk).split('\n');
                rest = lines.pop()!;
                for (const l of lines) to.write(tag + l + '\n');
              });
              from!.on('end', () => rest && to.write(tag + rest + '\n'));
            }
          }
          child.on('close', (code, signal) => {
            running.delete(child);
            const c = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : null);
            finished.push({ job, code: c, seconds: (performance.now() - ts) / 1000 });
            if (c === 130 || c === 143) interrupted = true;
            console.log(`==== row ${job.row}, seed ${job.seed} ended (exit ${c}) after ${formatSeconds((performance.now() - ts) / 1000)}`);
            next();
          });
        }
        if (running.size === 0) done();
      };
      next();
    });
  } finally {
    process.off('SIGINT', relay);
    process.off('SIGTERM', relay);
  }
  return { finished, interrupted };
}

await runCli(async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    {
      scale: { type: 'string', default: 'small' },
      seeds: { type: 'string', default: '0' },
      rows: { type: 'string', default: '1-6' },
      jobs: { type: 'string', default: 'auto' },
      experiment: { type: 'string' },
      launcher: { type: 'string', default: 'local' },
      'dry-run': { type: 'boolean', default: false },
      ...SLURM_FLAGS,
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (flags.help) {
    console.log(`usage: ${USAGE}`);
    return 0;
  }
  if (!(SCALES as readonly string[]).includes(flags.scale)) throw new UsageError(`--scale=${flags.scale}: expected one of ${SCALES.join(', ')}`);
  const scale = flags.scale as Scale;
  const rows = parseList('rows', flags.rows, ROWS, USAGE);
  const seeds = parseList('seeds', flags.seeds, undefined, USAGE);
  if (flags.launcher === 'slurm') {
    const { partition, 'gpus-per-task': g, time, 'sbatch-arg': sb, 'rerun-failed': rf } = flags;
    return slurmSweep({ scale, seeds, rows, dryRun: flags['dry-run'], flags: { partition, 'gpus-per-task': g, time, 'sbatch-arg': sb, 'rerun-failed': rf }, ...(flags.experiment ? { experiment: flags.experiment } : {}) });
  }
  if (flags.launcher !== 'local') throw new UsageError(`--launcher=${flags.launcher}: expected local or slurm`);
  const common = [`--scale=${scale}`, ...(flags.experiment ? [`--experiment=${flags.experiment}`] : [])];
  const jobList: Job[] = seeds.flatMap((seed) => rows.map((row) => ({ row, seed, args: [`--row=${row}`, `--seed=${seed}`, ...common] })));
  const parallel = Math.min(jobsFor(flags.jobs, scale), jobList.length);
  const cli = (script: string) => path.join(WORKSPACE_ROOT, 'packages/train/src/cli', script);
  // This process's own Node flags (tsx's loader) start each row: no relaying launcher in between.
  const node = (script: string, args: string[]) => [...process.execArgv, cli(script), ...args];
  const command = (args: string[]) => `npx nx run train:ablation ${args.join(' ')}`;
  console.log(`Table 6 at ${scale} scale: rows ${rows.join(', ')} × seeds ${seeds.join(', ')} = ${jobList.length} row-runs, ${parallel === 1 ? 'one after another' : `${parallel} at a time`}`);
  if (flags['dry-run']) {
    console.log(`npx nx run train:init ${[...common, `--rows=${rows.join(',')}`].join(' ')}`);
    for (const j of jobList) console.log(command(j.args));
    return 0;
  }
  const t0 = performance.now();
  // every init stage the rows need (one backbone's per distinct backbone) before any row starts
  const initArgs = [...common, `--rows=${rows.join(',')}`];
  // The init stages run exactly as `train:init` runs them: one TensorFlow thread per stage process
  // (the backend's default), the backbone's and the text's side by side (trainer.parallelStages).
  // A stage's numbers depend on its thread count: with two threads here (the sweep before 2026-12-04
  // afternoon), the ResNet stand-in ended at held-out mAP 99.9137 instead of 99.9995, under the same
  // stage hash, and every row trained from it came out different (docs/results/small-table6.md).
  const init = spawnSync(process.execPath, node('init.ts', initArgs), { stdio: 'inherit', cwd: WORKSPACE_ROOT, env: process.env });
  if (init.status !== 0) {
    console.error(`\nthe shared initialisation stages failed (exit ${init.status}); rerun: npx nx run train:init ${initArgs.join(' ')}`);
    return init.status ?? 1;
  }
  const { finished, interrupted } = await runPool(
    jobList,
    parallel,
    // rows side by side already keep the cores busy: each runs its stages one after another
    (job, piped) => spawn(process.execPath, node('ablation.ts', job.args), { cwd: WORKSPACE_ROOT, detached: true, stdio: ['ignore', piped ? 'pipe' : 'inherit', piped ? 'pipe' : 'inherit'], env: parallel > 1 ? { ...process.env, PIXEL_BERT_PARALLEL_STAGES: '1', PIXEL_BERT_DATA_PARALLEL: '1' } : process.env }),
    t0,
  );
  const failed = finished.filter((f) => f.code !== 0);
  const times = finished.map((f) => `row ${f.job.row} seed ${f.job.seed}: ${formatSeconds(f.seconds)} (exit ${f.code})`);
  if (interrupted) {
    for (const t of times) console.log(`  ${t}`);
    console.error(`\nsweep interrupted after ${formatSeconds((performance.now() - t0) / 1000)}; run the same command to resume (finished rows are skipped, interrupted ones resume from their checkpoints).`);
    return failed.find((f) => f.code === 130 || f.code === 143)?.code ?? 130;
  }
  console.log(`\n== Table 6 sweep: ${jobList.length - failed.length} of ${jobList.length} row-runs finished in ${formatSeconds((performance.now() - t0) / 1000)}`);
  for (const t of times) console.log(`  ${t}`);
  if (failed.length) {
    console.error(`\n${failed.length} failed; rerun each with:`);
    for (const f of failed) console.error(`  ${command(f.job.args)}    # exit ${f.code}`);
    return 1;
  }
  console.log(`build the table: npx nx run eval:table6 --scale=${scale}${flags.experiment ? ` --experiment=${flags.experiment}` : ''}`);
  return 0;
});
