// train:bench --profile: where one stage's training step spends its time, on the tensorflow or the
// wasm backend, measured in one process:
//   per op type   every native TensorFlow op (tfjs-node's binding.executeOp, which every kernel and
//                 the model's fast paths go through) or every wasm kernel (the kernel registry,
//                 exclusive of the kernels it calls), summed over the timed steps, with the phase
//                 it ran in: forward, backward, optimiser, host reads;
//   per part      the same step cut into sub-steps timed alone, forward + backward each: CNN
//                 (backbone), text embedding, encoder (on the joint sequence), heads + loss, and the
//                 optimisers' update; "rest" is the whole step minus these (pixel embedding and
//                 sampling, gathers, tape bookkeeping, garbage collection).
// What is not a kernel (JavaScript between kernels: tape, array fills, GC) shows as the step's
// wall time minus the summed op time.
import * as tf from '@tensorflow/tfjs';
import * as m from '@pixel-bert/model';
import { createOptimizers, learningRates } from '../optim/index';
import { BENCH_TEXT_LENGTH, benchSpec, buildStage, type BenchScale, type Phase, type Stage } from './bench-stages';

interface OpStat {
  ms: number;
  calls: number;
  byPhase: Record<Phase, number>;
}

export interface Profile {
  backend: string;
  stage: Stage;
  steps: number;
  stepMs: number;
  opMs: number;
  ops: { name: string; ms: number; calls: number; forward: number; backward: number; optimizer: number; other: number }[];
  parts: { part: string; ms: number }[];
}

let phase: Phase = 'other';
const stats = new Map<string, OpStat>();
let recording = false;

function record(name: string, ms: number): void {
  if (!recording) return;
  let s = stats.get(name);
  if (!s) stats.set(name, (s = { ms: 0, calls: 0, byPhase: { forward: 0, backward: 0, optimizer: 0, other: 0 } }));
  s.ms += ms;
  s.calls++;
  s.byPhase[phase] += ms;
}

/** Times every native op (tensorflow) or every kernel, exclusive of nested kernels (wasm, cpu). */
function instrument(backend: string): void {
  if (backend === 'tensorflow') {
    // The addon's binding object is read-only: the backend gets a copy of it whose executeOp is timed.
    const be = tf.backend() as unknown as { binding: Record<string, unknown> };
    const binding = be.binding;
    const exec = (binding['executeOp'] as (...a: unknown[]) => unknown).bind(binding);
    const timed = (...a: unknown[]) => {
      const t0 = performance.now();
      try {
        return exec(...a);
      } finally {
        record(String(a[0]), performance.now() - t0);
      }
    };
    const copy: Record<string, unknown> = {};
    for (let o: object | null = binding; o && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
      for (const k of Object.getOwnPropertyNames(o)) {
        if (k in copy) continue;
        const v = (binding as Record<string, unknown>)[k];
        copy[k] = typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(binding) : v;
      }
    }
    copy['executeOp'] = timed;
    be.binding = copy;
    return;
  }
  const stack: number[] = []; // time spent in nested kernels, per open kernel
  for (const k of tf.getKernelsForBackend(backend)) {
    const fn = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        stack.push(0);
        const t0 = performance.now();
        try {
          return fn(args);
        } finally {
          const total = performance.now() - t0;
          const nested = stack.pop()!;
          if (stack.length) stack[stack.length - 1]! += total;
          record(k.kernelName, total - nested);
        }
      },
    });
  }
}

/** Wall ms of `fn` (median of `n` runs after one warm-up). */
function timeIt(fn: () => void, n: number): number {
  fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[Math.floor(n / 2)]!;
}

