// Forward+backward time of one `small`-scale Pixel-BERT batch, per tfjs backend, using the real
// model code (packages/model/src/pixelbert.ts), not a stand-in:
//   the small scale as its spec builds it (experiments/base.yaml sized by scales/small.yaml, read
//   through pixelBertConfigFor): 128×128 images through resnet-small (8×8 = 64 feature pixels),
//   encoder 4 layers × 128 hidden × 4 heads (FFN 512), the spec's batch (32), 20 text tokens, the
//   generated world's vocabulary (1000), pre-training losses MLM (15 % of the text) + ITM, pixel
//   random sampling keeping 26 of 64 pixels (--sampling=0 keeps all).
// Each backend runs in its own child process (a process holds one tfjs engine). Per backend it
// prints and appends one JSON line to benchmarks/model.jsonl: median/min/max ms of
//   forward     (training-mode forward + losses, no gradients),
//   fwd+bwd     (tf.variableGrads over every trainable variable, CNN included),
// after one warm-up step, as wall time and as this process's CPU time.
//
//   npx tsx packages/model/scripts/bench-step.ts [--backends=wasm,cpu,tensorflow] [--steps=3] [--sampling=26] [--warmup=1]
// (the cpu backend is slow — minutes per step — so run it alone with e.g. --steps=1 --warmup=0)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const out = path.join(root, 'benchmarks', 'model.jsonl');

function flag(name: string, fallback: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}

async function child(backend: string, steps: number, sampling: number, warmup: number): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../src/backend/init');
  const info = await initBackend({ prefer: backend as 'wasm', quiet: true });
  const { smallPretrainProblem } = await import('./small-batch');
  const { vars, loss, shape } = smallPretrainProblem(sampling);
  // Wall time, and this process's CPU time (user+system): on a shared, loaded machine the CPU time
  // is the steadier figure (a multi-threaded backend uses more CPU than wall time).
  let lastCpu = 0;
  const time = (fn: () => void) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    const c = process.cpuUsage(c0);
    lastCpu = (c.user + c.system) / 1000;
    return performance.now() - t0;
  };
  const fwd: number[] = [];
  const fb: number[] = [];
  const fbCpu: number[] = [];
  for (let s = 1 - warmup; s <= steps; s++) {
    const f = time(() => tf.tidy(() => void loss(s).dataSync()));
    const g = time(() =>
      tf.tidy(() => {
        const r = tf.variableGrads(() => loss(s), vars);
        r.value.dataSync();
        for (const k of Object.keys(r.grads)) r.grads[k]!.dataSync(); // wait for every gradient
      }),
    );
    if (s > 0) {
      fwd.push(f);
      fb.push(g);
      fbCpu.push(lastCpu);
    }
    console.error(`[bench-step] ${info.name} step ${s}${s <= 0 ? ' (warm-up)' : ''}: forward ${f.toFixed(0)} ms, fwd+bwd ${g.toFixed(0)} ms (cpu ${lastCpu.toFixed(0)} ms)`);
  }
  const stats = (a: number[]) => {
    const s = [...a].sort((x, y) => x - y);
    return { median: +s[Math.floor(s.length / 2)]!.toFixed(1), min: +s[0]!.toFixed(1), max: +s[s.length - 1]!.toFixed(1) };
  };
  const line = {
    bench: 'model-small-step',
    date: new Date().toISOString(),
    backend: info.name,
    ...(info.provider ? { provider: info.provider } : {}),
    shape,
    steps,
    warmup,
    forward_ms: stats(fwd),
    forward_backward_ms: stats(fb),
    forward_backward_cpu_ms: stats(fbCpu),
    host: { cpus: os.cpus().length, loadavg1: +os.loadavg()[0]!.toFixed(2), node: process.version },
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function main(): Promise<void> {
  const steps = Number(flag('steps', '3'));
  const sampling = Number(flag('sampling', '26'));
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${flag('steps', '')}`);
  if (!Number.isInteger(sampling) || sampling < 0) throw new Error(`--sampling must be an integer ≥ 0, got ${flag('sampling', '')}`);
  const warmup = Number(flag('warmup', '1'));
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`--warmup must be an integer ≥ 0, got ${flag('warmup', '')}`);
  const childBackend = flag('child', '');
  if (childBackend) return child(childBackend, steps, sampling, warmup);

  const backends = flag('backends', 'wasm,cpu,tensorflow').split(',').filter(Boolean);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  let failed = 0;
  for (const b of backends) {
    console.error(`[bench-step] ${b}: running ${steps} step(s) after ${warmup} warm-up step(s) …`);
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), `--child=${b}`, `--steps=${steps}`, `--sampling=${sampling}`, `--warmup=${warmup}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TFJS_BACKEND: '' },
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) {
      console.error(`[bench-step] ${b}: failed (exit ${r.status}); nothing recorded`);
      failed++;
      continue;
    }
    fs.appendFileSync(out, `${line}\n`);
    const o = JSON.parse(line) as {
      forward_ms: { median: number };
      forward_backward_ms: { median: number; min: number; max: number };
      forward_backward_cpu_ms: { median: number };
      host: { loadavg1: number };
    };
    console.log(
      `${b}: forward ${o.forward_ms.median} ms, forward+backward ${o.forward_backward_ms.median} ms wall ` +
        `(min ${o.forward_backward_ms.min}, max ${o.forward_backward_ms.max}), ${o.forward_backward_cpu_ms.median} ms CPU; load average ${o.host.loadavg1}`,
    );
  }
  console.log(`appended to ${path.relative(process.cwd(), out) || out}`);
  if (failed > 0) process.exit(1);
}

main().catch((e: unknown) => {
  console.error(`bench-step: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
