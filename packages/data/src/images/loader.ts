import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { close, existsSync, mkdtempSync, openSync, read, unlink } from 'node:fs';
import { availableParallelism, setPriority } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from '../readers/problems';
import type { Problem } from '../readers/problems';
import type { CollateOptions, ImageBatch } from './batch';
import type { DecodeOptions, ResizeSpec } from './decode';
import type { DecodeJob, DecodeResult } from './decoder';
import { handoffRoot, removeHandoff } from './handoff';

export interface ImageLoaderOptions {
  files: readonly string[];
  /** Consecutive batches of this size over `files` (the caller shuffles `files` per epoch)… */
  batchSize?: number;
  /** …or explicit batches of indices into `files`. */
  batches?: readonly (readonly number[])[];
  resize: ResizeSpec;
  decode?: DecodeOptions;
  collate?: CollateOptions;
  /** Decoder processes (default: min(4, cores − 1), at least 1). */
  workers?: number;
  /** Images each decoder process decodes at once (default 1: one core's worth of decoding per
   *  process, so a loader with W workers never takes more than W cores from the training step). */
  inFlight?: number;
  /**
   * CPU priority of the decoder processes, as a Unix nice increment over this process's (0–19;
   * the result is capped at 19); default 19, the lowest: they
   * run on whatever CPU time the training step leaves idle and never take a core from it. On a
   * 2-core machine a tensorflow step beside an equal-priority decoder ran ~40 % slower, beside a
   * nice-19 one within noise (docs/data-formats.md, Benchmark). 0 competes as an equal.
   */
  niceness?: number;
  /**
   * At most this many batches exist ahead of the consumer, decoded or queued for decoding
   * (default max(3, 2 × workers)): 3 lets a batch finish two steps ahead and be read in while the
   * step before it computes, so the step never waits for the copy.
   */
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

/** A decoder's answer with its batch read in (when any image of it decoded). */
type Received = DecodeResult & { data?: { pixels: Float32Array; mask: Uint8Array } };

interface Deferred {
  resolve: (r: Received) => void;
  reject: (e: Error) => void;
  promise: Promise<Received>;
}

function deferred(): Deferred {
  let resolve!: (r: Received) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<Received>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection nobody awaits yet (a prefetched batch after close) must not crash the process.
  promise.catch(() => undefined);
  return { resolve, reject, promise };
}

interface Slot {
  child: ChildProcess;
  exited: Promise<void>;
  /** Batches sent to this decoder and not answered yet, oldest (the one being decoded) first. */
  queue: { step: number; files: string[] }[];
}

const BOOT = fileURLToPath(new URL('./decoder-boot.mjs', import.meta.url));

/** Hand-over folders of loaders not closed yet, removed at process exit (one listener for all). */
const openHandoffs = new Set<string>();
process.on('exit', () => {
  for (const h of openHandoffs) removeHandoff(h);
});

/** `nice` from PATH (coreutils; every Linux and macOS has it), or undefined. */
function findNice(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'nice'))) return path.join(dir, 'nice');
  }
  return undefined;
}

