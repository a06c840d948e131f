import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../readers/problems';
import { fallbackFile, removeHandoff } from './handoff';
import { collateImages, DecodedImageCache, decodeRgb, featureMask, handoffRoot, IMAGENET_MEAN, IMAGENET_STD, ImageError, ImageLoader, loadImage, targetSize } from './index';

let dir: string;
const p = (name: string) => join(dir, name);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const SAME = { shortEdge: 2, longEdge: 4 }; // keeps a 4×2 image at its size

/** Raw RGB(A) pixels → an encoded image file. */
async function write(name: string, w: number, h: number, channels: 1 | 3 | 4, px: number[], f: (s: sharp.Sharp) => sharp.Sharp) {
  await f(sharp(Buffer.from(px), { raw: { width: w, height: h, channels } })).toFile(p(name));
}
/** w×h image, left half colour a, right half colour b. */
function halves(w: number, h: number, a: number[], b: number[]): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.push(...(x < w / 2 ? a : b));
  return out;
}
const at = (rgb: Uint8Array, w: number, x: number, y: number) => Array.from(rgb.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
const near = (got: number[], want: number[], tol: number) => got.every((g, i) => Math.abs(g - want[i]!) <= tol);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-img-'));
  const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 200, 100, 50, 1, 2, 3, 128, 128, 128, 250, 240, 230];
  await write('rgb.png', 4, 2, 3, rgb, (s) => s.png());
  await write('gray.png', 4, 2, 1, [0, 50, 100, 150, 200, 250, 255, 7], (s) => s.png());
  await write('alpha.png', 4, 2, 4, [255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255, 9, 9, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 100, 110, 120, 0, 30, 40, 50, 255], (s) => s.png());
  await write('cmyk.jpg', 32, 32, 3, halves(32, 32, [220, 30, 30], [30, 30, 220]), (s) => s.toColourspace('cmyk').jpeg({ quality: 100 }));
  // 64×32 stored, left red / right blue; EXIF 6 = "rotate 90° clockwise to display" → 32×64, red on top.
  await write('exif6.jpg', 64, 32, 3, halves(64, 32, [230, 20, 20], [20, 20, 230]), (s) => s.jpeg({ quality: 100 }).withMetadata({ orientation: 6 }));
  // EXIF 3 = rotate 180°: red ends up on the right.
  await write('exif3.jpg', 64, 32, 3, halves(64, 32, [230, 20, 20], [20, 20, 230]), (s) => s.jpeg({ quality: 100 }).withMetadata({ orientation: 3 }));
  await write('wide.jpg', 300, 200, 3, new Array(300 * 200 * 3).fill(90), (s) => s.jpeg());
  await write('strip.png', 1000, 100, 3, new Array(1000 * 100 * 3).fill(90), (s) => s.png());
  const full = readFileSync(p('wide.jpg'));
  writeFileSync(p('truncated.jpg'), full.subarray(0, Math.floor(full.length / 2)));
  writeFileSync(p('not-an-image.jpg'), 'hello');
});

