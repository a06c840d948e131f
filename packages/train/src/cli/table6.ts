// `npx nx run train:table6 [--scale=S] [--seeds=0,1,2] [--rows=1-6] [--jobs=N|auto] [--experiment=E] [--launcher=local|slurm] [--dry-run]`
// Every row × seed of Table 6. Locally: the generated world first (where it is missing), then a pool
// of processes, `--jobs` at a time: one init job per backbone (its stand-in's init stage and the
// text's, as `train:init` runs them) and one job per row × seed, each row starting once its
// backbone's init stages are done (sweep-pool.ts). A finished row is skipped from the run cache, an
// interrupted one resumes; a failed row does not stop the sweep, and the failures are listed at the
// end with the command that reruns each. With --launcher=slurm the same work becomes a Slurm array
// job (launch/slurm.ts).
//
// Why rows side by side: a `small` step is made of ~1200 small kernels and keeps only ~1.4 of 2
// cores busy; two rows at once keep both busy (docs/performance.md has the measurement). Rows share
// nothing but the init stages and the generated world, both made before any row that reads them
// starts, so running them at once changes no result.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROWS, SCALES, UsageError, WORKSPACE_ROOT, parseFlags, runCli, type Scale } from '@pixel-bert/spec';
import { SLURM_FLAGS, slurmSweep } from '../launch/slurm';
import { parseList, rowsByBackbone } from './rows';
import { formatSeconds } from '../runner/progress';
import { prepareData } from '../stages/data';
import { runPool, type PoolJob } from './sweep-pool';

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

/**
 * Expected wall time of a row-run beside another, in minutes (twelfth `small` sweep, 2026-12-05: rows
 * 1–6 took at most 2.5 / 5.1 / 5.8 / 6.5 / 5.9 / 7.2 min): the pool starts the costliest ready row
 * first. The init jobs (ResNet stand-in and text 2.3 min, ResNeXt 4.0) cost Infinity: they start first.
 */
const ROW_COST: Record<number, number> = { 1: 2.5, 2: 5.1, 3: 5.8, 4: 6.5, 5: 5.9, 6: 7.2 };

interface Job extends PoolJob {
  kind: 'init' | 'row';
  args: string[];
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
  const command = (script: 'init' | 'ablation', args: string[]) => `npx nx run train:${script} ${args.join(' ')}`;
  // One init job per backbone (its stand-in's init stage and the text's, shared by all): the rows of
  // a backbone start as soon as its init stages are in the run cache, beside the other backbone's.
  const groups = rowsByBackbone(rows, { scale });
  const inits: Job[] = [];
  const initOf = new Map<number, Job>();
  for (const [arch, g] of groups) {
    const args = [...common, `--rows=${g.rows.join(',')}`];
    // before any row: infinitely costly, and the backbone with the most row-runs first
    const init: Job = { kind: 'init', label: `init stages of ${arch} (row${g.rows.length > 1 ? 's' : ''} ${g.rows.join(', ')})`, tag: `[init ${arch}] `, cost: Infinity, order: -g.rows.length * 100 + inits.length, args, rerun: command('init', args) };
    inits.push(init);
    for (const row of g.rows) initOf.set(row, init);
  }
  const rowJobs: Job[] = seeds.flatMap((seed) =>
    rows.map((row) => {
      const args = [`--row=${row}`, `--seed=${seed}`, ...common];
      return { kind: 'row' as const, label: `row ${row}, seed ${seed}`, tag: `[r${row} s${seed}] `, cost: ROW_COST[row] ?? 1, order: seed * 10 + row, after: initOf.get(row)!, args, rerun: command('ablation', args) };
    }),
  );
  const jobList = [...inits, ...rowJobs];
  const parallel = Math.min(jobsFor(flags.jobs, scale), rowJobs.length);
  const cli = (script: string) => path.join(WORKSPACE_ROOT, 'packages/train/src/cli', script);
  // This process's own Node flags (tsx's loader) start each job: no relaying launcher in between.
  const node = (script: string, args: string[]) => [...process.execArgv, cli(script), ...args];
  console.log(`Table 6 at ${scale} scale: rows ${rows.join(', ')} × seeds ${seeds.join(', ')} = ${rowJobs.length} row-runs, ${parallel === 1 ? 'one after another' : `${parallel} at a time`}, after the init stages of ${[...groups.keys()].join(' and ')}`);
  if (flags['dry-run']) {
    for (const j of jobList) console.log(j.rerun);
    return 0;
  }
  const t0 = performance.now();
  // The generated world before two init jobs at once would both find it missing and write it.
  const world = groups.values().next().value!.resolved.spec;
  if (world.data.source === 'synthetic' && !existsSync(path.join(path.resolve(WORKSPACE_ROOT, world.data.root), 'manifest.json'))) await prepareData(world);
  const { finished, interrupted } = await runPool(
    jobList,
    parallel,
    (job, piped) =>
      spawn(process.execPath, node(job.kind === 'init' ? 'init.ts' : 'ablation.ts', job.args), {
        cwd: WORKSPACE_ROOT,
        detached: true,
        stdio: ['ignore', piped ? 'pipe' : 'inherit', piped ? 'pipe' : 'inherit'],
        // An init job runs its stages exactly as `train:init` does: one TensorFlow thread per stage
        // process (the backend's default), the backbone's and the text's side by side
        // (trainer.parallelStages). A stage's numbers depend on its thread count: with two threads
        // here (the sweep before 2026-12-04 afternoon), the ResNet stand-in ended at held-out mAP
        // 99.9137 instead of 99.9995, under the same stage hash (docs/results/small-table6.md).
        // Rows side by side already keep the cores busy: each runs its stages one after another.
        env: job.kind === 'row' && parallel > 1 ? { ...process.env, PIXEL_BERT_PARALLEL_STAGES: '1', PIXEL_BERT_DATA_PARALLEL: '1' } : process.env,
      }),
    t0,
  );
  const failed = finished.filter((f) => f.code !== 0);
  const times = finished.map((f) => `${f.job.label}: ${f.code === null ? 'not started' : `${formatSeconds(f.seconds)} (exit ${f.code})`}`);
  if (interrupted) {
    for (const t of times) console.log(`  ${t}`);
    console.error(`\nsweep interrupted after ${formatSeconds((performance.now() - t0) / 1000)}; run the same command to resume (finished rows are skipped, interrupted ones resume from their checkpoints).`);
    return failed.find((f) => f.code === 130 || f.code === 143)?.code ?? 130;
  }
  const rowsDone = finished.filter((f) => f.job.kind === 'row' && f.code === 0).length;
  console.log(`\n== Table 6 sweep: ${rowsDone} of ${rowJobs.length} row-runs finished in ${formatSeconds((performance.now() - t0) / 1000)}`);
  for (const t of times) console.log(`  ${t}`);
  if (failed.length) {
    const ran = failed.filter((f) => f.code !== null);
    console.error(`\n${ran.length} failed; rerun each with:`);
    for (const f of ran) console.error(`  ${f.job.rerun}    # exit ${f.code}`);
    const waiting = failed.filter((f) => f.code === null);
    if (waiting.length) console.error(`${waiting.length} row-run(s) not started because their init stages failed (${waiting.map((f) => f.job.label).join('; ')}): rerun the sweep after the init command above`);
    return 1;
  }
  console.log(`build the table: npx nx run eval:table6 --scale=${scale}${flags.experiment ? ` --experiment=${flags.experiment}` : ''}`);
  return 0;
});
