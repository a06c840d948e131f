// npx nx run train:bench [--scale=smoke|small|paper-lite] [--backend=B] [--stage=S[,S…]] [--json]
//                        [--steps=3] [--rounds=3] [--peer=pytorch|none] [--curve=5]
//
// Forward+backward+update throughput of each stage's real training step (bench-stages.ts) and the
// retrieval ranking's pairs/s, on one tfjs backend, each stage in its own worker process
// (bench-worker.ts), beside the same step in PyTorch (tools/peer-pytorch, installed into its own
// venv on first use; `small` and `smoke` only). The two alternate round by round in one run (ours, peer,
// peer, ours, …), so load from other jobs falls on both; only one computes at a time. Per stage:
// samples/s (and image-text pairs/s), forward FLOPs per sample counted from the kernels' shapes,
// achieved GFLOP/s (training ≈ 3× the forward FLOPs of what is trained, 1× of what is not) beside
// a 1024² matmul's GFLOP/s measured in the same worker, peak RSS; with the peer also the ratio of
// our samples/s to PyTorch's, both parameter counts and FLOP counts, and a loss curve from a shared
// initialisation (our initial weights written to a file and loaded by the peer; dropout off,
// all pixels). Appends one JSON line per stage to benchmarks/train.jsonl (machine, backend,
// commit, load average).
// --profile instead profiles each stage's step on the backend (bench-profile.ts: time per op type
// and phase, and per model part) and appends to benchmarks/profile.jsonl; no peer. --stock turns
// the model's fast paths off (with TF_ENABLE_ONEDNN_OPTS=0: the step before this work).
// --ab=NAME instead times each stage's step with the model's fast path NAME off and on (setFastPaths;
// NAME fusedOptimizer: the optimisers' update fused across parameters, packages/train/src/optim),
// alternating in the same worker, and appends to benchmarks/fast-paths.jsonl; no peer. --parallel=N
// runs N copies of each stage's step side by side against one alone (what train:table6 --jobs does
// with rows), appending `train-parallel` lines to benchmarks/train.jsonl; no peer.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { UsageError, intFlag, parseFlags, runCli } from '@pixel-bert/spec';
import { benchCommit, load1, machine } from './bench-meta';
import { SCALES, STAGES, type BenchScale, type Stage } from './bench-stages';

const USAGE =
  'train:bench [--scale=smoke|small|paper-lite] [--backend=tensorflow|wasm|cpu|auto] [--stage=pretrain,vqa,nlvr2,retrieval,retrieval-eval] [--json] [--steps=3] [--rounds=3] [--peer=pytorch|none] [--curve=5] [--profile [--top=15] [--stock]] [--image=PX] [--tokens=T] [--pixels=K] [--batch=B] [--ab=FASTPATH] [--parallel=N]';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const OUT = path.join(ROOT, 'benchmarks', 'train.jsonl');
const PROFILE_OUT = path.join(ROOT, 'benchmarks', 'profile.jsonl');
const AB_OUT = path.join(ROOT, 'benchmarks', 'fast-paths.jsonl');

/** A worker process speaking line-delimited JSON (ours or the peer). */
class Worker {
  private readonly lines: AsyncIterator<string>;
  constructor(
    readonly name: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    this.lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n')) if (l.trim() && !/oneDNN custom operations|absl::InitializeLog|cpu_feature_guard|rebuild TensorFlow/.test(l)) process.stderr.write(`[${name}] ${l}\n`);
    });
  }
  async next<T>(): Promise<T> {
    for (;;) {
      const r = await this.lines.next();
      if (r.done) throw new Error(`${this.name} worker ended unexpectedly (exit ${this.child.exitCode ?? 'running'})`);
      const l = r.value.trim();
      if (l.startsWith('{')) return JSON.parse(l) as T;
      if (l) process.stderr.write(`[${this.name}] ${l}\n`);
    }
  }
  async ask<T>(cmd: Record<string, unknown>): Promise<T> {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    return this.next<T>();
  }
}

interface Ready {
  backend?: string;
  provider?: string;
  examples: number;
  pairs: number;
  images: number;
  params: number;
  shape: Record<string, unknown>;
  flops: { conv: number; matmul: number };
  cnnTrained: boolean;
  peer?: Record<string, unknown>;
}

