// Runs in a decoder process (started by loader.ts through decoder-boot.mjs, at low CPU priority):
// decodes one batch of image files at a time, collates it and writes its pixels and mask to the
// file the job names (in memory-backed /dev/shm where there is one), then sends a small message.
// The pixels do not travel over the IPC pipe: the training thread reads the pipe only between
// steps, so megabytes sent through it would be pulled in 64 KiB pieces while the step waits.
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { collateImages } from './batch';
import type { CollateOptions } from './batch';
import { loadImage } from './decode';
import { fallbackFile, removeHandoff } from './handoff';
import type { DecodedImage, DecodeOptions, ResizeSpec } from './decode';

export interface DecodeJob {
  step: number;
  files: string[];
  resize: ResizeSpec;
  decode: DecodeOptions;
  collate: CollateOptions;
  /** Images of this batch decoded at once. sharp queues each decode on libuv's pool (4 threads):
   *  unbounded, a batch of 32 keeps 4 decodes running at once. */
  inFlight: number;
  /** Where to write the batch: pixels (Float32, little-endian) then mask (Uint8), nothing else. */
  out: string;
}

export interface DecodeResult {
  step: number;
  /** Positions within the job's `files` that decoded. */
  kept: number[];
  errors: { position: number; file: string; message: string }[];
  /** Set when at least one image decoded: `file` (the job's `out`, or a temp-folder file when
   *  that had no room) now holds the batch. */
  written?: { pixelBytes: number; maskBytes: number; file: string };
  /** The batch could not be written (e.g. no space left); the loader fails with this. */
  fatal?: string;
  height: number;
  width: number;
  sizes: [number, number][];
}

if (!process.send) throw new Error('images/decoder.ts must run in a process started with an IPC channel (see loader.ts)');
const send = process.send.bind(process);
// The loader went away: nothing is left to decode for. If it went without close() (killed,
// crashed), nobody else will remove the hand-over folder and its batches in /dev/shm.
const loaderGone = () => {
  const handoff = process.env.PIXEL_BERT_LOADER_HANDOFF;
  if (handoff) removeHandoff(handoff);
  process.exit(0);
};
process.on('disconnect', loaderGone);
// A result sent while the loader dies fails with EPIPE before 'disconnect' arrives: the same end
// (unhandled, it crashed the decoder and left the hand-over folder behind).
process.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE' || e.code === 'ERR_IPC_CHANNEL_CLOSED') loaderGone();
  else throw e;
});

// Jobs arrive ahead of time (the loader keeps its prefetch window queued here, so a finished batch
// never waits for the training thread to hand out the next job) and run one after another.
let queue: Promise<void> = Promise.resolve();
process.on('message', (job: DecodeJob) => {
  queue = queue.then(() => decodeJob(job));
});

async function decodeJob(job: DecodeJob): Promise<void> {
  const settled: PromiseSettledResult<DecodedImage>[] = new Array(job.files.length);
  let next = 0;
  const lane = async () => {
    while (next < job.files.length) {
      const i = next++;
      try {
        settled[i] = { status: 'fulfilled', value: await loadImage(job.files[i]!, job.resize, job.decode) };
      } catch (reason) {
        settled[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(job.inFlight, job.files.length)) }, lane));
  const ok: DecodedImage[] = [];
  const kept: number[] = [];
  const errors: DecodeResult['errors'] = [];
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      ok.push(r.value);
      kept.push(i);
    } else {
      const err = r.reason as Error;
      errors.push({ position: i, file: job.files[i]!, message: err.message });
    }
  });
  if (ok.length === 0) {
    send({ step: job.step, kept, errors, height: 0, width: 0, sizes: [] } satisfies DecodeResult);
    return;
  }
  const b = collateImages(ok, job.collate);
  const result: DecodeResult = { step: job.step, kept, errors, height: b.height, width: b.width, sizes: b.sizes };
  const write = (file: string) => {
    const fd = openSync(file, 'w');
    try {
      writeAll(fd, new Uint8Array(b.pixels.buffer, b.pixels.byteOffset, b.pixels.byteLength));
      writeAll(fd, b.mask);
    } catch (e) {
      rmSync(file, { force: true });
      throw e;
    } finally {
      closeSync(fd);
    }
    result.written = { pixelBytes: b.pixels.byteLength, maskBytes: b.mask.byteLength, file };
  };
  try {
    write(job.out);
  } catch (e) {
    // /dev/shm filled up (other loaders, other programs): the temp folder on disk instead.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      try {
        write(fallbackFile(dirname(job.out), job.step));
      } catch (e2) {
        result.fatal = `could not write batch ${job.step} to ${job.out} (${(e as Error).message}) nor to the temp folder: ${(e2 as Error).message}`;
      }
    } else result.fatal = `could not write batch ${job.step} to ${job.out}: ${(e as Error).message}`;
  }
  send(result);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
}
