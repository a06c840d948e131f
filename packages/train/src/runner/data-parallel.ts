// Data parallelism inside one stage (`trainer.dataParallel`): the stage's process forks N − 1
// gradient workers (data-parallel-main.ts). Every optimiser step it sends them the weights, each
// process computes the gradients of its share of the batch's micro-batches (`optim.accumulation`),
// and the stage's process sums them in the micro-batches' order, clips and updates as it always
// does. The sum is the one `accumulate` forms in one process (the same additions in the same
// order), so the parameters are those of the same accumulation in one process, bit for bit; the
// batch-norm running statistics, which each process moves during its own forward passes, are
// combined afterwards and agree with one process's to float rounding. A worker keeps no state of
// its own between steps: it trains nothing, checkpoints nothing, and resuming is the stage's.
import * as tf from '@tensorflow/tfjs';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BN_MOMENTUM, isBuffer, type PixelBert } from '@pixel-bert/model';
import type { Spec } from '@pixel-bert/spec';
import { StageInputError } from '../stages/common';
import { countFromEnv } from './env';
import type { ImageStore } from './images';
import { accumulate } from './runner';
import type { StageDef, StepBatch } from './types';

/** What a worker needs to build the stage as the stage's process does. */
export interface GradWorkerInit {
  spec: Spec;
  root: string;
  /** The stage's hash in the row's plan (the worker plans the row and refuses another hash). */
  hash: string;
  index: number;
  count: number;
}

export type ToGradWorker =
  | { type: 'init'; init: GradWorkerInit }
  | { type: 'step'; epoch: number; step: number; globalStep: number; full: boolean; values: Float32Array }
  | { type: 'exit' };

export type FromGradWorker =
  | { type: 'ready' }
  | { type: 'grads'; loss: number; parts: Record<string, number>; microBatches: number; which: number[]; grads: Float32Array; buffers: Float32Array; ms: { assign: number; compute: number } }
  | { type: 'error'; message: string };

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data-parallel-main.ts');

/** `trainer.dataParallel`, or `PIXEL_BERT_DATA_PARALLEL` where set (train:table6 sets 1 beside other rows). */
export function dataParallelOf(spec: Spec, env: NodeJS.ProcessEnv = process.env): number {
  const { n, fromEnv } = countFromEnv(env, 'PIXEL_BERT_DATA_PARALLEL', spec.trainer.dataParallel, 'processes sharing each step of a stage');
  if (spec.optim.accumulation % n !== 0) {
    const from = fromEnv ?? `trainer.dataParallel ${n}`;
    throw new StageInputError(`${from} splits each batch's micro-batches over ${n} processes, but optim.accumulation is ${spec.optim.accumulation}: use a divisor of it, or set optim.accumulation to a multiple of ${n}`);
  }
  return n;
}

/** The variables a step's message carries: all of them once, then what training changes (trained ones and buffers). */
export function syncVariables(model: PixelBert, extra: Map<string, tf.Variable>, trained: readonly tf.Variable[]): { all: tf.Variable[]; changing: tf.Variable[]; buffers: tf.Variable[] } {
  const all = [...model.params.values(), ...extra.values()];
  for (const v of all) if (v.dtype !== 'float32') throw new Error(`data parallelism: variable ${v.name} is ${v.dtype}; only float32 variables are sent between processes`);
  const buffers = all.filter((v) => isBuffer(v));
  const inTrained = new Set(trained);
  return { all, changing: [...trained, ...buffers.filter((b) => !inTrained.has(b))], buffers };
}

/** The variables' values, concatenated in order. */
export function flatValues(vars: readonly tf.Variable[]): Float32Array {
  if (vars.length === 0) return new Float32Array(0);
  const t = tf.tidy(() => tf.concat(vars.map((v) => tf.reshape(v, [-1]))));
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}

/** Assigns `flatValues`' output back to the same variables. */
export function assignFlat(vars: readonly tf.Variable[], flat: Float32Array): void {
  const total = vars.reduce((n, v) => n + v.size, 0);
  if (flat.length !== total) throw new Error(`data parallelism: ${flat.length} values for ${vars.length} variables of ${total}`);
  if (vars.length === 0) return;
  tf.tidy(() => {
    const parts = tf.split(tf.tensor1d(flat), vars.map((v) => v.size));
    vars.forEach((v, i) => v.assign(tf.reshape(parts[i]!, v.shape)));
  });
}

