// Benchmark of the tfjs backends on this machine (issue 4): a tiny Pixel-BERT-shaped training step
// and a 1024² matmul, each backend in its own child process (a process holds one tfjs engine;
// a native addon and wasm never share it). Prints samples/s and GFLOP/s and appends one JSON line
// per backend to benchmarks/backends.jsonl.
//
//   npx nx run model:bench-backends [--backends=tensorflow,wasm,wasm-stock,cpu] [--steps=10]
//   npx tsx tools/bench-backends.ts --backends=tensorflow,wasm
//
// Backends: tensorflow (native addon, tools/setup-tensorflow), wasm (with the kernels
// @pixel-bert/model registers: Conv2DBackpropFilter, UnsortedSegmentSum, its fast matmul),
// wasm-stock (the same but tfjs' own wasm matmul), cpu (tfjs' pure-JS backend; slow, so it runs
// fewer steps). Default: tensorflow,wasm,wasm-stock.
//
// The step is written with raw tfjs ops so that it measures the backends, not the model code:
//   image (32, 128, 128, 3) ─stem conv 3×3/2 (16 ch) + 3 stages conv 3×3/2 (32/64/128 ch), ReLU─►
//   (32, 8, 8, 128) ─2×2 max-pool (the paper's extra pool, §3.2)─► 4×4 = 16 feature pixels (all
//   kept, as in fine-tuning: pixel random sampling, §3.3, only thins out larger maps)
//   ─1×1 projection to d=128 + s_v
//   text: 16 token ids ─word + position embedding, LayerNorm─► (32, 16, 128)
//   joint (32, 32, 128) ─4 post-LN Transformer layers (4 heads, FFN 512)─► MLM logits for the 16
//   text positions (decoder tied to the word embedding) + ITM logit on position 0; Adam step on
//   all weights, CNN included (so conv weight gradients are part of every step).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, registerExtraKernels } from '@pixel-bert/model';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'benchmarks', 'backends.jsonl');
const KNOWN = ['tensorflow', 'wasm', 'wasm-stock', 'cpu'] as const;
type Bench = (typeof KNOWN)[number];

// Shapes of the step (see the header comment).
const B = 32;
const IMG = 128;
const D = 128;
const LAYERS = 4;
const HEADS = 4;
const FFN = 4 * D;
const TOKENS = 16;
const PIXELS = 16; // 128 / 16 (conv strides) / 2 (pool) = 4 → 4×4
const VOCAB = 1000;
const MATMUL_N = 1024;

interface ChildResult {
  backend: Bench;
  provider?: string;
  matmulGflops: number;
  matmulMs: number;
  stepMsMedian: number;
  stepMsAll: number[];
  /** Process CPU time (user+system, all threads) per timed step: less sensitive to a busy machine. */
  stepCpuMsMedian: number;
  samplesPerSec: number;
  finalLoss: number;
  params: number;
}

function parseArgs(argv: string[]): { backends: Bench[]; steps: number; child?: Bench } {
  let backends: Bench[] = ['tensorflow', 'wasm', 'wasm-stock'];
  let steps = 10;
  let child: Bench | undefined;
  for (const arg of argv) {
    const [key, value = ''] = arg.split('=', 2);
    if (key === '--backends') {
      const names = value.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = names.filter((n) => !(KNOWN as readonly string[]).includes(n));
      if (bad.length > 0 || names.length === 0) {
        throw new Error(`--backends=${value}: unknown backend(s) ${bad.join(', ') || '(none given)'}; expected a comma list of ${KNOWN.join(', ')}`);
      }
      backends = names as Bench[];
    } else if (key === '--steps') {
      steps = Number(value);
      if (!Number.isInteger(steps) || steps < 1 || steps > 1000) {
        throw new Error(`--steps=${value}: expected an integer from 1 to 1000`);
      }
    } else if (key === '--child') {
      if (!(KNOWN as readonly string[]).includes(value)) throw new Error(`--child=${value}: unknown backend`);
      child = value as Bench;
    } else {
      throw new Error(`unknown argument '${arg}'; expected --backends=a,b --steps=N`);
    }
  }
  return { backends, steps, ...(child ? { child } : {}) };
}

