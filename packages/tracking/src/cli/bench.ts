// npx nx run tracking:bench [--to=URI] [--runs-dir=DIR] [--steps=500] [--metrics=20] [--no-record]
// Logs one run of steps × metrics points (default 20 × 500 = 10,000) plus params and a 1 MiB
// artifact, to the server at --to or, without it, to the local store; reports throughput and the
// time each training step spends in the logging calls. Appends a JSON line to benchmarks/tracking.jsonl.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { defaultRunsDir, workspaceRoot } from '../paths';
import { openTracker } from '../tracker';
import { parseArgs } from './args';

const USAGE = 'npx nx run tracking:bench [--to=URI] [--runs-dir=DIR] [--steps=500] [--metrics=20] [--no-record]';
const args = parseArgs(process.argv.slice(2), ['to', 'runs-dir', 'steps', 'metrics', 'no-record'], USAGE);
const int = (name: string, dflt: number) => {
  const v = args[name] === undefined ? dflt : Number(args[name]);
  if (!Number.isSafeInteger(v) || v <= 0) {
    process.stderr.write(`--${name} must be a positive integer, got '${args[name]}'\nusage: ${USAGE}\n`);
    process.exit(2);
  }
  return v;
};
const steps = int('steps', 500);
const nMetrics = int('metrics', 20);
const to = args.to ?? null;
const runsDir = args['runs-dir'] ?? defaultRunsDir();

const tracker = await openTracker({ experiment: 'tracking-bench', uri: to, runsDir });
console.log(`tracking bench: ${nMetrics} metrics × ${steps} steps → ${tracker.describe()}`);
const params: Record<string, string | number> = {};
for (let i = 0; i < 30; i++) params[`param.${i}`] = i % 2 ? `value-${i}` : i * 0.5;
const t0 = performance.now();
const run = tracker.startRun({ runName: `bench-${new Date().toISOString()}`, params, tags: { 'pixelbert.bench': 'tracking' } });
const keys = Array.from({ length: nMetrics }, (_, k) => `bench/m${String(k).padStart(2, '0')}`);
const perStep: number[] = [];
for (let step = 0; step < steps; step++) {
  const s0 = performance.now();
  for (let k = 0; k < nMetrics; k++) run.logMetric(keys[k]!, Math.sin(step / 50 + k) + k, step);
  perStep.push(performance.now() - s0);
  // A training step yields to the event loop (tfjs ops are async); so does this loop.
  await new Promise((r) => setImmediate(r));
  if ((step + 1) % 100 === 0) process.stdout.write(`  step ${step + 1}/${steps}\n`);
}
run.logArtifact('bench/blob.bin', randomBytes(1 << 20));
const tLogged = performance.now();
await run.end();
const tDone = performance.now();

const points = steps * nMetrics;
const sorted = [...perStep].sort((a, b) => a - b);
const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const mean = perStep.reduce((a, b) => a + b, 0) / perStep.length;
const elapsedS = (tDone - t0) / 1000;
const result = {
  date: new Date().toISOString(),
  commit: (() => {
    try {
      return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: workspaceRoot(), encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  })(),
  target: to ? 'server' : 'local',
  points,
  steps,
  metricsPerStep: nMetrics,
  elapsedS: +elapsedS.toFixed(3),
  loggingS: +((tLogged - t0) / 1000).toFixed(3),
  metricsPerS: Math.round(points / elapsedS),
  stepOverheadMs: { mean: +mean.toFixed(4), p50: +q(0.5).toFixed(4), p99: +q(0.99).toFixed(4), max: +sorted.at(-1)!.toFixed(4) },
  journalBytes: statSync(run.journalFile).size,
  pendingAfterEnd: tracker.pending(),
  node: process.version,
  cpus: cpus().length,
  load1: +loadavg()[0]!.toFixed(2),
};
console.log(`local run id: ${run.id}${run.remoteRunId ? `  server run id: ${run.remoteRunId}` : ''}`);
console.log(`points: ${points} in ${result.elapsedS} s (until ${to ? 'delivered to the server' : 'journaled'}) → ${result.metricsPerS} metrics/s`);
console.log(
  `caller overhead per step (${nMetrics} logMetric calls): mean ${result.stepOverheadMs.mean} ms, p50 ${result.stepOverheadMs.p50} ms, ` +
    `p99 ${result.stepOverheadMs.p99} ms, max ${result.stepOverheadMs.max} ms — target < 1 ms: ${mean < 1 ? 'met' : 'NOT met'}`,
);
console.log(`journal: ${run.journalFile} (${result.journalBytes} bytes)`);
if (args['no-record'] === undefined) {
  const out = join(workspaceRoot(), 'benchmarks', 'tracking.jsonl');
  mkdirSync(join(workspaceRoot(), 'benchmarks'), { recursive: true });
  appendFileSync(out, JSON.stringify(result) + '\n');
  console.log(`result appended to ${out}`);
}