/**
 * Batch-norm running statistics after every process's forward passes, as one process running the
 * micro-batches in order would have them: r = c·r_a + (r_b − c·r₀) with c = (1 − momentum)^k, k the
 * micro-batches of the later process (each forward pass moves r to (1 − momentum)·r + momentum·s).
 * A buffer the later process left as it was (frozen batch-norm) keeps the earlier value exactly.
 */
export function combineBuffers(buffers: readonly tf.Variable[], before: Float32Array, earlier: Float32Array, later: Float32Array, laterMicroBatches: number): Float32Array {
  const c = (1 - BN_MOMENTUM) ** laterMicroBatches;
  const out = Float32Array.from(earlier);
  let off = 0;
  for (const b of buffers) {
    const n = b.size;
    let moved = false;
    for (let i = off; i < off + n && !moved; i++) moved = later[i] !== before[i];
    if (moved) for (let i = off; i < off + n; i++) out[i] = c * earlier[i]! + (later[i]! - c * before[i]!);
    off += n;
  }
  return out;
}

/** The stage's side of its gradient workers. */
export class DataParallel {
  readonly #workers: GradWorker[];
  #sentFull = false;
  /** Milliseconds summed over steps, by phase (for the stage's closing log line). */
  readonly #ms = { send: 0, own: 0, wait: 0, combine: 0, workerAssign: 0, workerCompute: 0, steps: 0 };

  private constructor(workers: GradWorker[]) {
    this.#workers = workers;
  }

  /** Forks `count − 1` workers and waits until each has built the stage. */
  static async start(init: Omit<GradWorkerInit, 'index'>, logError: (line: string) => void): Promise<DataParallel> {
    const workers = Array.from({ length: init.count - 1 }, (_, i) => new GradWorker({ ...init, index: i + 1 }, logError));
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (e) {
      await Promise.all(workers.map((w) => w.close()));
      throw e;
    }
    return new DataParallel(workers);
  }

  get processes(): number {
    return this.#workers.length + 1;
  }

  /** One optimiser step's gradients, as `accumulate` gives them, computed by every process. */
  async accumulate(
    def: StageDef,
    cursor: { epoch: number; step: number },
    batch: StepBatch,
    accumulation: number,
    store: ImageStore,
    vars: { trained: tf.Variable[]; all: tf.Variable[]; changing: tf.Variable[]; buffers: tf.Variable[] },
    s: Parameters<typeof accumulate>[5],
  ): Promise<{ loss: number; parts: Record<string, number>; grads: Record<string, tf.Tensor> }> {
    const t0 = performance.now();
    const full = !this.#sentFull;
    const values = flatValues(full ? vars.all : vars.changing);
    this.#sentFull = true;
    const sends = this.#workers.map((w) => w.step({ type: 'step', epoch: cursor.epoch, step: cursor.step, globalStep: s.step, full, values }));
    const replies = sends.map((x) => x.reply);
    replies.forEach((r) => r.catch(() => {})); // awaited below, in order
    // A large message leaves only when the event loop runs, which this process's own (synchronous)
    // micro-batches would block: the workers would start when it is done. Wait until it is out.
    await Promise.all(sends.map((x) => x.sent));
    const before = vars.buffers.length ? flatValues(vars.buffers) : new Float32Array(0);
    const t1 = performance.now();
    const own = await accumulate(def, batch, accumulation, store, vars.trained, s, { index: 0, count: this.processes });
    const t2 = performance.now();
    const { grads, parts } = own;
    let loss = own.loss;
    let buffers: Float32Array | null = null;
    let waited = 0;
    try {
      for (const reply of replies) {
        const tw = performance.now();
        const r = await reply;
        waited += performance.now() - tw;
        this.#ms.workerAssign += r.ms.assign / this.#workers.length;
        this.#ms.workerCompute += r.ms.compute / this.#workers.length;
        if (r.microBatches === 0) continue;
        loss += r.loss;
        for (const [k, v] of Object.entries(r.parts)) parts[k] = (parts[k] ?? 0) + v;
        const targets = r.which.map((i) => {
          const v = vars.trained[i];
          if (!v) throw new Error(`data parallelism: a worker sent the gradient of trained variable ${i}; this stage trains ${vars.trained.length}`);
          return v;
        });
        const incoming = tf.tidy(() => tf.split(tf.tensor1d(r.grads), targets.map((v) => v.size)).map((p, i) => tf.reshape(p, targets[i]!.shape)));
        targets.forEach(({ name: n }, i) => {
          const prev = grads[n];
          grads[n] = prev ? tf.add(prev, incoming[i]!) : incoming[i]!;
          if (prev) {
            prev.dispose();
            incoming[i]!.dispose();
          }
        });
        if (vars.buffers.length) buffers = combineBuffers(vars.buffers, before, buffers ?? flatValues(vars.buffers), r.buffers, r.microBatches);
      }
    } catch (e) {
      for (const g of Object.values(grads)) g.dispose();
      throw e;
    }
    if (buffers) assignFlat(vars.buffers, buffers);
    const t3 = performance.now();
    Object.assign(this.#ms, { send: this.#ms.send + t1 - t0, own: this.#ms.own + t2 - t1, wait: this.#ms.wait + waited, combine: this.#ms.combine + t3 - t2 - waited, steps: this.#ms.steps + 1 });
    return { loss, parts, grads };
  }

  /** Where a step's time went, averaged over the steps so far: what to look at when sharing gains little. */
  summary(): string {
    const m = this.#ms;
    const per = (x: number) => (m.steps ? x / m.steps : 0).toFixed(1);
    return `per step (ms): values out ${per(m.send)}, own micro-batches ${per(m.own)}, waiting for workers ${per(m.wait)}, adding theirs ${per(m.combine)}; in a worker: taking the values ${per(m.workerAssign)}, its micro-batches ${per(m.workerCompute)} (${m.steps} steps)`;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.close()));
  }
}