describe('decoding', () => {
  it('reads RGB PNG pixels exactly and normalises with ImageNet mean/std', async () => {
    const d = await decodeRgb(p('rgb.png'), SAME);
    expect([d.width, d.height]).toEqual([4, 2]);
    expect(at(d.rgb, 4, 0, 0)).toEqual([255, 0, 0]);
    expect(at(d.rgb, 4, 1, 1)).toEqual([1, 2, 3]);
    const im = await loadImage(p('rgb.png'), SAME);
    const want = [200, 100, 50].map((v, c) => (v / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!);
    Array.from(im.data.subarray(12, 15)).forEach((v, c) => expect(v).toBeCloseTo(want[c]!, 5));
    const raw = await loadImage(p('rgb.png'), SAME, { normalize: false });
    expect(raw.data[0]).toBe(1);
  });

  it('expands grayscale to three equal channels', async () => {
    const d = await decodeRgb(p('gray.png'), SAME);
    expect(at(d.rgb, 4, 2, 0)).toEqual([100, 100, 100]);
    expect(at(d.rgb, 4, 3, 1)).toEqual([7, 7, 7]);
  });

  it('drops alpha and keeps the colour underneath', async () => {
    const d = await decodeRgb(p('alpha.png'), SAME);
    expect(d.rgb.length).toBe(4 * 2 * 3);
    expect(at(d.rgb, 4, 0, 0)).toEqual([255, 0, 0]);
    expect(at(d.rgb, 4, 1, 0)).toEqual([0, 255, 0]);
    expect(at(d.rgb, 4, 3, 1)).toEqual([30, 40, 50]);
  });

  it('converts CMYK JPEG to RGB', async () => {
    expect((await sharp(p('cmyk.jpg')).metadata()).space).toBe('cmyk');
    const d = await decodeRgb(p('cmyk.jpg'), { shortEdge: 32, longEdge: 32 });
    // Through a print CMYK profile and back, saturated colours lose gamut (this blue comes back
    // near [29, 55, 138]); what must hold is that the channels are RGB in the right order.
    const [r0, g0, b0] = at(d.rgb, 32, 4, 16) as [number, number, number];
    const [r1, g1, b1] = at(d.rgb, 32, 28, 16) as [number, number, number];
    expect(r0 - Math.max(g0, b0)).toBeGreaterThan(150);
    expect(b1 - Math.max(r1, g1)).toBeGreaterThan(60);
  });

  it('applies EXIF orientation before resizing', async () => {
    const d6 = await decodeRgb(p('exif6.jpg'), { shortEdge: 32, longEdge: 64 });
    expect([d6.width, d6.height, d6.sourceWidth, d6.sourceHeight]).toEqual([32, 64, 32, 64]);
    expect(near(at(d6.rgb, 32, 16, 8), [230, 20, 20], 12)).toBe(true);
    expect(near(at(d6.rgb, 32, 16, 56), [20, 20, 230], 12)).toBe(true);
    const d3 = await decodeRgb(p('exif3.jpg'), { shortEdge: 32, longEdge: 64 });
    expect([d3.width, d3.height]).toEqual([64, 32]);
    expect(near(at(d3.rgb, 64, 8, 16), [20, 20, 230], 12)).toBe(true);
    expect(near(at(d3.rgb, 64, 56, 16), [230, 20, 20], 12)).toBe(true);
  });

  it('resizes to shorter edge S with the longer edge capped at L', async () => {
    expect(targetSize(640, 480, { shortEdge: 800, longEdge: 1333 })).toEqual({ width: 1067, height: 800 });
    expect(targetSize(1000, 100, { shortEdge: 800, longEdge: 1333 })).toEqual({ width: 1333, height: 133 });
    expect(targetSize(480, 640, { shortEdge: 600, longEdge: 1000 })).toEqual({ width: 600, height: 800 });
    const w = await loadImage(p('wide.jpg'), { shortEdge: 100, longEdge: 150 });
    expect([w.width, w.height, w.data.length]).toEqual([150, 100, 150 * 100 * 3]);
    const s = await loadImage(p('strip.png'), { shortEdge: 100, longEdge: 300 });
    expect([s.width, s.height]).toEqual([300, 30]);
  });

  it('names the file of a truncated, corrupt or too-small image', async () => {
    await expect(loadImage(p('truncated.jpg'), SAME)).rejects.toThrow(ImageError);
    await expect(loadImage(p('truncated.jpg'), SAME)).rejects.toThrow(/truncated\.jpg: /);
    await expect(loadImage(p('not-an-image.jpg'), SAME)).rejects.toThrow(/not-an-image\.jpg: .*unsupported image format/);
    await expect(loadImage(p('missing.jpg'), SAME)).rejects.toThrow(/missing\.jpg: /);
    await expect(loadImage(p('rgb.png'), SAME, { minSourceEdge: 32 })).rejects.toThrow(/rgb\.png: image is 4×2; the shorter edge must be at least 32 px/);
    await expect(loadImage(p('strip.png'), { shortEdge: 100, longEdge: 300 }, { minEdge: 64 })).rejects.toThrow(/resized to 300×30, below the minimum edge 64/);
  });
});

describe('batching', () => {
  it('pads with zeros, masks the valid pixels and rounds to the stride', async () => {
    const a = await loadImage(p('rgb.png'), SAME);
    const b = await loadImage(p('exif6.jpg'), { shortEdge: 3, longEdge: 6 });
    expect([b.width, b.height]).toEqual([3, 6]);
    const batch = collateImages([a, b], { sizeDivisor: 4 });
    expect([batch.batch, batch.height, batch.width]).toEqual([2, 8, 4]);
    expect(batch.pixels.length).toBe(2 * 8 * 4 * 3);
    // Image 0 occupies rows 0–1, cols 0–3.
    expect(Array.from(batch.pixels.subarray(0, 3))).toEqual(Array.from(a.data.subarray(0, 3)));
    expect(batch.mask[1 * 4 + 3]).toBe(1);
    expect(batch.mask[2 * 4 + 0]).toBe(0);
    expect(batch.pixels[(2 * 4 + 0) * 3]).toBe(0);
    // Image 1 (3 wide, 6 tall): column 3 and rows 6–7 are padding.
    const m1 = Array.from(batch.mask.subarray(32, 64));
    expect(m1).toEqual([1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const f = featureMask(batch, 4);
    expect([f.height, f.width]).toEqual([2, 1]);
    expect(Array.from(f.mask)).toEqual([1, 0, 1, 1]);
  });
});

describe('ImageLoader (decoder processes)', () => {
  const files = () => ['rgb.png', 'gray.png', 'alpha.png', 'cmyk.jpg', 'exif6.jpg', 'exif3.jpg', 'wide.jpg', 'strip.png'].map(p);
  const resize = { shortEdge: 16, longEdge: 32 };

  it('yields batches in order, identical to decoding on the main thread', async () => {
    const loader = new ImageLoader({ files: files(), batchSize: 3, resize, workers: 2, prefetch: 2, collate: { sizeDivisor: 8 } });
    const got = [];
    for await (const b of loader) got.push(b);
    expect(got.map((b) => b.index)).toEqual([[0, 1, 2], [3, 4, 5], [6, 7]]);
    const direct = collateImages(await Promise.all([6, 7].map((i) => loadImage(files()[i]!, resize))), { sizeDivisor: 8 });
    expect([got[2]!.height, got[2]!.width]).toEqual([direct.height, direct.width]);
    expect(got[2]!.pixels).toEqual(direct.pixels);
    expect(got[2]!.mask).toEqual(direct.mask);
    expect(loader.skipped).toEqual([]);
  });

  it('decodes the same batches whatever the number of images in flight per worker', async () => {
    const run = async (inFlight: number) => {
      const loader = new ImageLoader({ files: files(), batchSize: 4, resize, workers: 1, inFlight, collate: { sizeDivisor: 8 } });
      const got = [];
      for await (const b of loader) got.push({ index: b.index, pixels: b.pixels, mask: b.mask });
      return got;
    };
    const one = await run(1);
    expect(one.map((b) => b.index)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(await run(3)).toEqual(one);
    expect(() => new ImageLoader({ files: files(), batchSize: 4, resize, inFlight: 0 })).toThrow(/inFlight must be a whole number ≥ 1, got 0/);
  });

  it('keeps at most `prefetch` batches decoded ahead of the consumer', async () => {
    const many = Array.from({ length: 12 }, () => p('wide.jpg'));
    const loader = new ImageLoader({ files: many, batchSize: 2, resize, workers: 2, prefetch: 3 });
    // Workers take a second or so to start; wait until the prefetch window is full, then check it stays so.
    for (let t = 0; t < 100 && loader.buffered < 3; t++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    expect(loader.buffered).toBe(3);
    let n = 0;
    for (let b = await loader.next(); b; b = await loader.next()) {
      n++;
      expect(loader.buffered).toBeLessThanOrEqual(3);
    }
    expect(n).toBe(6);
    expect(existsSync(loader.handoff)).toBe(false); // removed when the loader closed itself after the last batch
  });

  it('skips a corrupt image under the threshold, naming it', async () => {
    const list = [p('rgb.png'), p('truncated.jpg'), p('gray.png'), p('wide.jpg')];
    const loader = new ImageLoader({ files: list, batchSize: 2, resize, workers: 1, maxBadFraction: 0.25 });
    const got = [];
    for await (const b of loader) got.push(b);
    expect(got.map((b) => b.index)).toEqual([[0], [2, 3]]);
    expect(got[0]!.skipped[0]!.file).toBe(p('truncated.jpg'));
    expect(loader.skipped).toHaveLength(1);
  });

  it('fails above the threshold with a DataError listing the files', async () => {
    const list = [p('rgb.png'), p('truncated.jpg'), p('not-an-image.jpg'), p('wide.jpg')];
    const loader = new ImageLoader({ files: list, batchSize: 2, resize, workers: 1, maxBadFraction: 0.25 });
    let err: unknown;
    try {
      for await (const _ of loader) void _;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/2 of 4 images could not be decoded/);
    expect((err as Error).message).toMatch(/not-an-image\.jpg/);
  });

  it('runs its decoders at the lowest CPU priority by default, every thread of them', async () => {
    const loader = new ImageLoader({ files: files(), batchSize: 2, resize, workers: 2 });
    const first = await loader.next(); // the decoders have decoded, so their thread pools exist
    expect(first?.index).toEqual([0, 1]);
    const pids = loader.decoderPids;
    expect(pids).toHaveLength(2);
    for (const pid of pids) {
      expect(getPriority(pid)).toBe(19);
      // Linux: each thread (task) has its own nice value; field 19 of /proc/<pid>/task/<tid>/stat.
      const tasks = `/proc/${pid}/task`;
      if (existsSync(tasks)) {
        const nices = readdirSync(tasks).map((t) => Number(readFileSync(`${tasks}/${t}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
        expect(nices.length).toBeGreaterThan(3);
        expect(new Set(nices)).toEqual(new Set([19]));
      }
    }
    await loader.close();
    const equal = new ImageLoader({ files: files(), batchSize: 2, resize, workers: 1, niceness: 0 });
    expect(getPriority(equal.decoderPids[0]!)).toBe(getPriority(process.pid));
    await equal.close();
    expect(() => new ImageLoader({ files: files(), batchSize: 2, resize, niceness: 20 })).toThrow(/niceness must be a whole number from 0 to 19, got 20/);
  });

  it('fails naming the files in hand when a decoder process dies, and leaves no process behind', async () => {
    const many = Array.from({ length: 40 }, () => p('wide.jpg'));
    const loader = new ImageLoader({ files: many, batchSize: 2, resize, workers: 1, prefetch: 1 });
    expect((await loader.next())?.index).toEqual([0, 1]);
    const [pid] = loader.decoderPids;
    process.kill(pid!, 'SIGKILL');
    await expect(
      (async () => {
        for (let b = await loader.next(); b; b = await loader.next()) void b;
      })(),
    ).rejects.toThrow(/image loader decoder process failed while decoding .*wide\.jpg.*: it exited with signal SIGKILL/);
    await loader.close();
    const kept = new ImageLoader({ files: many, batchSize: 2, resize, workers: 2 });
    const pids = kept.decoderPids;
    await kept.next();
    await kept.close();
    for (const id of pids) expect(() => process.kill(id, 0)).toThrow(/ESRCH/);
  });

  it('leaves no batch files behind when its process is killed without close()', async () => {
    const script = join(dir, 'killed-consumer.mts');
    writeFileSync(
      script,
      `import { ImageLoader } from ${JSON.stringify(new URL('./loader.ts', import.meta.url).pathname)};\n` +
        `const l = new ImageLoader({ files: Array(40).fill(${JSON.stringify(p('wide.jpg'))}), batchSize: 2, resize: { shortEdge: 16, longEdge: 32 }, workers: 2 });\n` +
        `await l.next();\nconsole.log(JSON.stringify({ handoff: l.handoff, pids: l.decoderPids }));\nsetInterval(() => {}, 1000);\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    const { handoff, pids } = JSON.parse(line) as { handoff: string; pids: number[] };
    expect(existsSync(handoff)).toBe(true);
    child.kill('SIGKILL');
    // Its decoders see the IPC channel close, remove the folder and exit.
    for (let t = 0; t < 100 && (existsSync(handoff) || pids.some(alive)); t++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(handoff)).toBe(false);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('clears a hand-over folder with the batches that went to the temp folder for lack of room', () => {
    const handoff = mkdtempSync(join(tmpdir(), 'pixel-bert-loader-'));
    writeFileSync(join(handoff, 'batch-0.bin'), 'x');
    writeFileSync(fallbackFile(handoff, 3), 'x');
    removeHandoff(handoff);
    expect(existsSync(handoff)).toBe(false);
    expect(existsSync(fallbackFile(handoff, 3))).toBe(false);
  });

  it('hands batches over in /dev/shm when it has room, else in the temp folder', () => {
    expect(handoffRoot(1, join(dir, 'no-such-shm'))).toBe(tmpdir());
    expect(handoffRoot(Number.MAX_SAFE_INTEGER, dir)).toBe(tmpdir()); // "too small": more than any disk holds
    expect(handoffRoot(1, dir)).toBe(dir);
  });

  it('closes cleanly when the consumer stops early', async () => {
    const many = Array.from({ length: 20 }, () => p('wide.jpg'));
    const loader = new ImageLoader({ files: many, batchSize: 2, resize, workers: 2 });
    for await (const b of loader) {
      expect(b.batch).toBe(2);
      break;
    }
    await expect(loader.next()).rejects.toThrow(/closed/);
    expect(existsSync(loader.handoff)).toBe(false);
  });
});

describe('DecodedImageCache', () => {
  const resize = { shortEdge: 16, longEdge: 32 };

  it('gives the batches collateImages gives, from 8-bit pixels decoded once', async () => {
    const files = ['rgb.png', 'gray.png', 'cmyk.jpg', 'exif6.jpg', 'wide.jpg'].map(p);
    const progress: number[] = [];
    const cache = await DecodedImageCache.build(files, resize, { concurrency: 2, onProgress: (d) => progress.push(d) });
    expect(progress.at(-1)).toBe(5);
    expect(cache.bytes).toBe(cache.sizes.reduce((n, s) => n + s![0] * s![1] * 3, 0));
    const want = collateImages(await Promise.all([3, 0, 4].map((i) => loadImage(files[i]!, resize))), { sizeDivisor: 8 });
    const got = cache.batch([3, 0, 4], { sizeDivisor: 8 });
    expect([got.batch, got.height, got.width]).toEqual([want.batch, want.height, want.width]);
    expect(got.mask).toEqual(want.mask);
    let maxDiff = 0;
    for (let i = 0; i < want.pixels.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got.pixels[i]! - want.pixels[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it('skips and reports a corrupt file under the threshold, fails above it', async () => {
    const files = [p('rgb.png'), p('truncated.jpg'), p('gray.png'), p('wide.jpg')];
    const cache = await DecodedImageCache.build(files, resize, { maxBadFraction: 0.25 });
    expect(cache.has(1)).toBe(false);
    expect(cache.skipped.map((s) => s.file)).toEqual([p('truncated.jpg')]);
    expect(() => cache.batch([0, 1])).toThrow(/image 1 .*truncated\.jpg.* is not in the cache/);
    await expect(DecodedImageCache.build(files, resize)).rejects.toThrow(/truncated\.jpg/);
  });
});