export async function profileStage(stage: Stage, scale: BenchScale, backend: string, steps: number, stock = false): Promise<Profile> {
  const info = await m.initBackend({ prefer: backend as m.BackendPreference, quiet: true });
  if (stock) m.setFastPaths('none'); // the "before" profile: every fast path of the model package off
  const spec = benchSpec(scale);
  const s = buildStage(stage, spec, { onPhase: (p) => (phase = p) });
  if (stage === 'retrieval-eval') throw new Error('--profile: profile a training stage (pretrain, vqa, nlvr2, retrieval)');
  const model = s.model;

  // ── per part: sub-steps timed alone ──
  const S = spec.model.run.image.shortEdge;
  const T = BENCH_TEXT_LENGTH;
  const images = tf.randomNormal([s.images, S, S, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const ids = tf.tensor2d(Int32Array.from({ length: s.pairs * T }, (_, i) => 5 + (i % 50)), [s.pairs, T], 'int32');
  const groups = m.parameterGroups(model);
  const cnnVars = groups.cnn;
  const textVars = [model.textEmbedding.word_embeddings, model.textEmbedding.position_embeddings, model.textEmbedding.token_type_embeddings, model.textEmbedding.LayerNorm.weight, model.textEmbedding.LayerNorm.bias] as tf.Variable[];
  const encVars = m.parameterGroups(model).transformer.filter((v) => v.name.startsWith('encoder.'));
  const pooledLen = (s.shape['pixelsKept'] as number | undefined) ?? 64;
  const L = T + pooledLen;
  const x = tf.randomNormal([s.pairs, L, spec.model.encoder.hidden], 0, 1, 'float32', 2) as tf.Tensor3D;
  const mask = tf.ones([s.pairs, L]) as tf.Tensor2D;
  const grad = (f: () => tf.Scalar, vars: tf.Variable[]) => () => tf.tidy(() => Object.values(tf.variableGrads(f, vars).grads).forEach((g) => g.dataSync()));
  const parts: { part: string; ms: number }[] = [];
  const n = Math.max(2, steps);
  if (s.cnnTrained) parts.push({ part: 'CNN (backbone) fwd+bwd', ms: timeIt(grad(() => tf.mean(model.backbone.forward(images, { training: true }).pooled) as tf.Scalar, cnnVars), n) });
  else parts.push({ part: 'CNN (backbone) forward, not trained', ms: timeIt(() => tf.tidy(() => void model.backbone.forward(images, { training: false }).pooled.dataSync()), n) });
  parts.push({ part: 'text embedding fwd+bwd', ms: timeIt(grad(() => tf.mean(m.textEmbeddingForward(model.textEmbedding, ids, m.forwardContext(true, spec.model.encoder.dropout, 0, 1))) as tf.Scalar, textVars), n) });
  parts.push({ part: 'encoder fwd+bwd', ms: timeIt(grad(() => tf.mean(m.encoderForward(model.encoder, x, mask, m.forwardContext(true, spec.model.encoder.dropout, 0, 1)).hidden) as tf.Scalar, encVars), n) });
  const opt = createOptimizers(spec.optim, { cnn: s.cnnTrained ? groups.cnn : [], transformer: groups.transformer });
  const lr = learningRates(spec.optim, [], 0);
  const fakeGrads = (vars: tf.Variable[]) => Object.fromEntries(vars.map((v) => [v.name, tf.zerosLike(v)]));
  const gc = fakeGrads(s.cnnTrained ? groups.cnn : []);
  const gt = fakeGrads(groups.transformer);
  parts.push({ part: 'optimisers (SGD + AdamW update)', ms: timeIt(() => { opt.cnn.step(gc, 0 * lr.cnn); opt.transformer.step(gt, 0 * lr.transformer); }, n) });
  tf.dispose([images, ids, x, mask, ...Object.values(gc), ...Object.values(gt)]);
  opt.cnn.dispose();
  opt.transformer.dispose();

  // ── per op type over the real step ──
  instrument(info.name);
  s.run(0); // warm-up, not recorded
  const wall: number[] = [];
  let opTotal = 0;
  recording = true;
  for (let i = 1; i <= steps; i++) {
    const before = [...stats.values()].reduce((a, b) => a + b.ms, 0);
    const t0 = performance.now();
    s.run(i);
    wall.push(performance.now() - t0);
    opTotal += [...stats.values()].reduce((a, b) => a + b.ms, 0) - before;
    phase = 'other';
  }
  recording = false;
  const stepMs = wall.sort((a, b) => a - b)[Math.floor(wall.length / 2)]!;
  parts.push({ part: 'whole step (median)', ms: stepMs });
  const ops = [...stats.entries()]
    .map(([name, v]) => ({ name, ms: +(v.ms / steps).toFixed(2), calls: Math.round(v.calls / steps), forward: +(v.byPhase.forward / steps).toFixed(2), backward: +(v.byPhase.backward / steps).toFixed(2), optimizer: +(v.byPhase.optimizer / steps).toFixed(2), other: +(v.byPhase.other / steps).toFixed(2) }))
    .sort((a, b) => b.ms - a.ms);
  return { backend: info.name, stage, steps, stepMs: +stepMs.toFixed(1), opMs: +(opTotal / steps).toFixed(1), ops, parts: parts.map((p) => ({ ...p, ms: +p.ms.toFixed(1) })) };
}

export function formatProfile(p: Profile, top = 15): string {
  const out = [`profile of one ${p.stage} step on ${p.backend} (${p.steps} steps): ${p.stepMs} ms wall, ${p.opMs} ms in ops, ${(p.stepMs - p.opMs).toFixed(1)} ms outside ops (JavaScript, tape, GC)`];
  out.push('  op type                          ms/step  calls   fwd     bwd     optim   other');
  for (const o of p.ops.slice(0, top)) {
    out.push(`  ${o.name.padEnd(30)} ${String(o.ms).padStart(8)} ${String(o.calls).padStart(6)} ${String(o.forward).padStart(7)} ${String(o.backward).padStart(7)} ${String(o.optimizer).padStart(7)} ${String(o.other).padStart(7)}`);
  }
  out.push('  part (timed alone)                         ms');
  for (const q of p.parts) out.push(`  ${q.part.padEnd(40)} ${String(q.ms).padStart(8)}`);
  return out.join('\n');
}