class GradWorker {
  readonly #child: ChildProcess;
  readonly ready: Promise<void>;
  #waiting: { resolve: (m: Extract<FromGradWorker, { type: 'grads' }>) => void; reject: (e: Error) => void } | null = null;
  #exited: string | null = null;

  constructor(init: GradWorkerInit, logError: (line: string) => void) {
    // Its own process group: a Ctrl-C reaches only the stage's process, which checkpoints and closes it.
    this.#child = fork(MAIN, [], { execArgv: process.execArgv, detached: true, serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    // (TensorFlow's start-up notices, which the stage's process printed already, are left out)
    const notice = /^(WARNING: All log messages before absl::InitializeLog|I0000 .*\] oneDNN custom operations are on)/;
    createInterface({ input: this.#child.stderr! }).on('line', (l) => notice.test(l) || logError(`[data-parallel worker ${init.index}] ${l}`));
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => {});
    this.#child.on('message', (raw) => {
      const m = raw as FromGradWorker;
      if (m.type === 'ready') return readyResolve();
      const w = this.#waiting;
      this.#waiting = null;
      if (m.type === 'error') {
        const e = new Error(`data-parallel worker ${init.index}: ${m.message}`);
        readyReject(e);
        w?.reject(e);
      } else w?.resolve(m);
    });
    this.#child.on('exit', (code, signal) => {
      this.#exited = `data-parallel worker ${init.index} (pid ${this.#child.pid}) exited (${signal ?? `code ${code}`})`;
      readyReject(new Error(this.#exited));
      this.#waiting?.reject(new Error(this.#exited));
      this.#waiting = null;
    });
    this.#child.send({ type: 'init', init } satisfies ToGradWorker);
  }

  /** Sends a step; `sent` resolves once the message is written out, `reply` with the worker's gradients. */
  step(m: Extract<ToGradWorker, { type: 'step' }>): { sent: Promise<void>; reply: Promise<Extract<FromGradWorker, { type: 'grads' }>> } {
    if (this.#exited) return { sent: Promise.resolve(), reply: Promise.reject(new Error(this.#exited)) };
    if (this.#waiting) return { sent: Promise.resolve(), reply: Promise.reject(new Error('data parallelism: a worker computes one step at a time')) };
    let sent!: Promise<void>;
    const reply = new Promise<Extract<FromGradWorker, { type: 'grads' }>>((resolve, reject) => {
      this.#waiting = { resolve, reject };
      // (a failed write shows as the worker's exit, which rejects the reply)
      sent = new Promise((done) => this.#child.send(m, () => done()));
    });
    return { sent, reply };
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    const gone = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    if (this.#child.connected) this.#child.send({ type: 'exit' } satisfies ToGradWorker);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }
}
