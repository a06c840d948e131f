// A gradient worker of a stage (data-parallel.ts): plans the row as the stage's process does, builds
// the stage's model, data and images, then for every step it is sent takes the weights, computes the
// gradients of its share of the batch's micro-batches and sends them back with the batch-norm
// running statistics its forward passes moved. It exits when told, or when the stage's process is gone.
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { WordPieceTokenizer } from '@pixel-bert/data';
import { createPixelBert, initBackend } from '@pixel-bert/model';
import { planRow } from '../row';
import { RunCache } from './cache';
import { assignFlat, flatValues, syncVariables, type FromGradWorker, type GradWorkerInit, type ToGradWorker } from './data-parallel';
import type { ImageStore } from './images';
import { accumulate, openStageImages, stageModelConfig, trainedVariables } from './runner';
import type { PreparedStage, StageContext, StageDef } from './types';

const send = (m: FromGradWorker) => {
  if (process.connected) process.send!(m);
};

interface Built {
  init: GradWorkerInit;
  def: StageDef;
  prepared: PreparedStage;
  store: ImageStore;
  model: ReturnType<typeof createPixelBert>;
  extra: Map<string, tf.Variable>;
  trained: tf.Variable[];
  sync: ReturnType<typeof syncVariables>;
  seed: number;
}
let built: Built | null = null;

async function build(init: GradWorkerInit): Promise<Built> {
  await initBackend({ prefer: init.spec.backend, quiet: true });
  const tokenizer = WordPieceTokenizer.fromFile(path.join(init.root, 'vocab.txt'));
  const ctx: StageContext = { spec: init.spec, root: init.root, tokenizer, log: () => {} };
  const planned = planRow(init.spec, ctx, new RunCache()).find((p) => p.hash === init.hash);
  if (!planned) throw new Error(`stage ${init.hash} is not in this process's plan of the row: the code or the backend differ from the stage's process`);
  const def = planned.def;
  const prepared = await def.prepare(ctx);
  const seed = def.seed(init.spec);
  const model = createPixelBert(stageModelConfig(def, ctx, tokenizer.vocabSize), seed);
  const extra = def.extraParams?.(init.spec, model) ?? new Map<string, tf.Variable>();
  const { cnn, transformer } = trainedVariables(def, init.spec, model, extra);
  const trained = [...cnn, ...transformer];
  const store = await openStageImages(def, init.spec, prepared, model, () => {});
  return { init, def, prepared, store, model, extra, trained, sync: syncVariables(model, extra, trained), seed };
}

async function step(b: Built, m: Extract<ToGradWorker, { type: 'step' }>): Promise<void> {
  const t0 = performance.now();
  assignFlat(m.full ? b.sync.all : b.sync.changing, m.values);
  const t1 = performance.now();
  const spec = b.init.spec;
  const batch = b.prepared.batch({ seed: b.seed, epoch: m.epoch, step: m.step }, b.def.schedule(spec).batchSize);
  const r = await accumulate(b.def, batch, spec.optim.accumulation, b.store, b.trained, { model: b.model, extra: b.extra, seed: b.seed, step: m.globalStep, spec }, { index: b.init.index, count: b.init.count });
  // in the order of the trained variables (the stage's process splits the vector by their sizes)
  // (by position: engine names may carry a suffix in one process and not in the other)
  const which = b.trained.flatMap((v, i) => (r.grads[v.name] ? [i] : []));
  const flat = which.length ? tf.tidy(() => tf.concat(which.map((i) => tf.reshape(r.grads[b.trained[i]!.name]!, [-1])))) : null;
  const grads = flat ? (flat.dataSync() as Float32Array) : new Float32Array(0);
  flat?.dispose();
  for (const g of Object.values(r.grads)) g.dispose();
  const buffers = flatValues(b.sync.buffers);
  send({ type: 'grads', loss: r.loss, parts: r.parts, microBatches: r.microBatches, which, grads, buffers, ms: { assign: t1 - t0, compute: performance.now() - t1 } });
}

// Its stdout is not read; errors go back as messages, anything else on stderr to the stage's log.
process.on('disconnect', () => process.exit(0));
let chain = Promise.resolve();
process.on('message', (raw) => {
  const m = raw as ToGradWorker;
  chain = chain.then(async () => {
    try {
      if (m.type === 'init') {
        built = await build(m.init);
        send({ type: 'ready' });
      } else if (m.type === 'step') {
        if (!built) throw new Error('a step before the stage was built');
        await step(built, m);
      } else {
        process.exit(0);
      }
    } catch (e) {
      send({ type: 'error', message: String((e as Error)?.stack ?? e) });
    }
  });
});