// ---------------------------------------------------------------- the model step (child side)

type V = tf.Variable;

function makeParams(): Record<string, V> {
  const p: Record<string, V> = {};
  const glorot = (shape: number[], fanIn: number, name: string) => {
    p[name] = tf.variable(tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', Object.keys(p).length + 1), true, name);
  };
  const zeros = (shape: number[], name: string) => (p[name] = tf.variable(tf.zeros(shape), true, name));
  const ones = (shape: number[], name: string) => (p[name] = tf.variable(tf.ones(shape), true, name));
  [[3, 16], [16, 32], [32, 64], [64, 128]].forEach(([cin = 0, cout = 0], i) => {
    glorot([3, 3, cin, cout], 9 * cin, `conv${i}.w`);
    zeros([cout], `conv${i}.b`);
  });
  glorot([128, D], 128, 'pixel.proj');
  zeros([D], 's_v');
  glorot([VOCAB, D], D, 'word');
  glorot([TOKENS, D], D, 'pos');
  ones([D], 'emb.ln.g');
  zeros([D], 'emb.ln.b');
  for (let l = 0; l < LAYERS; l++) {
    for (const m of ['q', 'k', 'v', 'o']) {
      glorot([D, D], D, `l${l}.${m}`);
      zeros([D], `l${l}.${m}.b`);
    }
    glorot([D, FFN], D, `l${l}.ff1`);
    zeros([FFN], `l${l}.ff1.b`);
    glorot([FFN, D], FFN, `l${l}.ff2`);
    zeros([D], `l${l}.ff2.b`);
    for (const n of ['ln1', 'ln2']) {
      ones([D], `l${l}.${n}.g`);
      zeros([D], `l${l}.${n}.b`);
    }
  }
  glorot([D, 1], D, 'itm.w');
  zeros([1], 'itm.b');
  return p;
}

function layerNorm(x: tf.Tensor, g: V, b: V): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).div(variance.add(1e-12).sqrt()).mul(g).add(b);
}

function dense(x: tf.Tensor, w: V, b: V): tf.Tensor {
  const [n = 0, t = 0, c = 0] = x.shape;
  return x.reshape([n * t, c]).matMul(w).add(b).reshape([n, t, w.shape[1] ?? 0]);
}

function encoderLayer(x: tf.Tensor, p: Record<string, V>, l: number): tf.Tensor {
  const w = (n: string): V => p[`l${l}.${n}`] as V;
  const T = x.shape[1] ?? 0;
  const heads = (t: tf.Tensor) => t.reshape([B, T, HEADS, D / HEADS]).transpose([0, 2, 1, 3]); // (B, h, T, d/h)
  const q = heads(dense(x, w('q'), w('q.b')));
  const k = heads(dense(x, w('k'), w('k.b')));
  const v = heads(dense(x, w('v'), w('v.b')));
  const att = tf.softmax(q.matMul(k, false, true).div(Math.sqrt(D / HEADS))); // (B, h, T, T)
  const ctx = att.matMul(v).transpose([0, 2, 1, 3]).reshape([B, T, D]);
  const h1 = layerNorm(x.add(dense(ctx, w('o'), w('o.b'))), w('ln1.g'), w('ln1.b'));
  const ff = dense(tf.relu(dense(h1, w('ff1'), w('ff1.b'))), w('ff2'), w('ff2.b')); // BERT uses GELU; ReLU keeps every backend's kernel set equal
  return layerNorm(h1.add(ff), w('ln2.g'), w('ln2.b'));
}

