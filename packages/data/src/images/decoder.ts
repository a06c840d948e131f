// Runs inside a worker thread (started by loader.ts through worker-boot.mjs): decodes one batch
// of image files, collates them and sends the buffers back without copying (transfer list).
import { parentPort } from 'node:worker_threads';
import { collateImages } from './batch';
import type { CollateOptions } from './batch';
import { loadImage } from './decode';
import type { DecodedImage, DecodeOptions, ResizeSpec } from './decode';

export interface DecodeJob {
  step: number;
  files: string[];
  resize: ResizeSpec;
  decode: DecodeOptions;
  collate: CollateOptions;
  /** Images of this batch decoded at once. sharp queues each decode on libuv's pool (4 threads):
   *  unbounded, a batch of 32 keeps 4 decodes running and takes the cores the training step needs. */
  inFlight: number;
}

export interface DecodeResult {
  step: number;
  /** Positions within the job's `files` that decoded. */
  kept: number[];
  errors: { position: number; file: string; message: string }[];
  pixels?: Float32Array;
  mask?: Uint8Array;
  height: number;
  width: number;
  sizes: [number, number][];
}

if (!parentPort) throw new Error('images/worker.ts must run in a worker thread');
const port = parentPort;

port.on('message', (job: DecodeJob) => {
  void (async () => {
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
      port.postMessage({ step: job.step, kept, errors, height: 0, width: 0, sizes: [] } satisfies DecodeResult);
      return;
    }
    const b = collateImages(ok, job.collate);
    const result: DecodeResult = { step: job.step, kept, errors, pixels: b.pixels, mask: b.mask, height: b.height, width: b.width, sizes: b.sizes };
    port.postMessage(result, [b.pixels.buffer as ArrayBuffer, b.mask.buffer as ArrayBuffer]);
  })();
});
