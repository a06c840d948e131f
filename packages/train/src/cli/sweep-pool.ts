// The local sweep's process pool (train:table6): jobs of two kinds, the init stages of one backbone
// and one row × seed, `jobs` processes at a time. A row waits for the init job of its backbone and
// nothing else, so the rows of one backbone start while another backbone's init stages still train
// (the sweep before 2026-12-05 ran every init stage first, one backbone after the other, with a
// core idle: 6 min 29 s before its first row). Of the jobs ready to start, the costliest starts
// first (longest-processing-time first), so that the lanes end close together.
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { formatSeconds } from '../runner/progress';

export interface PoolJob {
  /** What the pool prints: "row 4, seed 0", "init stages of resnet-small (rows 1–5)". */
  label: string;
  /** Prefix of the job's output lines when jobs run side by side: "[r4 s0] ". */
  tag: string;
  /** Expected wall time (any unit, the same for all jobs); the costliest ready job starts first. */
  cost: number;
  /** A job that must have finished with exit 0 first (a row's init stages). */
  after?: PoolJob;
  /** The command that reruns the job alone, for the failure list. */
  rerun: string;
  /** Order among jobs of equal cost (lower first). */
  order: number;
}

export interface Finished<J extends PoolJob = PoolJob> {
  job: J;
  /** Exit code; null: never started, because the job it waits for failed. */
  code: number | null;
  seconds: number;
}

/**
 * The next job to start: of the jobs whose `after` has finished with exit 0 (or that have none), the
 * costliest (ties: lower `order`). Jobs whose `after` failed are taken out of `queue` and returned in
 * `blocked`. `job` is null when nothing can start now (what is left waits on running jobs).
 */
export function pickNext<J extends PoolJob>(queue: J[], exitCodes: ReadonlyMap<PoolJob, number | null>): { job: J | null; blocked: J[] } {
  const blocked: J[] = [];
  for (let i = queue.length - 1; i >= 0; i--) {
    const dep = queue[i]!.after;
    if (dep && exitCodes.has(dep) && exitCodes.get(dep) !== 0) blocked.push(...queue.splice(i, 1));
  }
  let best = -1;
  for (let i = 0; i < queue.length; i++) {
    const j = queue[i]!;
    if (j.after && exitCodes.get(j.after) !== 0) continue; // still running or not yet started
    const b = queue[best];
    if (!b || j.cost > b.cost || (j.cost === b.cost && j.order < b.order)) best = i;
  }
  const job = best < 0 ? null : queue.splice(best, 1)[0]!;
  return { job, blocked: blocked.reverse() };
}

/**
 * Runs the jobs, `jobs` processes at a time, each in a process group of its own so that a Ctrl-C
 * reaches this process alone: it passes each signal on once (a stage finishes its step,
 * checkpoints and exits 130; a second Ctrl-C makes the processes exit at once) and starts nothing
 * new. With one job at a time a job writes straight to the terminal (its progress bar included);
 * with more, each line comes prefixed with the job's tag.
 */
export async function runPool<J extends PoolJob>(list: J[], jobs: number, spawnJob: (job: J, piped: boolean) => ChildProcess, t0: number): Promise<{ finished: Finished<J>[]; interrupted: boolean }> {
  const queue = [...list];
  const exitCodes = new Map<PoolJob, number | null>();
  const running = new Set<ChildProcess>();
  const finished: Finished<J>[] = [];
  let interrupted = false;
  let lastSignalAt = -Infinity;
  const relay = (sig: NodeJS.Signals) => {
    // One Ctrl-C can arrive two or three times: from the terminal, relayed by tsx, and as the SIGTERM
    // nx sends its task. Passed on twice it would make the jobs stop without their checkpoint, so
    // any stop signal within 1.5 s of the last counts once; a second Ctrl-C after that stops the
    // jobs at once, as it does a single row.
    const now = performance.now();
    if (now - lastSignalAt < 1500) return;
    lastSignalAt = now;
    interrupted = true;
    console.error(`\n${sig}: passing it on to the ${running.size} running job(s); no new one starts`);
    for (const c of running) {
      try {
        if (c.pid) process.kill(-c.pid, sig);
      } catch {
        // the job ended between its last output and this signal: nothing to pass on
      }
    }
  };
  process.on('SIGINT', relay);
  process.on('SIGTERM', relay);
  let started = 0;
  const so = () => formatSeconds((performance.now() - t0) / 1000);
  try {
    await new Promise<void>((done) => {
      const next = () => {
        while (!interrupted && running.size < jobs) {
          const { job, blocked } = pickNext(queue, exitCodes);
          for (const b of blocked) {
            exitCodes.set(b, null);
            finished.push({ job: b, code: null, seconds: 0 });
            console.log(`==== ${b.label}: not started (${b.after!.label} failed)`);
          }
          if (!job) break;
          started++;
          console.log(`\n==== [${started}/${list.length}] ${job.label} starts (${so()} so far${jobs > 1 ? `, ${running.size + 1} running` : ''})`);
          const ts = performance.now();
          const child = spawnJob(job, jobs > 1);
          running.add(child);
          if (jobs > 1) {
            for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]] as const) {
              let rest = '';
              from!.setEncoding('utf8');
              from!.on('data', (chunk: string) => {
                const lines = (rest + chunk).split('\n');
                rest = lines.pop()!;
                for (const l of lines) to.write(job.tag + l + '\n');
              });
              from!.on('end', () => rest && to.write(job.tag + rest + '\n'));
            }
          }
          child.on('close', (code, signal) => {
            running.delete(child);
            const c = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : null);
            exitCodes.set(job, c);
            finished.push({ job, code: c, seconds: (performance.now() - ts) / 1000 });
            if (c === 130 || c === 143) interrupted = true;
            console.log(`==== ${job.label} ended (exit ${c}) after ${formatSeconds((performance.now() - ts) / 1000)} (${so()} so far)`);
            next();
          });
        }
        if (running.size === 0) done();
      };
      next();
    });
  } finally {
    process.off('SIGINT', relay);
    process.off('SIGTERM', relay);
  }
  return { finished, interrupted };
}