function lossFn(p: Record<string, V>, images: tf.Tensor4D, ids: tf.Tensor2D, itm: tf.Tensor2D) {
  return (): tf.Scalar => {
    const P = (n: string): V => p[n] as V;
    let f = images;
    for (let i = 0; i < 4; i++) f = tf.relu(tf.conv2d(f, P(`conv${i}.w`) as tf.Tensor4D, 2, 'same').add(P(`conv${i}.b`))) as tf.Tensor4D;
    f = tf.maxPool(f, 2, 2, 'valid'); // (B, 8, 8, 128) → (B, 4, 4, 128)
    const pixels = f.reshape([B, PIXELS, 128]); // (B, 16, 128)
    const v = dense(pixels, P('pixel.proj'), P('s_v'));
    const words = P('word').gather(ids.flatten()).reshape([B, TOKENS, D]).add(P('pos'));
    const w = layerNorm(words, P('emb.ln.g'), P('emb.ln.b'));
    let h = tf.concat([w, v], 1); // (B, 32, D)
    for (let l = 0; l < LAYERS; l++) h = encoderLayer(h, p, l);
    const text = h.slice([0, 0, 0], [B, TOKENS, D]).reshape([B * TOKENS, D]);
    const logits = text.matMul(P('word'), false, true); // tied decoder, (B·16, VOCAB)
    const mlm = tf.losses.softmaxCrossEntropy(tf.oneHot(ids.flatten(), VOCAB), logits);
    const cls = h.slice([0, 0, 0], [B, 1, D]).reshape([B, D]);
    const itmLoss = tf.losses.sigmoidCrossEntropy(itm, cls.matMul(P('itm.w')).add(P('itm.b')));
    return mlm.add(itmLoss) as tf.Scalar;
  };
}

async function timeMatmul(): Promise<{ gflops: number; ms: number }> {
  const a = tf.randomNormal([MATMUL_N, MATMUL_N], 0, 1, 'float32', 1);
  const b = tf.randomNormal([MATMUL_N, MATMUL_N], 0, 1, 'float32', 2);
  const once = async () => {
    const c = a.matMul(b);
    await c.data();
    c.dispose();
  };
  await once(); // warm-up: kernel set-up, first allocation
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 3 || (performance.now() - start < 2000 && times.length < 50)) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  const ms = median(times);
  return { gflops: (2 * MATMUL_N ** 3) / (ms / 1000) / 1e9, ms };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

async function child(backend: Bench, steps: number): Promise<ChildResult> {
  const info = await initBackend({ prefer: backend === 'wasm-stock' ? 'wasm' : backend, quiet: true });
  if (backend === 'wasm-stock') registerExtraKernels('wasm', { fastMatMul: false });
  const mm = await timeMatmul();

  const p = makeParams();
  const params = Object.values(p).reduce((n, v) => n + v.size, 0);
  const opt = tf.train.adam(1e-4);
  const vars = Object.values(p);
  const stepTimes: number[] = [];
  const cpuTimes: number[] = [];
  let finalLoss = NaN;
  const total = steps + 2; // two warm-up steps: graph/kernels set up, Adam slots allocated
  for (let s = 0; s < total; s++) {
    const batch = tf.tidy(() => ({
      images: tf.randomUniform([B, IMG, IMG, 3], 0, 1, 'float32', 100 + s) as tf.Tensor4D,
      ids: tf.randomUniform([B, TOKENS], 0, VOCAB, 'int32', 200 + s) as tf.Tensor2D,
      itm: tf.randomUniform([B, 1], 0, 2, 'int32', 300 + s).cast('float32') as tf.Tensor2D,
    }));
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const loss = opt.minimize(lossFn(p, batch.images, batch.ids, batch.itm), true, vars);
    finalLoss = (await loss!.data())[0] ?? NaN; // reading the loss waits for the step to finish
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    loss!.dispose();
    tf.dispose(batch);
    if (s >= 2) {
      stepTimes.push(ms);
      cpuTimes.push((cpu.user + cpu.system) / 1000);
    }
    process.stderr.write(`  ${backend}: step ${s + 1}/${total} ${ms.toFixed(0)} ms${s < 2 ? ' (warm-up)' : ''}\n`);
  }
  if (!Number.isFinite(finalLoss)) throw new Error(`${backend}: the loss is not finite (${finalLoss})`);
  const stepMsMedian = median(stepTimes);
  return {
    backend,
    ...(info.provider ? { provider: info.provider } : {}),
    matmulGflops: mm.gflops,
    matmulMs: mm.ms,
    stepMsMedian,
    stepMsAll: stepTimes.map((t) => Math.round(t)),
    stepCpuMsMedian: median(cpuTimes),
    samplesPerSec: B / (stepMsMedian / 1000),
    finalLoss,
    params,
  };
}

