// train:bench's worker: one process per (stage, backend), so each stage's peak RSS is its own. It
// builds the stage's step (bench-stages.ts), prints a JSON "ready" line, then answers one JSON
// line per command read from stdin (the orchestrator alternates it with the PyTorch peer):
//   {"cmd":"steps","n":N}           N timed steps → {"ms":[…],"cpuMs":[…]}
//   {"cmd":"peak"}                  matmul GFLOP/s on this backend → {"gflops":x}
//   {"cmd":"curve","n":N,"weights":file}  load weights (safetensors, ours), N steps, the loss before
//                                   each → {"losses":[…]}; dropout 0, all pixels (the peer does the same)
//   {"cmd":"save","file":f}         write the initial weights for the peer → {"saved":f}
//   {"cmd":"fast","set":{…}}        switch the model's fast paths (setFastPaths) → {"fast":{…}}
//   {"cmd":"exit"}                  → {"maxRssMB":x} and exit
import * as readline from 'node:readline';
import * as tf from '@tensorflow/tfjs';
import * as m from '@pixel-bert/model';
import { benchSpec, buildStage, countFlops, matmulPeak, type BenchOverrides, type BenchScale, type Stage } from './bench-stages';

export async function worker(stage: Stage, scale: BenchScale, backend: string, curve: boolean, sizes: BenchOverrides & { tokens?: number } = {}): Promise<void> {
  const info = await m.initBackend({ prefer: backend as m.BackendPreference, quiet: true });
  const spec = benchSpec(scale, sizes);
  // The loss-curve check runs without dropout and pixel sampling: both sides then compute the
  // same function of the same weights (their random draws are not shared).
  const tokens = sizes.tokens !== undefined ? { tokens: sizes.tokens } : {};
  const s = buildStage(stage, spec, curve ? { dropout: 0, sampling: false, ...tokens } : tokens);
  const flops = await countFlops(() => s.forward());
  const send = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
  send({ ready: true, backend: info.name, provider: info.provider, stage, examples: s.examples, pairs: s.pairs, images: s.images, params: s.params, shape: s.shape, flops, cnnTrained: s.cnnTrained, peer: s.peer });
  let step = 0;
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const c = JSON.parse(line) as { cmd: string; n?: number; file?: string; weights?: string; set?: Record<string, boolean> };
    if (c.cmd === 'steps') {
      const ms: number[] = [];
      const cpuMs: number[] = [];
      for (let i = 0; i < (c.n ?? 1); i++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        s.run(++step);
        ms.push(performance.now() - t0);
        const u = process.cpuUsage(c0);
        cpuMs.push((u.user + u.system) / 1000);
      }
      send({ ms, cpuMs });
    } else if (c.cmd === 'fast') {
      // the optimisers' fused update is the train package's; the rest are the model's fast paths
      const { fusedOptimizer, ...model } = c.set as Partial<m.FastPaths> & { fusedOptimizer?: boolean };
      if (fusedOptimizer !== undefined) {
        if (!s.setFusedOptimizer) throw new Error(`--ab=fusedOptimizer: the ${stage} stage updates no parameters`);
        s.setFusedOptimizer(fusedOptimizer);
      }
      m.setFastPaths(model);
      send({ fast: m.fastPaths() });
    } else if (c.cmd === 'peak') {
      send({ gflops: matmulPeak() });
    } else if (c.cmd === 'save') {
      m.saveCheckpoint(c.file!, s.model.params);
      send({ saved: c.file });
    } else if (c.cmd === 'curve') {
      if (c.weights) m.loadCheckpoint(c.weights, s.model.params);
      const losses: number[] = [];
      for (let i = 0; i < (c.n ?? 5); i++) {
        losses.push(s.loss!(i));
        s.run(i);
      }
      send({ losses });
    } else if (c.cmd === 'exit') {
      s.dispose();
      send({ maxRssMB: +(process.resourceUsage().maxRSS / 1024).toFixed(1), numTensors: tf.memory().numTensors });
      rl.close();
      return;
    }
  }
}
