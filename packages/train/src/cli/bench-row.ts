// `npx nx run train:bench-row [--row=4] [--scale=small] [--parallel-stages=1,2] [--data-parallel=1,2] [--until=STAGE] [--set key=value …]`
// A whole row's wall time, the figure a researcher waits for: `train:ablation` from a fresh state
// folder (its init stages included; the generated world is reused), once per value of
// `trainer.parallelStages` and of `trainer.dataParallel` (each pair, one after another in the order
// given; without --data-parallel the spec's); --until stops the row after that stage. Prints the wall time and each
// stage's seconds and peak RSS (of the process that ran it), and appends a `train-row` line per run
// to benchmarks/train.jsonl (machine, commit, load average sampled every 5 s while it ran).
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UsageError, WORKSPACE_ROOT, intFlag, parseFlags, runCli } from '@pixel-bert/spec';
import { LocalStore } from '@pixel-bert/tracking';
import { benchCommit, load1, machine } from './bench-meta';

const USAGE = 'nx run train:bench-row [--row=4] [--scale=small] [--parallel-stages=1,2] [--data-parallel=1,2] [--until=STAGE] [--set key.path=value ...] [--keep]';
const OUT = path.join(WORKSPACE_ROOT, 'benchmarks', 'train.jsonl');
const STAGES = ['init-backbone', 'init-text', 'pretrain', 'vqa', 'nlvr2', 'retrieval'];

async function runRow(args: string[], parallelStages: number, dataParallel: number | null, state: string, logFile: string): Promise<{ code: number | null; seconds: number; loads: number[] }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PIXEL_BERT_STATE_DIR: state, PIXEL_BERT_PARALLEL_STAGES: String(parallelStages) };
  if (dataParallel === null) delete env.PIXEL_BERT_DATA_PARALLEL;
  else env.PIXEL_BERT_DATA_PARALLEL = String(dataParallel);
  delete env.PIXEL_BERT_RUNS_DIR;
  delete env.MLFLOW_TRACKING_URI;
  const t0 = performance.now();
  const loads = [load1()];
  const timer = setInterval(() => loads.push(load1()), 5000);
  const child = spawn(process.execPath, [...process.execArgv, path.join(WORKSPACE_ROOT, 'packages/train/src/cli/ablation.ts'), ...args], { cwd: WORKSPACE_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(timer);
  loads.push(load1());
  writeFileSync(logFile, log);
  return { code, seconds: (performance.now() - t0) / 1000, loads };
}

await runCli(async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    {
      row: { type: 'string', default: '4' },
      scale: { type: 'string', default: 'small' },
      'parallel-stages': { type: 'string', default: '1,2' },
      'data-parallel': { type: 'string' },
      until: { type: 'string' },
      set: { type: 'string', multiple: true },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (flags.help) {
    console.log(`usage: ${USAGE}`);
    return 0;
  }
  const row = intFlag('row', flags.row, USAGE, { min: 1 })!;
  const list = (flag: 'parallel-stages' | 'data-parallel', raw: string) =>
    raw.split(',').map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag}=${raw}: expected whole numbers ≥ 1, comma-separated\nusage: ${USAGE}`);
      return n;
    });
  const values = list('parallel-stages', flags['parallel-stages']!);
  const dataParallel: (number | null)[] = flags['data-parallel'] === undefined ? [null] : list('data-parallel', flags['data-parallel']);
  const args = [`--row=${row}`, `--scale=${flags.scale}`, ...(flags.until ? [`--until=${flags.until}`] : []), ...(flags.set ?? []).flatMap((s) => ['--set', s])];
  const rev = benchCommit(WORKSPACE_ROOT, ['packages', 'experiments']);
  let failed = 0;
  for (const [n, dp] of values.flatMap((n) => dataParallel.map((dp) => [n, dp] as const))) {
    const state = mkdtempSync(path.join(tmpdir(), `pixel-bert-bench-row-${n}-`));
    const logFile = `${state}.log`;
    console.log(`row ${row}${flags.until ? ` until ${flags.until}` : ''} at ${flags.scale}, parallelStages ${n}${dp === null ? '' : `, dataParallel ${dp}`}: running (state ${state}, output ${logFile}) …`);
    const r = await runRow(args, n, dp, state, logFile);
    if (r.code !== 0) {
      console.error(`  exit ${r.code}: see ${logFile}`);
      failed++;
      continue;
    }
    const parent = new LocalStore(path.join(state, 'tracking')).findRuns({}).find((x) => x.tags['pixelbert.kind'] === (flags.until ? 'row-part' : 'row') && x.status === 'FINISHED');
    if (!parent) throw new Error(`the row finished but left no finished row run in ${state}/tracking`);
    const stages = Object.fromEntries(
      STAGES.filter((k) => parent.metrics[`${k}.seconds`] !== undefined).map((k) => [k, { seconds: parent.metrics[`${k}.seconds`]!, peak_rss_mb: parent.metrics[`${k}.peak_rss_mb`]! }]),
    );
    const line = {
      bench: 'train-row',
      date: new Date().toISOString(),
      row,
      scale: flags.scale,
      set: flags.set ?? [],
      parallelStages: n,
      ...(dp === null ? {} : { dataParallel: dp }),
      ...(flags.until ? { until: flags.until } : {}),
      commit: rev,
      machine: machine(),
      wall_s: +r.seconds.toFixed(1),
      stages,
      peak_rss_mb: Math.max(...Object.values(stages).map((s) => s.peak_rss_mb)),
      loadavg: { min: Math.min(...r.loads), max: Math.max(...r.loads) },
      metrics: Object.fromEntries(Object.entries(parent.metrics).filter(([k]) => /\.test\.(score|accuracy|tr_r1|ir_r1)$/.test(k))),
    };
    appendFileSync(OUT, `${JSON.stringify(line)}\n`);
    const m = Math.floor(r.seconds / 60);
    console.log(`  ${m} min ${(r.seconds - 60 * m).toFixed(0)} s; load ${line.loadavg.min}–${line.loadavg.max}; peak RSS ${line.peak_rss_mb} MB (per process)`);
    console.log(`  ${Object.entries(stages).map(([k, s]) => `${k} ${s.seconds} s (${s.peak_rss_mb} MB)`).join(', ')}`);
    console.log(`  ${Object.entries(line.metrics).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    if (!flags.keep) rmSync(state, { recursive: true, force: true });
  }
  console.log(`appended to ${path.relative(WORKSPACE_ROOT, OUT)}`);
  return failed ? 1 : 0;
});