// ---------------------------------------------------------------- the parent side

function runChild(backend: Bench, steps: number): ChildResult | { backend: Bench; error: string } {
  const self = fileURLToPath(import.meta.url);
  // process.execArgv carries tsx's loader flags, so the child runs this same TypeScript file.
  const r = spawnSync(process.execPath, [...process.execArgv, self, `--child=${backend}`, `--steps=${steps}`], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env['TF_CPP_MIN_LOG_LEVEL'] ?? '2' },
    timeout: 30 * 60_000,
  });
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status === 0 && line.startsWith('{')) return JSON.parse(line) as ChildResult;
  const why = r.error?.message ?? (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`);
  return { backend, error: `${why}${line ? `: ${line}` : ''}` };
}

/** The code measured: HEAD plus whether packages/model (whose wasm kernels the step uses) had uncommitted edits. */
function gitState(): { gitHead?: string; modelUncommitted?: string[] } {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return {};
  const dirty = git('status', '--porcelain', '--', 'packages/model/src');
  const files = (dirty.stdout ?? '').split('\n').filter(Boolean).map((l) => l.slice(3));
  return { gitHead: head.stdout.trim(), modelUncommitted: files };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) {
    // The cpu backend takes seconds per step: a few steps tell its speed.
    const steps = args.child === 'cpu' ? Math.min(args.steps, 3) : args.steps;
    try {
      process.stdout.write(JSON.stringify(await child(args.child, steps)) + '\n');
    } catch (e) {
      process.stdout.write(`${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
      process.exitCode = 1;
    }
    return;
  }

  const cpus = os.cpus();
  const machine = {
    ...gitState(),
    host: os.hostname(),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    tfjs: tf.version.tfjs,
  };
  console.log(`benchmarking tfjs backends on ${machine.cpu} (${machine.cores} cores), ${args.steps} timed steps each`);
  const rows: string[] = [];
  let failed = 0;
  for (const backend of args.backends) {
    const load = os.loadavg()[0] ?? 0;
    console.log(`- ${backend} (load average ${load.toFixed(2)})…`);
    const res = runChild(backend, args.steps);
    const record = {
      bench: 'backends',
      time: new Date().toISOString(),
      ...machine,
      loadAvg1m: Number(load.toFixed(2)),
      step: { batch: B, image: IMG, cnn: 'stem+3 stages, 16/32/64/128 ch, stride 16, 2x2 pool', layers: LAYERS, hidden: D, tokens: TOKENS, pixels: PIXELS, convWeightGrads: true },
      ...res,
    };
    rows.push(JSON.stringify(record));
    if ('error' in res) {
      failed++;
      console.log(`  ${backend}: not measured — ${res.error}`);
    } else {
      console.log(
        `  ${backend}${res.provider ? ` (${res.provider})` : ''}: train step ${res.stepMsMedian.toFixed(0)} ms = ` +
          `${res.samplesPerSec.toFixed(1)} samples/s (CPU time ${res.stepCpuMsMedian.toFixed(0)} ms/step); matmul ${MATMUL_N}² ${res.matmulGflops.toFixed(1)} GFLOP/s`,
      );
    }
  }
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.appendFileSync(OUT, rows.map((r) => r + '\n').join(''));
  console.log(`appended ${rows.length} line(s) to ${path.relative(process.cwd(), OUT) || OUT}`);
  if (failed === args.backends.length) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(`bench-backends: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