/** Size flags passed through to the workers (the cost sweep). */
const SIZE_FLAGS = ['image', 'tokens', 'pixels', 'batch'] as const;
type Sizes = Partial<Record<(typeof SIZE_FLAGS)[number], number>>;
const sizeArgs = (z: Sizes) => SIZE_FLAGS.flatMap((k) => (z[k] !== undefined ? [`--${k}=${z[k]}`] : []));

function startOurs(stage: Stage, scale: BenchScale, backend: string, sizes: Sizes, curve = false): Worker {
  const self = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, self, '--worker', `--stage=${stage}`, `--scale=${scale}`, `--backend=${backend}`, ...sizeArgs(sizes), ...(curve ? ['--curve-mode'] : [])];
  return new Worker('tfjs', spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TFJS_BACKEND: '' } }));
}

function peerPython(): string {
  const setup = path.join(ROOT, 'tools', 'peer-pytorch', 'setup');
  const out = execFileSync(setup, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop()!;
}

/** The peer builds the step our worker describes (its `peer` field): one source for the shapes. */
function startPeer(python: string, config: Record<string, unknown>): Worker {
  const script = path.join(ROOT, 'tools', 'peer-pytorch', 'peer.py');
  const file = path.join(os.tmpdir(), `pixel-bert-peer-${process.pid}-${String(config['stage'])}-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  const args = [script, `--config=${file}`];
  // PYTHONWARNINGS: torch warns that NumPy is absent (the peer does not use it).
  const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT, env: { ...process.env, PYTHONWARNINGS: 'ignore' } });
  child.once('exit', () => fs.rmSync(file, { force: true }));
  return new Worker('pytorch', child);
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const commit = () => benchCommit(ROOT, ['packages/model', 'packages/train/src/cli', 'tools/peer-pytorch']);

interface Side {
  ms: number[];
  cpuMs: number[];
}

/** Adds one `steps` answer of a worker to the timings of its side. */
const addSteps = (side: Side, res: Side) => {
  side.ms.push(...res.ms);
  side.cpuMs.push(...res.cpuMs);
};

async function benchStage(stage: Stage, o: { scale: BenchScale; backend: string; steps: number; rounds: number; python?: string; curve: number; sizes: Sizes }) {
  const ours = startOurs(stage, o.scale, o.backend, o.sizes);
  const r = await ours.next<Ready>();
  const peer = o.python ? startPeer(o.python, r.peer!) : undefined;
  const pr = await peer?.next<Ready>();
  const peakOurs = (await ours.ask<{ gflops: number }>({ cmd: 'peak' })).gflops;
  const peakPeer = peer ? (await peer.ask<{ gflops: number }>({ cmd: 'peak' })).gflops : undefined;
  await ours.ask({ cmd: 'steps', n: 1 }); // warm-up
  if (peer) await peer.ask({ cmd: 'steps', n: 1 });
  const a: Side = { ms: [], cpuMs: [] };
  const b: Side = { ms: [], cpuMs: [] };
  const loads: number[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const order: [Worker, Side][] = [[ours, a]];
    if (peer) order.push([peer, b]);
    if (round % 2 === 1) order.reverse();
    for (const [w, side] of order) {
      loads.push(load1());
      addSteps(side, await w.ask<Side>({ cmd: 'steps', n: o.steps }));
    }
  }
  const rssOurs = (await ours.ask<{ maxRssMB: number }>({ cmd: 'exit' })).maxRssMB;
  const rssPeer = peer ? (await peer.ask<{ maxRssMB: number }>({ cmd: 'exit' })).maxRssMB : undefined;

  let curve: { ours: number[]; peer: number[]; maxRelDiff: number } | undefined;
  if (peer && o.python && o.curve > 0 && stage !== 'retrieval-eval') {
    const file = path.join(os.tmpdir(), `pixel-bert-bench-${process.pid}-${stage}.safetensors`);
    const co = startOurs(stage, o.scale, o.backend, o.sizes, true);
    const cr = await co.next<Ready>();
    const cp = startPeer(o.python, cr.peer!);
    await cp.next();
    await co.ask({ cmd: 'save', file });
    const lp = (await cp.ask<{ losses: number[] }>({ cmd: 'curve', n: o.curve, weights: file })).losses;
    const lo = (await co.ask<{ losses: number[] }>({ cmd: 'curve', n: o.curve, weights: file })).losses;
    await Promise.all([co.ask({ cmd: 'exit' }), cp.ask({ cmd: 'exit' })]);
    fs.rmSync(file, { force: true });
    curve = { ours: lo, peer: lp, maxRelDiff: Math.max(...lo.map((l, i) => Math.abs(l - lp[i]!) / Math.max(Math.abs(lp[i]!), 1e-6))) };
  }

  // Training ≈ forward + 2× forward for the backward, for the part that is trained; ranking is forward only.
  const train = stage === 'retrieval-eval' ? r.flops.conv + r.flops.matmul : r.flops.conv * (r.cnnTrained ? 3 : 1) + r.flops.matmul * 3;
  const stepS = median(a.ms) / 1000;
  const side = (s: Side, rdy: Ready, peak: number | undefined, rss: number | undefined) => ({
    step_ms: +median(s.ms).toFixed(1),
    step_ms_min: +Math.min(...s.ms).toFixed(1),
    cpu_ms: +median(s.cpuMs).toFixed(1),
    samples_per_s: +(rdy.examples / (median(s.ms) / 1000)).toFixed(2),
    pairs_per_s: +(rdy.pairs / (median(s.ms) / 1000)).toFixed(1),
    gflops: +(train / (median(s.ms) / 1000) / 1e9).toFixed(2),
    matmul_peak_gflops: peak !== undefined ? +peak.toFixed(1) : undefined,
    params: rdy.params,
    fwd_flops_per_sample: Math.round((rdy.flops.conv + rdy.flops.matmul) / rdy.examples),
    peak_rss_mb: rss,
  });
  const oursSide = side(a, r, peakOurs, rssOurs);
  const peerSide = peer && pr ? side(b, pr, peakPeer, rssPeer) : undefined;
  void stepS;
  return {
    stage,
    examples: r.examples,
    pairs: r.pairs,
    images: r.images,
    shape: r.shape,
    ours: { backend: r.backend, provider: r.provider, ...oursSide, pct_of_peak: +((100 * oursSide.gflops) / peakOurs).toFixed(1) },
    ...(peerSide ? { pytorch: { backend: pr!.backend, ...peerSide }, ratio: +(oursSide.samples_per_s / peerSide.samples_per_s).toFixed(3) } : {}),
    ...(curve ? { loss_curve: curve } : {}),
    loadavg: { min: Math.min(...loads), max: Math.max(...loads) },
  };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--profile-worker')) {
    const f = parseFlags(argv, { 'profile-worker': { type: 'boolean' }, stage: { type: 'string' }, scale: { type: 'string' }, backend: { type: 'string' }, steps: { type: 'string' }, stock: { type: 'boolean' } }, USAGE);
    const { profileStage } = await import('./bench-profile');
    const p = await profileStage(f.stage as Stage, f.scale as BenchScale, f.backend!, Number(f.steps), f.stock ?? false);
    process.stdout.write(`${JSON.stringify(p)}\n`);
    return 0;
  }
  if (argv.includes('--worker')) {
    const f = parseFlags(argv, { worker: { type: 'boolean' }, stage: { type: 'string' }, scale: { type: 'string' }, backend: { type: 'string' }, 'curve-mode': { type: 'boolean' }, image: { type: 'string' }, tokens: { type: 'string' }, pixels: { type: 'string' }, batch: { type: 'string' } }, USAGE);
    const { worker } = await import('./bench-worker');
    const sizes = Object.fromEntries(SIZE_FLAGS.flatMap((k) => (f[k] !== undefined ? [[k, Number(f[k])]] : [])));
    await worker(f.stage as Stage, f.scale as BenchScale, f.backend!, f['curve-mode'] ?? false, sizes);
    return 0;
  }
  const f = parseFlags(
    argv,
    {
      scale: { type: 'string', default: 'small' },
      backend: { type: 'string', default: process.env['TFJS_BACKEND'] || 'auto' },
      stage: { type: 'string', default: STAGES.join(',') },
      json: { type: 'boolean', default: false },
      steps: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '3' },
      peer: { type: 'string' },
      curve: { type: 'string', default: '5' },
      profile: { type: 'boolean', default: false },
      top: { type: 'string', default: '15' },
      stock: { type: 'boolean', default: false },
      image: { type: 'string' },
      tokens: { type: 'string' },
      pixels: { type: 'string' },
      batch: { type: 'string' },
      ab: { type: 'string' },
      parallel: { type: 'string' },
    },
    USAGE,
  );
  const scale = f.scale as BenchScale;
  if (!(SCALES as readonly string[]).includes(scale)) throw new UsageError(`--scale=${f.scale}: expected one of ${SCALES.join(', ')}\nusage: ${USAGE}`);
  const stages = f.stage!.split(',').filter(Boolean) as Stage[];
  for (const s of stages) if (!(STAGES as readonly string[]).includes(s)) throw new UsageError(`--stage=${s}: expected one of ${STAGES.join(', ')}\nusage: ${USAGE}`);
  if (!['tensorflow', 'wasm', 'cpu', 'auto'].includes(f.backend!)) throw new UsageError(`--backend=${f.backend}: expected tensorflow, wasm, cpu or auto\nusage: ${USAGE}`);
  const peerName = f.peer ?? (scale === 'paper-lite' ? 'none' : 'pytorch');
  if (!['pytorch', 'none'].includes(peerName)) throw new UsageError(`--peer=${f.peer}: expected pytorch or none\nusage: ${USAGE}`);
  if (peerName === 'pytorch' && scale === 'paper-lite') throw new UsageError(`--peer=pytorch: the PyTorch peer exists for the smoke and small scales only\nusage: ${USAGE}`);
  const steps = intFlag('steps', f.steps, USAGE, { min: 1 })!;
  const rounds = intFlag('rounds', f.rounds, USAGE, { min: 1 })!;
  const curve = intFlag('curve', f.curve, USAGE, { min: 0 })!;
  if (f.profile) return profile(stages.filter((x) => x !== 'retrieval-eval'), scale, f.backend!, steps, intFlag('top', f.top, USAGE, { min: 1 })!, f.json!, f.stock!);
  const sizes: Sizes = {};
  for (const k of SIZE_FLAGS) {
    const v = intFlag(k, f[k], USAGE, { min: 1 });
    if (v !== undefined) sizes[k] = v;
  }
  const parallel = intFlag('parallel', f.parallel, USAGE, { min: 2 });
  if (parallel !== undefined) {
    for (const stage of stages.filter((x) => x !== 'retrieval-eval')) {
      const line = await parallelStage(stage, parallel, { scale, backend: f.backend!, steps, rounds, sizes });
      fs.appendFileSync(OUT, `${JSON.stringify(line)}\n`);
      console.log(f.json ? JSON.stringify(line) : `${stage} ${line.backend}: alone ${line.alone.samples_per_s} samples/s (${line.alone.step_ms} ms, cpu ${line.alone.cpu_ms}); ${parallel} side by side ${line.together.map((t) => t.samples_per_s).join(' + ')} = ${line.combined_samples_per_s} samples/s (${line.speedup}×); load ${line.loadavg.min}–${line.loadavg.max}`);
    }
    return 0;
  }
  if (f.ab) {
    for (const stage of stages) {
      const line = await abStage(stage, f.ab, { scale, backend: f.backend!, steps, rounds, sizes });
      fs.appendFileSync(AB_OUT, `${JSON.stringify(line)}\n`);
      console.log(f.json ? JSON.stringify(line) : `${stage} ${line.backend}, fast path ${f.ab}: off ${line.off.step_ms} ms (cpu ${line.off.cpu_ms}) → on ${line.on.step_ms} ms (cpu ${line.on.cpu_ms}); load ${line.loadavg.min}–${line.loadavg.max}`);
    }
    return 0;
  }
  const python = peerName === 'pytorch' ? peerPython() : undefined;
  const rev = commit();
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  const results = [];
  for (const stage of stages) {
    if (!f.json) console.error(`[train:bench] ${stage} (${scale}, ${f.backend}${python ? ', vs PyTorch' : ''}): ${rounds} round(s) × ${steps} step(s) …`);
    const res = await benchStage(stage, { scale, backend: f.backend!, steps, rounds, python, curve, sizes });
    const line = { bench: 'train-step', date: new Date().toISOString(), scale, ...(Object.keys(sizes).length ? { sizes } : {}), commit: rev, machine: machine(), steps, rounds, ...res };
    fs.appendFileSync(OUT, `${JSON.stringify(line)}\n`);
    results.push(line);
    if (f.json) console.log(JSON.stringify(line));
    else console.log(describe(line));
  }
  if (!f.json) console.log(`appended ${results.length} line(s) to ${path.relative(process.cwd(), OUT) || OUT}`);
  return 0;
}

/**
 * N copies of a stage's step side by side, each in its own worker process (what `train:table6
 * --jobs=N` does with rows), against one alone in the same run: alone, then all N at once, round by
 * round. Says whether a core is left idle by one process (the combined throughput over the lone one).
 */
async function parallelStage(stage: Stage, n: number, o: { scale: BenchScale; backend: string; steps: number; rounds: number; sizes: Sizes }) {
  const workers = Array.from({ length: n }, () => startOurs(stage, o.scale, o.backend, o.sizes));
  const ready = await Promise.all(workers.map((w) => w.next<Ready>()));
  await Promise.all(workers.map((w) => w.ask({ cmd: 'steps', n: 1 }))); // warm-up
  const alone: Side = { ms: [], cpuMs: [] };
  const together: Side[] = workers.map(() => ({ ms: [], cpuMs: [] }));
  const loads: number[] = [];
  for (let round = 0; round < o.rounds; round++) {
    loads.push(load1());
    addSteps(alone, await workers[0]!.ask<Side>({ cmd: 'steps', n: o.steps }));
    loads.push(load1());
    const all = await Promise.all(workers.map((w) => w.ask<Side>({ cmd: 'steps', n: o.steps })));
    all.forEach((x, i) => addSteps(together[i]!, x));
  }
  const rss = await Promise.all(workers.map((w) => w.ask<{ maxRssMB: number }>({ cmd: 'exit' })));
  const examples = ready[0]!.examples;
  const rate = (s: Side) => examples / (median(s.ms) / 1000);
  const stat = (s: Side) => ({ step_ms: +median(s.ms).toFixed(1), cpu_ms: +median(s.cpuMs).toFixed(1), samples_per_s: +rate(s).toFixed(2) });
  const combined = together.reduce((sum, s) => sum + rate(s), 0);
  return {
    bench: 'train-parallel',
    date: new Date().toISOString(),
    scale: o.scale,
    stage,
    processes: n,
    backend: ready[0]!.backend,
    commit: commit(),
    machine: machine(),
    steps: o.steps,
    rounds: o.rounds,
    alone: stat(alone),
    together: together.map(stat),
    combined_samples_per_s: +combined.toFixed(2),
    speedup: +(combined / rate(alone)).toFixed(3),
    peak_rss_mb: rss.map((r) => r.maxRssMB),
    loadavg: { min: Math.min(...loads), max: Math.max(...loads) },
  };
}

/** One stage's step with fast path `name` off and on, alternating in one worker (A, B, B, A, …). */
async function abStage(stage: Stage, name: string, o: { scale: BenchScale; backend: string; steps: number; rounds: number; sizes: Sizes }) {
  const w = startOurs(stage, o.scale, o.backend, o.sizes);
  const r = await w.next<Ready>();
  const sides: Record<'off' | 'on', Side> = { off: { ms: [], cpuMs: [] }, on: { ms: [], cpuMs: [] } };
  const loads: number[] = [];
  for (const v of [false, true]) {
    await w.ask({ cmd: 'fast', set: { [name]: v } });
    await w.ask({ cmd: 'steps', n: 1 }); // warm-up of each route
  }
  for (let round = 0; round < o.rounds; round++) {
    for (const k of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      await w.ask({ cmd: 'fast', set: { [name]: k === 'on' } });
      loads.push(load1());
      addSteps(sides[k], await w.ask<Side>({ cmd: 'steps', n: o.steps }));
    }
  }
  await w.ask({ cmd: 'exit' });
  const stat = (x: Side) => ({ step_ms: +median(x.ms).toFixed(1), step_ms_min: +Math.min(...x.ms).toFixed(1), cpu_ms: +median(x.cpuMs).toFixed(1) });
  return { bench: 'train-fast-path-ab', date: new Date().toISOString(), scale: o.scale, stage, fastPath: name, backend: r.backend, commit: commit(), steps: o.steps, rounds: o.rounds, off: stat(sides.off), on: stat(sides.on), loadavg: { min: Math.min(...loads), max: Math.max(...loads) } };
}

async function profile(stages: Stage[], scale: BenchScale, backend: string, steps: number, top: number, json: boolean, stock: boolean): Promise<number> {
  const { formatProfile } = await import('./bench-profile');
  fs.mkdirSync(path.dirname(PROFILE_OUT), { recursive: true });
  for (const stage of stages) {
    const self = fileURLToPath(import.meta.url);
    const child = spawn(process.execPath, [...process.execArgv, self, '--profile-worker', `--stage=${stage}`, `--scale=${scale}`, `--backend=${backend}`, `--steps=${steps}`, ...(stock ? ['--stock'] : [])], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TFJS_BACKEND: '' } });
    const p = await new Worker('profile', child).next<import('./bench-profile').Profile>();
    const line = { bench: 'train-profile', date: new Date().toISOString(), scale, commit: commit(), loadavg1: load1(), fastPaths: stock ? 'none' : 'all', onednn: process.env['TF_ENABLE_ONEDNN_OPTS'] ?? '1 (default)', ...p };
    fs.appendFileSync(PROFILE_OUT, `${JSON.stringify(line)}\n`);
    console.log(json ? JSON.stringify(line) : `${formatProfile(p, top)}\n  (load average ${line.loadavg1})`);
  }
  if (!json) console.log(`appended to ${path.relative(process.cwd(), PROFILE_OUT) || PROFILE_OUT}`);
  return 0;
}

function describe(l: Awaited<ReturnType<typeof benchStage>> & { scale: string }): string {
  const o = l.ours;
  const unit = l.stage === 'retrieval-eval' ? `${o.pairs_per_s} pairs/s` : `${o.samples_per_s} samples/s (${o.pairs_per_s} pairs/s)`;
  const lines = [
    `${l.stage.padEnd(15)} ${o.backend}: ${unit}, step ${o.step_ms} ms (cpu ${o.cpu_ms}), ${o.gflops} GFLOP/s = ${o.pct_of_peak} % of matmul peak ${o.matmul_peak_gflops}, ` +
      `${(o.fwd_flops_per_sample / 1e6).toFixed(1)} MFLOP/sample fwd, ${o.params} params, peak RSS ${o.peak_rss_mb} MB; load ${l.loadavg.min}–${l.loadavg.max}`,
  ];
  if ('pytorch' in l && l.pytorch) {
    const p = l.pytorch;
    const pu = l.stage === 'retrieval-eval' ? `${p.pairs_per_s} pairs/s` : `${p.samples_per_s} samples/s`;
    lines.push(
      `${''.padEnd(15)} pytorch: ${pu}, step ${p.step_ms} ms, ${p.gflops} GFLOP/s (matmul peak ${p.matmul_peak_gflops}), ${(p.fwd_flops_per_sample / 1e6).toFixed(1)} MFLOP/sample, ${p.params} params, peak RSS ${p.peak_rss_mb} MB` +
        ` → ours/PyTorch ${l.ratio}×`,
    );
  }
  if ('loss_curve' in l && l.loss_curve) {
    const c = l.loss_curve;
    lines.push(`${''.padEnd(15)} loss curve (shared init): ours ${c.ours.map((x) => x.toFixed(4)).join(' ')} | pytorch ${c.peer.map((x) => x.toFixed(4)).join(' ')} | max rel diff ${c.maxRelDiff.toExponential(1)}`);
  }
  return lines.join('\n');
}

void runCli(main);
