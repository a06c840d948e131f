// A/B timing of the model package's fast paths (src/fast) on one `small` pre-training step
// (batch 32, 128 px, resnet-small, 4×128 encoder, 20 tokens, 26 sampled pixels, MLM + ITM), in
// one process, the configurations alternating step by step so load hits every side alike.
//
//   npx tsx packages/model/scripts/ab-fast.ts [--configs=none,all] [--steps=5] [--backend=tensorflow]
//                                             [--onednn=0,1]
// --configs: comma-separated; each `none`, `all`, or switches joined by `+` on top of none
//   (e.g. `meanGrad+reluGrad`); `all-X` = all but switch X.
// --onednn=0,1: also alternate TF_ENABLE_ONEDNN_OPTS across child processes (it is read when
//   TensorFlow loads, so it cannot change inside one process): each child runs every config.
// Prints per config the median/min fwd+bwd wall ms and CPU ms, the largest gradient difference
// to the first config (relative to that gradient's largest entry, floored at 1e-3 of the model's
// largest), the load average before and after; appends one JSON line to benchmarks/fast-paths.jsonl.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const out = path.join(root, 'benchmarks', 'fast-paths.jsonl');

function flag(name: string, fallback: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}

const loadavg = () => +os.loadavg()[0]!.toFixed(2);

async function child(): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../src/backend/init');
  const { fastPaths, setFastPaths } = await import('../src/fast/fast-paths');
  const info = await initBackend({ prefer: flag('backend', 'tensorflow') as 'tensorflow', quiet: true });
  const steps = Number(flag('steps', '5'));
  const configs = flag('configs', 'none,all').split(',').filter(Boolean);
  type Switches = Parameters<typeof setFastPaths>[0];
  const all = setFastPaths('all');
  const names = Object.keys(all) as (keyof typeof all)[];
  const parse = (c: string): Switches => {
    if (c === 'none' || c === 'all') return c;
    if (c.startsWith('all-')) {
      const off = c.slice(4).split('+');
      return Object.fromEntries(names.map((n) => [n, !off.includes(n)]));
    }
    const on = c.split('+');
    for (const n of on) if (!(names as string[]).includes(n)) throw new Error(`unknown fast path ${n}; known: ${names.join(', ')}`);
    return Object.fromEntries(names.map((n) => [n, on.includes(n)]));
  };

  const { smallPretrainProblem } = await import('./small-batch');
  const { vars, loss, shape } = smallPretrainProblem(26);
  const gradsOf = (step: number): Map<string, Float32Array> =>
    tf.tidy(() => {
      const r = tf.variableGrads(() => loss(step), vars);
      return new Map(Object.entries(r.grads).map(([k, g]) => [k, g.dataSync() as Float32Array]));
    });

  // Gradient agreement: the same step (same dropout masks and pixel sample) under each config.
  const ref = (setFastPaths(parse(configs[0]!)), gradsOf(0));
  const gradDiff: Record<string, number> = {};
  const gradWorst: Record<string, string> = {};
  const refDropout = (setFastPaths(parse(configs[0]!)), fastPaths().deviceDropout);
  for (const c of configs) {
    // deviceDropout draws other masks: compared with the reference's dropout so only math differs.
    setFastPaths(parse(c));
    setFastPaths({ deviceDropout: refDropout });
    const g = gradsOf(0);
    let worst = 0;
    // A gradient that is zero in exact arithmetic (e.g. the attention key bias: softmax ignores a
    // per-row constant) is pure rounding noise; scale each difference by at least 1e-3 of the
    // largest gradient entry of the model so such noise does not read as a disagreement.
    let global = 0;
    for (const a of ref.values()) for (let i = 0; i < a.length; i++) global = Math.max(global, Math.abs(a[i]!));
    for (const [k, a] of ref) {
      const b = g.get(k)!;
      let scale = 0;
      let d = 0;
      for (let i = 0; i < a.length; i++) {
        scale = Math.max(scale, Math.abs(a[i]!));
        d = Math.max(d, Math.abs(a[i]! - b[i]!));
      }
      const rel = d / Math.max(scale, 1e-3 * global);
      if (rel > worst) {
        worst = rel;
        gradWorst[c] = k;
      }
    }
    gradDiff[c] = +worst.toExponential(2);
  }

  const wall: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c, []]));
  const load0 = loadavg();
  for (let s = 0; s <= steps; s++) {
    for (const c of s % 2 === 0 ? configs : [...configs].reverse()) {
      setFastPaths(parse(c));
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      tf.tidy(() => {
        const r = tf.variableGrads(() => loss(s + 1), vars);
        r.value.dataSync();
        for (const g of Object.values(r.grads)) g.dataSync();
      });
      const ms = performance.now() - t0;
      const u = process.cpuUsage(c0);
      if (s > 0) {
        wall[c]!.push(ms);
        cpu[c]!.push((u.user + u.system) / 1000);
      }
    }
  }
  const med = (a: number[]) => +[...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(1);
  const result = {
    bench: 'model-fast-paths',
    date: new Date().toISOString(),
    backend: info.name,
    onednn: process.env['TF_ENABLE_ONEDNN_OPTS'] ?? '',
    shape,
    steps,
    configs: Object.fromEntries(
      configs.map((c) => [c, { fwd_bwd_ms: med(wall[c]!), min_ms: +Math.min(...wall[c]!).toFixed(1), cpu_ms: med(cpu[c]!), grad_max_rel_diff: gradDiff[c], ...(gradWorst[c] ? { grad_worst: gradWorst[c] } : {}) }]),
    ),
    loadavg: { before: load0, after: loadavg() },
    cpus: os.cpus().length,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) return child();
  const onednn = flag('onednn', '');
  const runs = onednn === '' ? [undefined] : [...onednn.split(','), ...onednn.split(',').reverse()];
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--onednn='));
  for (const o of runs) {
    const env = { ...process.env };
    if (o !== undefined) env['TF_ENABLE_ONEDNN_OPTS'] = o;
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) throw new Error(`child failed (exit ${r.status})`);
    fs.appendFileSync(out, `${line}\n`);
    const res = JSON.parse(line) as { backend: string; onednn: string; configs: Record<string, { fwd_bwd_ms: number; min_ms: number; cpu_ms: number; grad_max_rel_diff: number; grad_worst?: string }>; loadavg: { before: number; after: number } };
    const head = `${res.backend}${res.onednn ? ` oneDNN=${res.onednn}` : ''} (load ${res.loadavg.before} → ${res.loadavg.after})`;
    console.log(head);
    for (const [c, v] of Object.entries(res.configs)) {
      console.log(`  ${c.padEnd(32)} fwd+bwd ${String(v.fwd_bwd_ms).padStart(7)} ms (min ${v.min_ms}), cpu ${v.cpu_ms} ms, grad rel diff ${v.grad_max_rel_diff}${v.grad_worst ? ` (${v.grad_worst})` : ''}`);
    }
  }
  console.log(`appended to ${path.relative(process.cwd(), out)}`);
}

main().catch((e: unknown) => {
  console.error(`ab-fast: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
