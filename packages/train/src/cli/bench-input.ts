// `npx nx run data:bench` (= `train:bench-input`; run from the workspace root; --help lists the
// flags). The data package's benchmark, kept here because it feeds the loader (data) into the real
// Pixel-BERT step (model), and only train may import both (DESIGN.md).
// 1. Decode+resize throughput (images/s) at the small (128/128) and paper (800/1333, Sec. 4.1)
//    sizes, on the calling thread and through the loader, over COCO-like JPEGs made here and over
//    the generated world's own PNG scenes.
// 2. Does a training step wait for data? The real small-scale Pixel-BERT step (or, at paper size
//    and with --step=stand-in, an accelerator-bound stand-in) is timed in pairs: fed by the loader, and
//    on a batch decoded in advance with the decoders stopped; the loader passes when the mean
//    paired ratio is within 5 % and the step waits for data under 5 % of its time.
// Prints the numbers and appends one JSON line per measurement to benchmarks/data.jsonl.

import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { UsageError, WORKSPACE_ROOT, intFlag, parseFlags, runCli, userPath } from '@pixel-bert/spec';
import { estimate } from '@pixel-bert/eval';
import { collateImages, DecodedImageCache, encodePng, ImageLoader, loadImage, renderScene, rngFor, sampleScene } from '@pixel-bert/data';
import type { ImageBatch, ResizeSpec } from '@pixel-bert/data';
import { acceleratorStep, modelStep } from './bench-steps';
import type { BenchStep } from './bench-steps';

const USAGE = [
  'npx nx run data:bench [flags]',
  '  --images=N      test images per source (default 64)',
  '  --pairs=N       step pairs (pre-cached, loader-fed) per case (default 24)',
  '  --step=model|stand-in    model (default): the real Pixel-BERT step where the case has one;',
  '                  stand-in: the accelerator-bound stand-in everywhere (no tensorflow needed)',
  '  --cases=LIST    of small-world, small-jpeg, paper-jpeg (the default), paper-model (the real paper-size step:',
  '                  ~22 s and ~13 GB per image on 2 cores; try --pairs=4)',
  '  --workers=N     loader decoder processes (default 1)',
  '  --niceness=N    their CPU priority, 0–19 (default 19, the loader default)',
  '  --out=FILE      JSON lines go here (default benchmarks/data.jsonl)',
].join('\n');

const SIZES: Record<'small' | 'paper', ResizeSpec> = {
  small: { shortEdge: 128, longEdge: 128 },
  paper: { shortEdge: 800, longEdge: 1333 },
};

interface Case {
  name: string;
  size: 'small' | 'paper';
  source: 'world' | 'jpeg';
  batch: number;
  /** The stand-in's step time, where the stand-in runs. */
  standInMs: number;
  /** The real step's shape, where a real step is practical on a CPU. */
  model?: 'small' | 'paper';
  /** Run only when named in --cases. */
  optIn?: boolean;
}
// The real step at the paper size takes ~22 s per 800×1333 image on a 2-core CPU (and ~13 GB), so
// by default that size runs the accelerator-bound stand-in: 1.5 s per batch of 4, a fast
// accelerator's pace, with both cores free for decoding as on a GPU machine. `paper-model`
// runs the real paper-size step, one image per batch (minutes; opt-in).
const CASES: Case[] = [
  { name: 'small-world', size: 'small', source: 'world', batch: 32, standInMs: 250, model: 'small' },
  { name: 'small-jpeg', size: 'small', source: 'jpeg', batch: 32, standInMs: 250, model: 'small' },
  { name: 'paper-jpeg', size: 'paper', source: 'jpeg', batch: 4, standInMs: 1500 },
  { name: 'paper-model', size: 'paper', source: 'jpeg', batch: 1, standInMs: 1500, model: 'paper', optIn: true },
];

/** The generated world's images: scenes of the `small` scale rendered to 128-px PNGs, as data:synth writes them. */
async function makeWorldImages(dir: string, n: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const scene = sampleScene(rngFor(7, 'bench', i), { imageSize: 128, objectsMin: 2, objectsMax: 4 });
    const f = path.join(dir, `scene${String(i).padStart(4, '0')}.png`);
    writeFileSync(f, await encodePng(renderScene(scene), scene.width, scene.height));
    files.push(f);
  }
  return files;
}

