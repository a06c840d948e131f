// Independent stages of a row at once (`trainer.parallelStages`): a row's process forks helper
// processes (stage-process-main.ts), tells each the spec and where the row's runs are, then hands
// out one stage at a time; each helper plans the row itself (the same stage hashes, or it refuses),
// runs the stage with the same runner and answers with its result or its error. One process per
// stage because TensorFlow runs one thread per process here (docs/backends.md): a stage's numbers
// are those it gets in the row's own process, bit for bit (row.e2e.test.ts).
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Spec } from '@pixel-bert/spec';
import { StageInputError } from '../stages/common';
import type { PlannedStage, StageResult } from './runner';
import { Interrupted, StageFailed, type StopSignal } from './signals';

/** What a helper needs to run a row's stages as the row's process would. */
export interface StageProcessInit {
  spec: Spec;
  /** The row's data root (already prepared and checked by the row's process). */
  root: string;
  experiment: string;
  parentRunId: string;
  parentRunName: string;
  tags: Record<string, string>;
  uploadWeights: boolean;
}

export type ToHelper = { type: 'init'; init: StageProcessInit } | { type: 'run'; hash: string; kind: string; force: boolean } | { type: 'exit' };

export type FromHelper =
  | { type: 'ready' }
  | { type: 'result'; hash: string; result: StageResult }
  | { type: 'error'; hash: string | null; name: string; message: string; signal?: StopSignal | undefined };

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'stage-process-main.ts');

/** An error a helper reported, as the class the row's CLI turns into an exit code. */
export function errorFrom(m: { name: string; message: string; signal?: StopSignal | undefined }): Error {
  if (m.name === 'Interrupted') return new Interrupted(m.signal ?? 'SIGTERM');
  if (m.name === 'StageFailed') return new StageFailed(m.message);
  if (m.name === 'StageInputError') return new StageInputError(m.message);
  return new Error(m.message);
}

/** The row's side of one helper process. */
export class StageProcess {
  readonly #child: ChildProcess;
  readonly #ready: Promise<void>;
  #waiting: { resolve: (r: StageResult) => void; reject: (e: Error) => void } | null = null;
  #exited: string | null = null;

  constructor(init: StageProcessInit, log: (line: string) => void, logError: (line: string) => void) {
    // Its own process group: a Ctrl-C at the terminal reaches the row's process, which passes it on
    // once (two would make the helper stop at once, without a checkpoint).
    this.#child = fork(MAIN, [], { execArgv: process.execArgv, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    createInterface({ input: this.#child.stdout! }).on('line', log);
    createInterface({ input: this.#child.stderr! }).on('line', logError);
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.#ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.#ready.catch(() => {}); // a failed start is reported by run()
    this.#child.on('message', (raw) => {
      const m = raw as FromHelper;
      if (m.type === 'ready') readyResolve();
      else if (m.type === 'error' && m.hash === null) readyReject(errorFrom(m));
      else {
        const w = this.#waiting;
        this.#waiting = null;
        if (!w) return;
        if (m.type === 'result') w.resolve(m.result);
        else w.reject(errorFrom(m));
      }
    });
    this.#child.on('exit', (code, signal) => {
      this.#exited = `the stage process (pid ${this.#child.pid}) exited (${signal ?? `code ${code}`})`;
      readyReject(new Error(this.#exited));
      this.#waiting?.reject(new Error(`${this.#exited} before its stage ended`));
      this.#waiting = null;
    });
    this.#send({ type: 'init', init });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  #send(m: ToHelper): void {
    if (this.#exited || !this.#child.connected) return;
    this.#child.send(m);
  }

  /** Runs one stage of the row in the helper; resolves with what `runStage` would have returned. */
  async run(p: PlannedStage, force: boolean): Promise<StageResult> {
    await this.#ready;
    if (this.#exited) throw new Error(this.#exited);
    if (this.#waiting) throw new Error('a stage process runs one stage at a time');
    return new Promise<StageResult>((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#send({ type: 'run', hash: p.hash, kind: p.def.kind, force });
    });
  }

  /** Passes a stop signal on (the helper finishes its step, checkpoints, and reports Interrupted). */
  signal(sig: StopSignal): void {
    if (!this.#exited) this.#child.kill(sig);
  }

  /** Lets the helper end its tracker and exit. */
  async close(): Promise<void> {
    if (this.#exited) return;
    const gone = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#send({ type: 'exit' });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 30_000);
    await gone;
    clearTimeout(timer);
  }
}

/**
 * The row's plan in waves: each stage after every stage it starts from, in the plan's order; the
 * stages of one wave need nothing from each other (init-backbone · init-text, then pre-training,
 * then the three fine-tunings).
 */
export function stageWaves(plan: readonly PlannedStage[]): PlannedStage[][] {
  const waveOf = new Map<string, number>();
  const waves: PlannedStage[][] = [];
  for (const p of plan) {
    const deps = p.init.flatMap((s) => (s.kind === 'stage' && waveOf.has(s.hash) ? [waveOf.get(s.hash)!] : []));
    const w = deps.length ? Math.max(...deps) + 1 : 0;
    waveOf.set(p.hash, w);
    (waves[w] ??= []).push(p);
  }
  return waves.filter((w) => w.length > 0);
}

/**
 * Runs `stages` on `lanes` (the row's own process first, then helpers): each lane takes the next
 * stage when it is free. After a failure no lane starts another stage; those running finish (their
 * results are cached), then the first error is thrown. Results come back in the stages' order.
 */
export async function runOnLanes(stages: readonly PlannedStage[], lanes: readonly ((p: PlannedStage) => Promise<StageResult>)[]): Promise<StageResult[]> {
  const queue = [...stages];
  const done = new Map<PlannedStage, StageResult>();
  let failure: unknown = null;
  const lane = async (run: (p: PlannedStage) => Promise<StageResult>) => {
    for (let p = queue.shift(); p && failure === null; p = queue.shift()) {
      try {
        done.set(p, await run(p));
      } catch (e) {
        failure ??= e;
      }
    }
  };
  // helpers first: their stage is handed out before the row's own process starts (synchronous) work
  await Promise.all([...lanes.slice(1).map(lane), lane(lanes[0]!)]);
  if (failure !== null) throw failure;
  return stages.map((p) => done.get(p)!);
}
