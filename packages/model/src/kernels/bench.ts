/**
 * Measures what the kernels in this folder and the grouped-conv choice buy (not a test).
 *
 *   npx tsx packages/model/src/kernels/bench.ts [--backends=wasm,cpu,tensorflow] [--reps=3]
 *
 * Per backend (each in this process, one after the other):
 * - matmul: 512² products, plain / Aᵀ / Bᵀ / batched 8×256², wasm stock kernel vs ours;
 * - attention+FFN train step of the `small` encoder shape (batch 32, 104 tokens = 40 text + 64
 *   pixels, d 128, 4 heads, FFN 512, 4 layers; forward + backward), wasm stock matmul vs ours,
 *   interleaved runs to expose the run-to-run spread;
 * - grouped 3×3 conv forward + backward, split vs block-diagonal, at the resnext-small shape
 *   (4 groups) and at a ResNeXt-152 layer3 shape (32 groups, 512 ch, 14×14, batch 2);
 * - wasm only: resnet-small train step (batch 8) with the first conv-gradient kernels (dW per
 *   kernel tap, wasm's own dx loop) vs the current ones (one XNNPACK convolution each);
 * - backbone train step (forward + backward) of resnet-small / resnext-small, batch 32 at 128 px.
 * Prints a table and appends one JSON line per measurement to benchmarks/model-kernels.jsonl.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend/index';
import { createBackbone, setGroupedConvMode, type GroupedConvMode } from '../backbone/index';
import * as layers from '../backbone/layers';
import { ParamScope } from '../params';
import { registerExtraKernels, setBackpropFilterMethod } from './index';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const OUT = path.join(ROOT, 'benchmarks', 'model-kernels.jsonl');

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const backends = (args.get('backends') ?? 'wasm,cpu,tensorflow').split(',') as BackendName[];
const reps = Number(args.get('reps') ?? 3);

function timeMs(f: () => tf.Tensor | tf.Tensor[], n: number): number[] {
  tf.dispose(f()); // warm-up: kernel setup, XNNPACK operator creation
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = f();
    for (const t of Array.isArray(r) ? r : [r]) t.dataSync();
    out.push(performance.now() - t0);
    tf.dispose(r);
  }
  return out;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function record(backend: string, name: string, variant: string, ms: number[], extra: Record<string, unknown> = {}): void {
  const line = { time: new Date().toISOString(), host: os.hostname(), cpus: os.cpus().length, backend, bench: name, variant, msMedian: +median(ms).toFixed(2), msAll: ms.map((m) => +m.toFixed(1)), ...extra };
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.appendFileSync(OUT, JSON.stringify(line) + '\n');
  console.log(`${backend.padEnd(10)} ${name.padEnd(34)} ${variant.padEnd(14)} ${median(ms).toFixed(1).padStart(9)} ms  [${line.msAll.join(', ')}]`);
}

function encoderStep(vars: tf.Variable[], x: tf.Tensor3D): tf.Tensor[] {
  const [B, T, D] = x.shape;
  const H = 4;
  const dh = D / H;
  const f = () => {
    let h: tf.Tensor3D = x;
    for (let l = 0; l < 4; l++) {
      const [wq, wk, wv, wo, w1, w2] = vars.slice(l * 6, l * 6 + 6) as tf.Tensor2D[];
      const flat = h.reshape([B * T, D]);
      const heads = (w: tf.Tensor2D) => tf.matMul(flat, w).reshape([B, T, H, dh]).transpose([0, 2, 1, 3]);
      const q = heads(wq!), k = heads(wk!), v = heads(wv!);
      const att = tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(dh))); // (B, H, T, T)
      const ctx = tf.matMul(att, v).transpose([0, 2, 1, 3]).reshape([B * T, D]);
      const a = tf.add(flat, tf.matMul(ctx, wo!));
      const ff = tf.add(a, tf.matMul(tf.relu(tf.matMul(a, w1!)), w2!));
      h = ff.reshape([B, T, D]);
    }
    return tf.mean(tf.square(h)) as tf.Scalar;
  };
  const { value, grads } = tf.variableGrads(f, vars);
  return [value, ...Object.values(grads)];
}

/** One training step of a backbone alone: forward in training mode, gradients of all trainable weights. */
function backboneStep(bb: ReturnType<typeof createBackbone>, img: tf.Tensor): () => tf.Tensor[] {
  const tv = bb.variables().filter((v) => v.trainable);
  return () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(bb.forward(img, { training: true }).pooled)) as tf.Scalar, tv);
      return [value, ...Object.values(grads)];
    });
}