/**
 * Decodes batches of images in child processes, at low CPU priority, ahead of the consumer.
 * Processes rather than worker threads: the CPU priority of a process covers every thread in it
 * (sharp's decodes run on libuv's and libvips' thread pools, which worker threads share with the
 * training thread), so decoding yields to the training step as a whole. Memory is bounded: no more
 * than `prefetch` decoded batches exist beyond the one the consumer holds. Batches come out in
 * schedule order. `close()` (or leaving a `for await` loop) stops the decoder processes.
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
  /** Folder of the batch files decoders hand over (at most `prefetch` at a time); removed on close. */
  readonly handoff: string;

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
    this.prefetch = opts.prefetch ?? Math.max(3, 2 * workers);
    if (!(this.prefetch >= 1)) throw new RangeError('ImageLoader: prefetch must be ≥ 1');
    const inFlight = opts.inFlight ?? 1;
    if (!Number.isInteger(inFlight) || inFlight < 1) throw new RangeError(`ImageLoader: inFlight must be a whole number ≥ 1, got ${inFlight}`);
    const niceness = opts.niceness ?? 19;
    if (!Number.isInteger(niceness) || niceness < 0 || niceness > 19) throw new RangeError(`ImageLoader: niceness must be a whole number from 0 to 19, got ${niceness}`);
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`ImageLoader: workers must be a whole number ≥ 1, got ${workers}`);
    // Room for every batch that can exist at once (prefetch + the one being written), each at most
    // longEdge² pixels (float RGB + mask byte) after padding.
    const div = opts.collate?.sizeDivisor ?? 1;
    const side = (x: number) => Math.ceil(x / div) * div;
    const h = side(Math.max(opts.resize.longEdge, opts.collate?.minHeight ?? 0));
    const w = side(Math.max(opts.resize.longEdge, opts.collate?.minWidth ?? 0));
    const largest = Math.max(0, ...this.batches.map((b) => b.length));
    this.handoff = mkdtempSync(path.join(handoffRoot((this.prefetch + 1) * largest * h * w * 13), 'pixel-bert-loader-'));
    openHandoffs.add(this.handoff); // a consumer that exits without close() leaves nothing behind
    for (let w = 0; w < workers; w++) this.slots.push(this.startWorker(niceness));
    this.pump();
  }

  /** Every image skipped so far, with the file and the decoder's reason. */
  get skipped(): readonly Problem[] {
    return this.skippedAll;
  }

  /** Process ids of the decoder processes still running (for diagnostics: `top`, `/proc/<pid>`). */
  get decoderPids(): number[] {
    return this.slots.flatMap((s) => (s.child.pid === undefined || s.child.exitCode !== null || s.child.signalCode !== null ? [] : [s.child.pid]));
  }

  /** Batches decoded or being decoded that the consumer has not taken yet (never above `prefetch`). */
  get buffered(): number {
    return this.nextDispatch - this.nextYield;
  }

  get steps(): number {
    return this.batches.length;
  }

  private startWorker(niceness: number): Slot {
    // Started through `nice` when there is one, so every thread of the decoder — including the
    // thread pools libuv and libvips create — is born at the low priority. Otherwise the priority
    // is set (as an absolute value) on the process's main thread right after the start: threads it
    // creates later (libuv's and libvips' pools, on first use) inherit it, the few V8 made at
    // start-up do not.
    const nice = niceness > 0 ? findNice() : undefined;
    const [cmd, args] = nice ? [nice, ['-n', String(niceness), process.execPath, BOOT]] : [process.execPath, [BOOT]];
    // The decoder removes the hand-over folder itself when this process goes away without close()
    // (killed, crashed): its IPC channel then disconnects.
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced', env: { ...process.env, PIXEL_BERT_LOADER_HANDOFF: this.handoff } });
    if (niceness > 0 && !nice && child.pid !== undefined) {
      try {
        setPriority(child.pid, niceness);
      } catch {
        // Not permitted here: the decoder runs at normal priority (only slower training, never wrong batches).
      }
    }
    // 'exit' when it ran; a process that never started (ENOENT, EAGAIN…) gives 'error' and 'close' only.
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('close', () => resolve());
    });
    const slot: Slot = { child, exited, queue: [] };
    child.on('message', (r: DecodeResult) => {
      if (this.closed) return; // an answer still in the pipe at close: its batch is dropped with the folder
      slot.queue = slot.queue.filter((j) => j.step !== r.step);
      const d = this.pending.get(r.step);
      if (!d) return;
      if (!r.written || r.fatal) return d.resolve(r);
      // Read the batch in now, on libuv's thread pool: this handler runs between training steps,
      // and the copy then proceeds while the next step computes instead of inside next().
      this.readBatch(r.written).then(
        (data) => d.resolve({ ...r, data }),
        (e: Error) => this.fail(e),
      );
    });
    const die = (e: Error) => {
      if (this.closed) return;
      const files = slot.queue[0] ? ` while decoding ${slot.queue[0].files.join(', ')}` : '';
      this.fail(new Error(`image loader decoder process failed${files}: ${e.message}`));
    };
    child.on('error', die);
    child.on('exit', (code, signal) => die(new Error(`it exited with ${signal ? `signal ${signal}` : `code ${code}`}`)));
    return slot;
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const d of this.pending.values()) d.reject(e);
    void this.close();
  }

  /** Fill the prefetch window, each batch to the decoder with the fewest batches queued. */
  private pump(): void {
    if (this.closed || this.failure) return;
    while (this.nextDispatch < this.batches.length && this.nextDispatch - this.nextYield < this.prefetch) {
      const slot = this.slots.reduce((a, b) => (b.queue.length < a.queue.length ? b : a));
      const step = this.nextDispatch++;
      const files = this.batches[step]!.map((i) => this.opts.files[i]!);
      const out = path.join(this.handoff, `batch-${step}.bin`);
      const job: DecodeJob = { step, files, resize: this.opts.resize, decode: this.opts.decode ?? {}, collate: this.opts.collate ?? {}, inFlight: this.opts.inFlight ?? 1, out };
      this.pending.set(step, deferred());
      slot.queue.push({ step, files });
      slot.child.send(job);
    }
  }

  /** The next batch in schedule order, or undefined at the end. */
  async next(): Promise<LoadedBatch | undefined> {
    // One turn of the event loop's I/O phase: decoders' answers that arrived during the step are
    // taken now and their batches start reading in the background. Without it a batch that is
    // already here resolves in a microtask, the pipe is never polled, and the answers pile up
    // until some step has to wait for all of them.
    await new Promise<void>((resolve) => setImmediate(resolve));
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
      if (r.fatal) {
        const err = new Error(`image loader: ${r.fatal}`);
        this.fail(err);
        throw err;
      }
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
      if (!r.data) continue; // every image of this batch was bad (reported above)
      return {
        step,
        index: r.kept.map((p) => idx[p]!),
        skipped,
        pixels: r.data.pixels,
        mask: r.data.mask,
        batch: r.kept.length,
        height: r.height,
        width: r.width,
        sizes: r.sizes,
        files: r.kept.map((p) => this.opts.files[idx[p]!]!),
      };
    }
  }

  /**
   * Read and delete the batch file a decoder wrote. One read request for the whole file (fs.read,
   * not readFile, whose 512 KiB pieces each need a turn of the event loop, which the training
   * thread gives only between steps), into memory first touched by the pool thread doing the read.
   */
  private readBatch(sizes: { pixelBytes: number; maskBytes: number; file: string }): Promise<{ pixels: Float32Array; mask: Uint8Array }> {
    const { file } = sizes;
    const total = sizes.pixelBytes + sizes.maskBytes;
    const buf = Buffer.allocUnsafeSlow(total); // its own ArrayBuffer at offset 0: Float32Array-aligned
    return new Promise((resolve, reject) => {
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch (e) {
        return reject(new Error(`image loader: cannot open batch file ${file}: ${(e as Error).message}`));
      }
      const finish = (e: Error | null) => {
        if (e) {
          close(fd, () => undefined);
          return reject(new Error(`image loader: reading batch file ${file}: ${e.message}`));
        }
        resolve({ pixels: new Float32Array(buf.buffer, 0, sizes.pixelBytes / 4), mask: new Uint8Array(buf.buffer, sizes.pixelBytes, sizes.maskBytes) });
        // Freeing a tmpfs file's pages takes milliseconds: on the pool too. A file left by a
        // failed unlink goes at close() (removeHandoff).
        close(fd, () => unlink(file, () => undefined));
      };
      const readFrom = (off: number) =>
        read(fd, buf, off, total - off, off, (e, n) => {
          if (e) return finish(e);
          if (n === 0) return finish(new Error(`it has ${off} bytes, expected ${total}`));
          if (off + n < total) return readFrom(off + n);
          finish(null);
        });
      readFrom(0);
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LoadedBatch> {
    try {
      for (let b = await this.next(); b; b = await this.next()) yield b;
    } finally {
      await this.close();
    }
  }

  /** Stop the decoder processes; batches not yet taken are dropped. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('image loader closed');
    for (const d of this.pending.values()) d.reject(err);
    for (const s of this.slots) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill();
    await Promise.all(this.slots.map((s) => s.exited));
    removeHandoff(this.handoff);
    openHandoffs.delete(this.handoff);
  }
}
