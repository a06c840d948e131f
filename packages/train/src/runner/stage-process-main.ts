// A helper process of a row (stage-process.ts): plans the row as its process does, then runs the
// stages it is handed, one at a time, and reports each result. If the row's process goes away
// (killed), the helper finishes its step, checkpoints and exits, as on SIGTERM.
import path from 'node:path';
import { WordPieceTokenizer } from '@pixel-bert/data';
import { initBackend } from '@pixel-bert/model';
import { openTracker, type Tracker } from '@pixel-bert/tracking';
import { planRow } from '../row';
import { RunCache } from './cache';
import { trackingDir } from './paths';
import { runStage, type PlannedStage } from './runner';
import { installStopHandlers, stopState, type StopSignal } from './signals';
import type { FromHelper, StageProcessInit, ToHelper } from './stage-process';
import type { StageContext } from './types';

const send = (m: FromHelper) => {
  if (process.connected) process.send!(m);
};
const report = (hash: string | null, e: unknown) => {
  const err = e as Error & { signal?: StopSignal };
  send({ type: 'error', hash, name: err?.name ?? 'Error', message: String(err?.message ?? e), signal: err?.signal });
};

let setup: { init: StageProcessInit; ctx: StageContext; cache: RunCache; plan: Map<string, PlannedStage>; tracker: Tracker } | null = null;

async function start(init: StageProcessInit): Promise<void> {
  await initBackend({ prefer: init.spec.backend, quiet: true });
  const log = (line: string) => console.log(line);
  const tokenizer = WordPieceTokenizer.fromFile(path.join(init.root, 'vocab.txt'));
  const ctx: StageContext = { spec: init.spec, root: init.root, tokenizer, log };
  const cache = new RunCache();
  const plan = new Map(planRow(init.spec, ctx, cache).map((p) => [p.hash, p]));
  const tracker = await openTracker({ experiment: init.experiment, handleProcessEvents: false, runsDir: trackingDir() });
  setup = { init, ctx, cache, plan, tracker };
}

async function run(m: Extract<ToHelper, { type: 'run' }>): Promise<void> {
  const s = setup!;
  const p = s.plan.get(m.hash);
  if (!p) throw new Error(`${m.kind} (stage ${m.hash}) is not in this process's plan of the row: the code or the backend differ from the row's process`);
  const prepared = await p.def.prepare(s.ctx);
  const result = await runStage({
    planned: p,
    prepared,
    ctx: s.ctx,
    vocabSize: s.ctx.tokenizer.vocabSize,
    tracker: s.tracker,
    parentRun: { id: s.init.parentRunId },
    runName: `${s.init.parentRunName}/${p.def.kind}`,
    tags: s.init.tags,
    cache: s.cache,
    force: m.force,
    uploadWeights: s.init.uploadWeights,
    tty: false,
    write: (t) => process.stdout.write(t),
  });
  send({ type: 'result', hash: m.hash, result });
}

// The row's process passes SIGINT / SIGTERM on; a second exits at once.
installStopHandlers(() => {});
// Its output goes to the row's process: once that is gone, a log line must not crash the checkpoint.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
let busy = false;
/** Without the row's process: stop (a stage running finishes its step and checkpoints first). */
async function orphaned(): Promise<void> {
  await setup?.tracker.close();
  process.exit(143);
}
process.on('disconnect', () => {
  if (stopState.requested || !busy) void orphaned();
  stopState.requested = 'SIGTERM';
});

let chain = Promise.resolve();
process.on('message', (raw) => {
  const m = raw as ToHelper;
  chain = chain.then(async () => {
    if (m.type === 'init') {
      try {
        await start(m.init);
        send({ type: 'ready' });
      } catch (e) {
        report(null, e);
      }
    } else if (m.type === 'run') {
      busy = true;
      try {
        await run(m);
      } catch (e) {
        report(m.hash, e);
      }
      busy = false;
      if (!process.connected) await orphaned();
    } else {
      await setup?.tracker.close();
      process.exit(0);
    }
  });
});