async function main(): Promise<void> {
  console.log(`appending to ${OUT}`);
  for (const name of backends) {
    try {
      await initBackend({ prefer: name, quiet: true, env: {} });
    } catch (e) {
      console.log(`${name}: not available (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    const variants: [string, boolean][] = name === 'wasm' ? [['stock', false], ['fast', true]] : [['builtin', true]];

    // 1. matmul shapes
    const a2 = tf.randomNormal([512, 512]);
    const a8 = tf.randomNormal([8, 256, 256]);
    for (const [variant, fast] of variants) {
      if (name === 'wasm') registerExtraKernels('wasm', { fastMatMul: fast });
      record(name, 'matmul 512² A·B', variant, timeMs(() => tf.matMul(a2, a2), reps));
      record(name, 'matmul 512² Aᵀ·B', variant, timeMs(() => tf.matMul(a2, a2, true, false), reps));
      record(name, 'matmul 512² A·Bᵀ', variant, timeMs(() => tf.matMul(a2, a2, false, true), reps));
      record(name, 'matmul 8×256² batched', variant, timeMs(() => tf.matMul(a8, a8), reps));
    }
    tf.dispose([a2, a8]);

    // 2. encoder-shaped train step; wasm variants interleaved so drift hits both alike
    const root = ParamScope.root(1);
    const vars: tf.Variable[] = [];
    for (let l = 0; l < 4; l++) {
      for (const [n, shape] of [['q', [128, 128]], ['k', [128, 128]], ['v', [128, 128]], ['o', [128, 128]], ['f1', [128, 512]], ['f2', [512, 128]]] as const) {
        vars.push(root.child(l).variable(n, [...shape], { kind: 'truncatedNormal', std: 0.02 }));
      }
    }
    const x = tf.randomNormal([32, 104, 128]) as tf.Tensor3D;
    const samples = new Map<string, number[]>(variants.map(([v]) => [v, []]));
    for (let r = 0; r < reps; r++) {
      for (const [variant, fast] of variants) {
        if (name === 'wasm') registerExtraKernels('wasm', { fastMatMul: fast });
        samples.get(variant)!.push(...timeMs(() => encoderStep(vars, x), 1));
      }
    }
    for (const [variant] of variants) record(name, 'encoder step small (B32 T104 d128 L4)', variant, samples.get(variant)!);
    if (name === 'wasm') registerExtraKernels('wasm', { fastMatMul: true });
    tf.dispose([x, ...vars]);

    // 3. grouped conv, forward + backward
    for (const [label, shape, groups] of [
      ['grouped conv 4g 64ch 32² B32', [32, 32, 32, 64], 4],
      ['grouped conv 32g 512ch 14² B2', [2, 14, 14, 512], 32],
    ] as const) {
      const xin = tf.randomNormal([...shape]) as tf.Tensor4D;
      const c = shape[3];
      const w = tf.variable(tf.randomNormal([3, 3, c / groups, c], 0, 0.05));
      for (const mode of ['split', 'blockDiagonal'] as GroupedConvMode[]) {
        const run = () =>
          tf.tidy(() => {
            const { conv2d } = layers;
            const conv = { weight: w, stride: 1, pad: 1, groups, inChannels: c, outChannels: c, kernel: 3 };
            const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(conv2d(xin, conv, mode))) as tf.Scalar, [w]);
            return [value, ...Object.values(grads)];
          });
        record(name, label, mode, timeMs(run, reps));
      }
      tf.dispose([xin, w]);
    }

    // 4. wasm conv gradients: before (taps + wasm's own dx loop) and after, resnet-small batch 8
    if (name === 'wasm') {
      const r3 = ParamScope.root(3);
      const bb = createBackbone(r3, 'resnet-small');
      const img = tf.randomNormal([8, 128, 128, 3]);
      const run = backboneStep(bb, img);
      for (const [variant, before] of [['before', true], ['after', false]] as const) {
        setBackpropFilterMethod(before ? 'taps' : 'auto');
        registerExtraKernels('wasm', { fastConvBackpropInput: !before });
        record(name, 'backbone resnet-small fwd+bwd B8 128px', variant, timeMs(run, reps));
      }
      setBackpropFilterMethod('auto');
      registerExtraKernels('wasm');
      tf.dispose([img, ...r3.registry.values()]);
    }

    // 5. backbone train step at the small scale
    for (const arch of ['resnet-small', 'resnext-small']) {
      const r2 = ParamScope.root(2);
      const bb = createBackbone(r2, arch);
      const img = tf.randomNormal([32, 128, 128, 3]);
      const run = backboneStep(bb, img);
      record(name, `backbone ${arch} fwd+bwd B32 128px`, 'auto', timeMs(run, reps));
      tf.dispose([img, ...r2.registry.values()]);
    }
    setGroupedConvMode(undefined);
  }
  console.log(`results appended to ${OUT}`);
}

await main();
