// Progress of a stage: a bar on a terminal (step/total, loss, samples/s, ETA), a plain line every N
// steps otherwise (logs, CI).

export class Progress {
  #t0 = performance.now();
  #lastLine = 0;
  #startDone: number;

  constructor(
    readonly label: string,
    readonly total: number,
    done: number,
    private readonly o: { tty: boolean; logEvery: number; write: (s: string) => void },
  ) {
    this.#startDone = done;
  }

  update(done: number, info: { epoch: number; epochs: number; loss: number; samplesPerS: number }): void {
    const elapsed = (performance.now() - this.#t0) / 1000;
    const rate = (done - this.#startDone) / Math.max(elapsed, 1e-9); // steps per second in this attempt
    const eta = rate > 0 ? (this.total - done) / rate : NaN;
    const text = `${this.label} epoch ${info.epoch + 1}/${info.epochs} step ${done}/${this.total} loss ${info.loss.toFixed(4)} ${info.samplesPerS.toFixed(1)} samples/s ETA ${formatSeconds(eta)}`;
    if (this.o.tty) {
      const width = 20;
      const fill = Math.round((width * done) / Math.max(1, this.total));
      this.o.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${text}\x1b[K`);
    } else if (done - this.#lastLine >= this.o.logEvery || done === this.total) {
      this.#lastLine = done;
      this.o.write(`${text}\n`);
    }
  }

  /** Ends the bar's line on a terminal, so that what follows starts on its own line. */
  end(): void {
    if (this.o.tty) this.o.write('\n');
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