/** COCO-like test images: 640×480 / 480×640 with smooth gradients, blocks and mild noise. */
async function makeImages(dir: string, n: number): Promise<string[]> {
  const files: string[] = [];
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < n; i++) {
    const [w, h] = i % 3 === 2 ? [480, 640] : [640, 480];
    const px = Buffer.alloc(w * h * 3);
    const bx = Math.floor(rand() * w * 0.6);
    const by = Math.floor(rand() * h * 0.6);
    const col = [rand() * 255, rand() * 255, rand() * 255];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inBlock = x > bx && x < bx + w / 3 && y > by && y < by + h / 3;
        const o = (y * w + x) * 3;
        for (let c = 0; c < 3; c++) {
          const base = inBlock ? col[c]! : ((x + y * (c + 1)) * 255) / (w + h * 3);
          px[o + c] = Math.max(0, Math.min(255, base + (rand() - 0.5) * 24));
        }
      }
    }
    const f = path.join(dir, `img${String(i).padStart(4, '0')}.jpg`);
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toFile(f);
    files.push(f);
  }
  return files;
}

/** Images/s decoding on this thread, `concurrency` images in flight (sharp runs libvips off-thread). */
async function mainThreadRate(files: string[], spec: ResizeSpec, concurrency: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < files.length; i += concurrency) await Promise.all(files.slice(i, i + concurrency).map((f) => loadImage(f, spec)));
  return files.length / ((performance.now() - t0) / 1000);
}

