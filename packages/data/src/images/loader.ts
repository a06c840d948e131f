import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DataError } from '../readers/problems';
import type { Problem } from '../readers/problems';
import type { CollateOptions, ImageBatch } from './batch';
import type { DecodeOptions, ResizeSpec } from './decode';
import type { DecodeJob, DecodeResult } from './worker';

export interface ImageLoaderOptions {
  files: readonly string[];
  /** Consecutive batches of this size over `files` (the caller shuffles `files` per epoch)… */
  batchSize?: number;
  /** …or explicit batches of indices into `files`. */
  batches?: readonly (readonly number[])[];
  resize: ResizeSpec;
  decode?: DecodeOptions;
  collate?: CollateOptions;
  /** Worker threads (default: min(4, cores − 1), at least 1). */
  workers?: number;
  /** Images each worker decodes at once (default 1: one core's worth of decoding per worker, so
   *  a loader with W workers never takes more than W cores from the training step). */
  inFlight?: number;
  /** At most this many decoded batches exist at once, in flight or waiting (default 2 × workers). */
  prefetch?: number;
  /** Fraction of images that may fail to decode (skipped and reported) before the loader fails; default 0. */
  maxBadFraction?: number;
}

export interface LoadedBatch extends ImageBatch {
  /** Position of this batch in the schedule. */
  step: number;
  /** Indices into `files` of the images in this batch, in batch order (bad ones left out). */
  index: number[];
  /** Images of this batch that could not be decoded. */
  skipped: Problem[];
}

interface Deferred {
  resolve: (r: DecodeResult) => void;
  reject: (e: Error) => void;
  promise: Promise<DecodeResult>;
}

function deferred(): Deferred {
  let resolve!: (r: DecodeResult) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<DecodeResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection nobody awaits yet (a prefetched batch after close) must not crash the process.
  promise.catch(() => undefined);
  return { resolve, reject, promise };
}

interface Slot {
  worker: Worker;
  busy?: { step: number; files: string[] };
}

/**
 * Decodes batches of images on worker threads ahead of the consumer. Memory is bounded: no more
 * than `prefetch` decoded batches exist beyond the one the consumer holds. Batches come out in
 * schedule order. `close()` (or leaving a `for await` loop) stops the workers.
 */
export class ImageLoader implements AsyncIterable<LoadedBatch> {
  readonly batches: readonly (readonly number[])[];
  readonly prefetch: number;
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Deferred>();
  private nextDispatch = 0;
  private nextYield = 0;
  private failure?: Error;
  private closed = false;
  private readonly skippedAll: Problem[] = [];
  private readonly totalImages: number;

  constructor(private readonly opts: ImageLoaderOptions) {
    if (opts.batches) this.batches = opts.batches;
    else {
      const bs = opts.batchSize ?? 0;
      if (!(Number.isInteger(bs) && bs > 0)) throw new RangeError('ImageLoader: give batchSize (a positive integer) or batches');
      const out: number[][] = [];
      for (let i = 0; i < opts.files.length; i += bs) out.push(Array.from({ length: Math.min(bs, opts.files.length - i) }, (_, k) => i + k));
      this.batches = out;
    }
    for (const [s, b] of this.batches.entries()) {
      for (const i of b) if (!(i >= 0 && i < opts.files.length)) throw new RangeError(`ImageLoader: batch ${s} refers to item ${i}, outside 0..${opts.files.length - 1}`);
    }
    this.totalImages = this.batches.reduce((n, b) => n + b.length, 0);
    const workers = opts.workers ?? Math.max(1, Math.min(4, availableParallelism() - 1));
    this.prefetch = opts.prefetch ?? 2 * workers;
    if (!(this.prefetch >= 1)) throw new RangeError('ImageLoader: prefetch must be ≥ 1');
    const inFlight = opts.inFlight ?? 1;
    if (!Number.isInteger(inFlight) || inFlight < 1) throw new RangeError(`ImageLoader: inFlight must be a whole number ≥ 1, got ${inFlight}`);
    for (let w = 0; w < workers; w++) this.slots.push(this.startWorker());
    this.pump();
  }

  /** Every image skipped so far, with the file and the decoder's reason. */
  get skipped(): readonly Problem[] {
    return this.skippedAll;
  }

  /** Batches decoded or being decoded that the consumer has not taken yet (never above `prefetch`). */
  get buffered(): number {
    return this.nextDispatch - this.nextYield;
  }

  get steps(): number {
    return this.batches.length;
  }

  private startWorker(): Slot {
    const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url));
    const slot: Slot = { worker };
    worker.on('message', (r: DecodeResult) => {
      slot.busy = undefined;
      this.pending.get(r.step)?.resolve(r);
      this.pump();
    });
    const die = (e: Error) => {
      if (this.closed) return;
      const files = slot.busy ? ` while decoding ${slot.busy.files.join(', ')}` : '';
      this.fail(new Error(`image loader worker failed${files}: ${e.message}`));
    };
    worker.on('error', die);
    worker.on('exit', (code) => die(new Error(`worker exited with code ${code}`)));
    return slot;
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const d of this.pending.values()) d.reject(e);
    void this.close();
  }

  private pump(): void {
    if (this.closed || this.failure) return;
    for (const slot of this.slots) {
      if (this.nextDispatch >= this.batches.length) return;
      if (this.nextDispatch - this.nextYield >= this.prefetch) return;
      if (slot.busy) continue;
      const step = this.nextDispatch++;
      const files = this.batches[step]!.map((i) => this.opts.files[i]!);
      const job: DecodeJob = { step, files, resize: this.opts.resize, decode: this.opts.decode ?? {}, collate: this.opts.collate ?? {}, inFlight: this.opts.inFlight ?? 1 };
      this.pending.set(step, deferred());
      slot.busy = { step, files };
      slot.worker.postMessage(job);
    }
  }

  /** The next batch in schedule order, or undefined at the end. */
  async next(): Promise<LoadedBatch | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.nextYield >= this.batches.length) {
        await this.close();
        return undefined;
      }
      if (this.closed) throw new Error('image loader is closed');
      const step = this.nextYield;
      const d = this.pending.get(step);
      if (!d) throw new Error(`image loader: batch ${step} was never dispatched (internal error)`);
      const r = await d.promise;
      this.pending.delete(step);
      this.nextYield++;
      this.pump();
      const idx = this.batches[step]!;
      const skipped: Problem[] = r.errors.map((e) => ({ file: e.file, item: `batch ${step} position ${e.position}`, message: e.message }));
      if (skipped.length) {
        this.skippedAll.push(...skipped);
        if (this.skippedAll.length > (this.opts.maxBadFraction ?? 0) * this.totalImages) {
          const err = new DataError(this.skippedAll, `image loader: ${this.skippedAll.length} of ${this.totalImages} images could not be decoded (allowed: ${((this.opts.maxBadFraction ?? 0) * 100).toFixed(2)} %)`);
          this.fail(err);
          throw err;
        }
      }
      if (!r.pixels || !r.mask) continue; // every image of this batch was bad (reported above)
      return {
        step,
        index: r.kept.map((p) => idx[p]!),
        skipped,
        pixels: r.pixels,
        mask: r.mask,
        batch: r.kept.length,
        height: r.height,
        width: r.width,
        sizes: r.sizes,
        files: r.kept.map((p) => this.opts.files[idx[p]!]!),
      };
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LoadedBatch> {
    try {
      for (let b = await this.next(); b; b = await this.next()) yield b;
    } finally {
      await this.close();
    }
  }

  /** Stop the workers; batches not yet taken are dropped. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('image loader closed');
    for (const d of this.pending.values()) d.reject(err);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
