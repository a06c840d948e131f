// SIGINT / SIGTERM during training: the first finishes the step, checkpoints, marks the run KILLED
// and exits with the resume command; a second exits at once.

export type StopSignal = 'SIGINT' | 'SIGTERM';

export interface StopState {
  requested: StopSignal | null;
}

export const stopState: StopState = { requested: null };

let installed = false;

/** `onSecond` runs synchronously before exiting on the second signal (e.g. to journal run ends). */
export function installStopHandlers(onSecond: () => void, write: (s: string) => void = (s) => process.stderr.write(s)): void {
  if (installed) return;
  installed = true;
  const handler = (sig: StopSignal) => {
    if (stopState.requested) {
      onSecond();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    stopState.requested = sig;
    write(`\n${sig}: finishing this step, then checkpointing (${sig} again to stop at once, without a checkpoint)\n`);
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

export class Interrupted extends Error {
  constructor(readonly signal: StopSignal) {
    super(`interrupted by ${signal}`);
    this.name = 'Interrupted';
  }
}

/** A stage that cannot go on (a NaN loss): the run is FAILED, the last checkpoint kept. */
export class StageFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StageFailed';
  }
}