async function loaderRate(files: string[], spec: ResizeSpec, batch: number, workers: number, niceness: number): Promise<{ rate: number; startupS: number }> {
  // At least 6 batches, so the rate is measured over ≥ 5 after the first.
  const list = Array.from({ length: Math.max(files.length, 6 * batch) }, (_, i) => files[i % files.length]!);
  const t0 = performance.now();
  const loader = new ImageLoader({ files: list, batchSize: batch, resize: spec, workers, niceness, collate: { sizeDivisor: 32 } });
  let n = 0;
  let t1 = 0;
  for await (const b of loader) {
    if (!t1) t1 = performance.now();
    else n += b.batch;
  }
  // Exclude the decoders' start-up and the first batch (its decode overlaps the start-up).
  return { rate: n / ((performance.now() - t1) / 1000), startupS: (t1 - t0) / 1000 };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Paired steps: for each pair, one step on a pre-decoded batch with the decoder processes
 * stopped (SIGSTOP: no decoding at all beside it) and one fed by the loader with them running
 * (SIGCONT), in alternating order. The two steps of a pair share the machine's state of the
 * moment, so drift cancels in their ratio, and the spread of the ratios gives the uncertainty.
 * While stopped, decoders cannot work ahead: each loader step has about one step's time to
 * decode the next batch, as in steady-state training.
 */
async function stepComparison(files: string[], spec: ResizeSpec, batch: number, step: BenchStep, pairs: number, workers: number, niceness: number) {
  const batchOf = (k: number) => Array.from({ length: batch }, (_, j) => (k * batch + j) % files.length);
  const cached: ImageBatch[] = [];
  for (let k = 0; k < Math.min(pairs, Math.ceil(files.length / batch)); k++) {
    cached.push(collateImages(await Promise.all(batchOf(k).map((i) => loadImage(files[i]!, spec))), { sizeDivisor: 32 }));
  }
  const warm = 3;
  for (let k = 0; k < warm; k++) step.run(cached[k % cached.length]!, k);

  const schedule = Array.from({ length: 1 + pairs }, (_, k) => batchOf(k));
  const loader = new ImageLoader({ files, batches: schedule, resize: spec, workers, niceness, collate: { sizeDivisor: 32 } });
  const signal = (sig: 'SIGSTOP' | 'SIGCONT') => {
    for (const pid of loader.decoderPids) {
      try {
        process.kill(pid, sig);
      } catch (e) {
        // A decoder that died in between: the loader reports that (naming its files) on next().
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
  };
  try {
    const first = await loader.next(); // decoder start-up is not part of a step
    if (!first) throw new Error('loader produced no batch');
    let n = warm;
    const cachedMs: number[] = [];
    const loaderMs: number[] = [];
    const loaderRunMs: number[] = [];
    let waitMs = 0;
    const runCached = (k: number) => {
      signal('SIGSTOP');
      const t0 = performance.now();
      step.run(cached[k % cached.length]!, n++);
      cachedMs.push(performance.now() - t0);
      signal('SIGCONT');
    };
    const runLoader = async (k: number) => {
      const t0 = performance.now();
      const b = await loader.next();
      const t1 = performance.now();
      if (!b) throw new Error(`loader ended early at pair ${k + 1}`);
      step.run(b, n++);
      const t2 = performance.now();
      loaderMs.push(t2 - t0);
      loaderRunMs.push(t2 - t1);
      waitMs += t1 - t0;
    };
    for (let k = 0; k < pairs; k++) {
      if (k % 2 === 0) {
        runCached(k);
        await runLoader(k);
      } else {
        await runLoader(k);
        runCached(k);
      }
    }
    const ratio = estimate(loaderMs.map((l, k) => l / cachedMs[k]!));
    return {
      cached: { mean: mean(cachedMs), median: median(cachedMs) },
      loader: { mean: mean(loaderMs), median: median(loaderMs) },
      /** The loader-fed steps without their wait: the step's own slow-down from decoding beside it. */
      loaderRunMean: mean(loaderRunMs),
      waitMsPerStep: waitMs / loaderMs.length,
      ratio: ratio.mean,
      /** Standard error of the mean ratio. */
      se: ratio.stderr,
    };
  } finally {
    signal('SIGCONT'); // a stopped process would not act on close()'s SIGTERM
    await loader.close();
  }
}

await runCli(async () => {
  const values = parseFlags(
    process.argv.slice(2),
    {
      images: { type: 'string' },
      pairs: { type: 'string' },
      step: { type: 'string' },
      cases: { type: 'string' },
      workers: { type: 'string' },
      niceness: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(`usage: ${USAGE}`);
    return 0;
  }
  const nImages = intFlag('images', values.images, USAGE, { min: 1 }) ?? 64;
  const pairs = intFlag('pairs', values.pairs, USAGE, { min: 2 }) ?? 24;
  const workers = intFlag('workers', values.workers, USAGE, { min: 1 }) ?? 1;
  const niceness = intFlag('niceness', values.niceness, USAGE, { min: 0, max: 19 }) ?? 19;
  const stepKind = values.step ?? 'model';
  if (stepKind !== 'model' && stepKind !== 'stand-in') throw new UsageError(`--step must be model or stand-in, got "${stepKind}"\nusage: ${USAGE}`);
  const names = values.cases ? values.cases.split(',') : CASES.filter((c) => !c.optIn).map((c) => c.name);
  for (const n of names) if (!CASES.some((c) => c.name === n)) throw new UsageError(`--cases: unknown case "${n}"; expected some of ${CASES.map((c) => c.name).join(', ')}\nusage: ${USAGE}`);
  const cases = CASES.filter((c) => names.includes(c.name));

  const out = values.out ? userPath(values.out) : path.join(WORKSPACE_ROOT, 'benchmarks', 'data.jsonl');
  mkdirSync(path.dirname(out), { recursive: true });
  const env = { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', loadavg1: loadavg()[0], node: process.version, sharp: sharp.versions.sharp, vips: sharp.versions.vips };
  const date = new Date().toISOString();
  const record = (r: Record<string, unknown>) => appendFileSync(out, JSON.stringify({ bench: 'data', date, ...r, env }) + '\n');

  const dir = mkdtempSync(path.join(tmpdir(), 'pb-data-bench-'));
  try {
    console.log(`data:bench: ${env.cpus} CPU(s) (${env.cpu}), load average ${env.loadavg1?.toFixed(1)}, node ${env.node}, sharp ${env.sharp} / libvips ${env.vips}`);
    process.stdout.write(`generating ${nImages} COCO-like JPEGs (640×480 and 480×640) and ${nImages} generated-world scenes (128-px PNG) in ${dir} … `);
    mkdirSync(path.join(dir, 'jpeg'));
    mkdirSync(path.join(dir, 'world'));
    const sources = { jpeg: await makeImages(path.join(dir, 'jpeg'), nImages), world: await makeWorldImages(path.join(dir, 'world'), nImages) };
    console.log('done');

    console.log(`\ndecode + resize + normalise throughput (images/s; loader: ${workers} decoder process(es) at niceness ${niceness}, on an idle machine)`);
    const measured = new Set<string>();
    for (const c of cases) {
      if (measured.has(`${c.source}/${c.size}`)) continue;
      measured.add(`${c.source}/${c.size}`);
      const files = sources[c.source];
      const spec = SIZES[c.size];
      await mainThreadRate(files.slice(0, 4), spec, 4); // warm libvips
      const main1 = await mainThreadRate(files, spec, 1);
      const main4 = await mainThreadRate(files, spec, 4);
      const viaLoader = await loaderRate(files, spec, c.batch, workers, niceness);
      // The alternative feed: decode once into 8-bit memory, then assemble batches per step.
      const cache = await DecodedImageCache.build(files, spec);
      const reps = 10;
      const tc = performance.now();
      for (let k = 0; k < reps; k++) cache.batch(Array.from({ length: c.batch }, (_, j) => (k * c.batch + j) % files.length), { sizeDivisor: 32 });
      const cacheBatchMs = (performance.now() - tc) / reps;
      console.log(
        `  ${c.name.padEnd(11)} ${spec.shortEdge}/${spec.longEdge}: main thread ${main1.toFixed(1)} (1 in flight), ${main4.toFixed(1)} (4 in flight); ` +
          `loader ${viaLoader.rate.toFixed(1)} (batch ${c.batch}) after ${viaLoader.startupS.toFixed(1)} s start-up; ` +
          `decoded cache ${(cache.bytes / files.length / 1024).toFixed(0)} KiB/image, a batch assembled in ${cacheBatchMs.toFixed(1)} ms`,
      );
      record({ kind: 'decode-throughput', case: c.name, source: c.source, size: c.size, shortEdge: spec.shortEdge, longEdge: spec.longEdge, images: nImages, mainThread1: main1, mainThread4: main4, loader: viaLoader.rate, loaderWorkers: workers, niceness, loaderStartupS: viaLoader.startupS, cacheKiBPerImage: cache.bytes / files.length / 1024, cacheBatchMs });
    }

    console.log(`\ntraining step fed by the loader vs pre-cached batches (${pairs} pairs of steps after 3 warm-up steps; decoders stopped during the pre-cached step of each pair)`);
    let allPass = true;
    const real = new Map<string, BenchStep>();
    for (const c of cases) {
      const files = sources[c.source];
      const spec = SIZES[c.size];
      let step: BenchStep;
      const key = `${c.model}/${c.batch}`;
      if (stepKind === 'model' && c.model) step = real.get(key) ?? real.set(key, await modelStep(c.batch, c.model)).get(key)!;
      else step = acceleratorStep(c.standInMs);
      const r = await stepComparison(files, spec, c.batch, step, pairs, workers, niceness);
      const waitFrac = r.waitMsPerStep / r.cached.mean;
      // Within 5 % and not waiting; clearly over when even the low end of the ratio's 95 % range is.
      const pass = r.ratio <= 1.05 && waitFrac <= 0.05;
      const verdict = pass ? 'PASS' : waitFrac > 0.05 || r.ratio - 2 * r.se > 1.05 ? 'FAIL' : 'INCONCLUSIVE (over 5 %, within the uncertainty)';
      allPass &&= pass;
      const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
      console.log(
        `  ${c.name.padEnd(11)} batch ${c.batch}, ${step.describe}:\n` +
          `              pre-cached ${r.cached.mean.toFixed(1)} ms/step (median ${r.cached.median.toFixed(1)}), loader ${r.loader.mean.toFixed(1)} ms/step (median ${r.loader.median.toFixed(1)}); ` +
          `paired ratio ${pct(r.ratio - 1)} ± ${(2 * r.se * 100).toFixed(1)} % (95 %); waiting for data ${r.waitMsPerStep.toFixed(2)} ms/step (${(waitFrac * 100).toFixed(2)} %), ` +
          `the step itself ${r.loaderRunMean.toFixed(1)} ms → ${verdict}`,
      );
      record({ kind: 'step-vs-cached', case: c.name, source: c.source, size: c.size, batch: c.batch, step: step.describe, backend: step.backend, pairs, cachedMsMean: r.cached.mean, cachedMsMedian: r.cached.median, loaderMsMean: r.loader.mean, loaderMsMedian: r.loader.median, loaderRunMsMean: r.loaderRunMean, waitMsPerStep: r.waitMsPerStep, waitFraction: waitFrac, ratio: r.ratio, ratioSe: r.se, pass, verdict, loaderWorkers: workers, niceness });
    }
    console.log(`\nresults appended to ${out}`);
    return allPass ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
