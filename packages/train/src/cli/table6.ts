// `npx nx run train:table6 [--scale=S] [--seeds=0,1,2] [--rows=1-6] [--experiment=E] [--launcher=local|slurm] [--dry-run]`
// Every row × seed of Table 6. Locally: the shared initialisation stages first, then each row in a
// process of its own (a finished row is skipped from the run cache, an interrupted one resumes); a
// failed row does not stop the sweep, and the failures are listed at the end with the command that
// reruns each. With --launcher=slurm the same work becomes a Slurm array job (launch/slurm.ts).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROWS, SCALES, UsageError, WORKSPACE_ROOT, parseFlags, runCli, type Scale } from '@pixel-bert/spec';
import { SLURM_FLAGS, slurmSweep } from '../launch/slurm';
import { formatSeconds } from '../runner/progress';

const USAGE = 'nx run train:table6 [--scale=smoke|small|paper] [--seeds=0,1,2] [--rows=1-6] [--experiment=NAME] [--launcher=local|slurm] [--dry-run] [slurm flags]';

/** "1-6", "1,3,5", "2-4,6" → numbers. */
export function parseList(name: string, raw: string, allowed?: readonly number[]): number[] {
  const out: number[] = [];
  for (const part of raw.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UsageError(`--${name}=${raw}: expected numbers and ranges such as 1-6 or 0,1,2\nusage: ${USAGE}`);
    const a = Number(m[1]);
    const z = m[2] === undefined ? a : Number(m[2]);
    if (z < a) throw new UsageError(`--${name}=${raw}: the range ${part} runs backwards`);
    for (let i = a; i <= z; i++) {
      if (allowed && !allowed.includes(i)) throw new UsageError(`--${name}=${raw}: ${i} is not one of ${allowed.join(', ')}`);
      if (!out.includes(i)) out.push(i);
    }
  }
  return out;
}

await runCli(async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    {
      scale: { type: 'string', default: 'small' },
      seeds: { type: 'string', default: '0' },
      rows: { type: 'string', default: '1-6' },
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
  const rows = parseList('rows', flags.rows, ROWS);
  const seeds = parseList('seeds', flags.seeds);
  if (flags.launcher === 'slurm') {
    const { partition, 'gpus-per-task': g, time, 'sbatch-arg': sb, 'rerun-failed': rf } = flags;
    return slurmSweep({ scale, seeds, rows, dryRun: flags['dry-run'], flags: { partition, 'gpus-per-task': g, time, 'sbatch-arg': sb, 'rerun-failed': rf }, ...(flags.experiment ? { experiment: flags.experiment } : {}) });
  }
  if (flags.launcher !== 'local') throw new UsageError(`--launcher=${flags.launcher}: expected local or slurm`);
  const common = [`--scale=${scale}`, ...(flags.experiment ? [`--experiment=${flags.experiment}`] : [])];
  const jobs = seeds.flatMap((seed) => rows.map((row) => ({ row, seed, args: [`--row=${row}`, `--seed=${seed}`, ...common] })));
  const tsx = path.join(WORKSPACE_ROOT, 'node_modules', '.bin', 'tsx');
  const cli = (script: string) => path.join(WORKSPACE_ROOT, 'packages/train/src/cli', script);
  const command = (args: string[]) => `npx nx run train:ablation ${args.join(' ')}`;
  console.log(`Table 6 at ${scale} scale: rows ${rows.join(', ')} × seeds ${seeds.join(', ')} = ${jobs.length} row-runs, one after another`);
  if (flags['dry-run']) {
    console.log(`npx nx run train:init ${common.join(' ')}`);
    for (const j of jobs) console.log(command(j.args));
    return 0;
  }
  const t0 = performance.now();
  const init = spawnSync(tsx, [cli('init.ts'), ...common], { stdio: 'inherit', cwd: WORKSPACE_ROOT });
  if (init.status !== 0) {
    console.error(`\nthe shared initialisation stages failed (exit ${init.status}); rerun: npx nx run train:init ${common.join(' ')}`);
    return init.status ?? 1;
  }
  const failed: { job: (typeof jobs)[number]; code: number | null }[] = [];
  const times: string[] = [];
  for (const [i, job] of jobs.entries()) {
    console.log(`\n==== [${i + 1}/${jobs.length}] row ${job.row}, seed ${job.seed} (${formatSeconds((performance.now() - t0) / 1000)} so far)`);
    const ts = performance.now();
    const r = spawnSync(tsx, [cli('ablation.ts'), ...job.args], { stdio: ['inherit', 'inherit', 'inherit'], cwd: WORKSPACE_ROOT });
    times.push(`row ${job.row} seed ${job.seed}: ${formatSeconds((performance.now() - ts) / 1000)} (exit ${r.status})`);
    if (r.status === 130 || r.status === 143) {
      console.error(`\nsweep interrupted; run the same command to resume (finished rows are skipped).`);
      return r.status;
    }
    if (r.status !== 0) failed.push({ job, code: r.status });
  }
  console.log(`\n== Table 6 sweep: ${jobs.length - failed.length} of ${jobs.length} row-runs finished in ${formatSeconds((performance.now() - t0) / 1000)}`);
  for (const t of times) console.log(`  ${t}`);
  if (failed.length) {
    console.error(`\n${failed.length} failed; rerun each with:`);
    for (const f of failed) console.error(`  ${command(f.job.args)}    # exit ${f.code}`);
    return 1;
  }
  console.log(`build the table: npx nx run eval:table6 --scale=${scale}${flags.experiment ? ` --experiment=${flags.experiment}` : ''}`);
  return 0;
});
