// How the `small` pre-training step's cost grows, from train:bench's sweep lines in
// benchmarks/train.jsonl: step time of ours and of the PyTorch peer against image size, text
// length, sampled pixels and batch size (one axis varied at a time around the small shape), as a
// markdown table on stdout and a PNG chart (vega-lite rendered by resvg).
//
//   npx tsx tools/perf-chart.ts [--since=ISO-DATE] [--until=ISO-DATE] [--backend=tensorflow] [--peer-label=PyTorch] [--out=docs/performance-cost.png]
// The sweep: npx nx run train:bench --stage=pretrain --steps=1 --rounds=2 --curve=0 --image=96 (and
// --image=160, --tokens=12/32, --pixels=13/64, --batch=16/64); the centre point is the plain run.
import * as fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
const since = arg('since', '1970-01-01');
const until = arg('until', '9999');
const backend = arg('backend', 'tensorflow');
const peerLabel = arg('peer-label', 'PyTorch');
const out = path.resolve(root, arg('out', 'docs/performance-cost.png'));

interface Line {
  bench: string;
  date: string;
  scale: string;
  stage: string;
  sizes?: Record<string, number>;
  shape: Record<string, number | string>;
  ours: { backend: string; step_ms: number; samples_per_s: number };
  pytorch?: { step_ms: number; samples_per_s: number };
  ratio?: number;
  loadavg: { min: number; max: number };
}

const CENTRE = { image: 128, tokens: 20, pixels: 26, batch: 32 } as const;
type Axis = keyof typeof CENTRE;

const lines = fs
  .readFileSync(path.join(root, 'benchmarks', 'train.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Line)
  .filter((l) => l.bench === 'train-step' && l.scale === 'small' && l.stage === 'pretrain' && l.ours.backend === backend && l.date >= since && l.date <= until && l.pytorch);

// The latest line per point: the centre (no sizes) and each (axis, value).
const points = new Map<string, Line>();
for (const l of lines) {
  const s = l.sizes ?? {};
  const keys = Object.keys(s);
  if (keys.length > 1) continue;
  points.set(keys.length ? `${keys[0]}=${s[keys[0]!]}` : 'centre', l);
}
const centre = points.get('centre');
const rows: { axis: Axis; value: number; side: string; ms: number; ratio: number; load: string }[] = [];
for (const axis of Object.keys(CENTRE) as Axis[]) {
  const pts = [...points.entries()].filter(([k]) => k.startsWith(`${axis}=`)).map(([k, l]) => [Number(k.split('=')[1]), l] as const);
  if (centre) pts.push([CENTRE[axis], centre]);
  for (const [value, l] of pts.sort((a, b) => a[0] - b[0])) {
    const load = `${l.loadavg.min}–${l.loadavg.max}`;
    rows.push({ axis, value, side: `ours (${backend})`, ms: l.ours.step_ms, ratio: l.ratio ?? NaN, load });
    rows.push({ axis, value, side: peerLabel, ms: l.pytorch!.step_ms, ratio: l.ratio ?? NaN, load });
  }
}
if (rows.length === 0) {
  console.error(`perf-chart: no small pretrain sweep lines for ${backend} since ${since} in benchmarks/train.jsonl`);
  process.exit(1);
}

const NAMES: Record<Axis, string> = { image: 'image side (px)', tokens: 'text length (tokens)', pixels: 'sampled pixels', batch: 'batch (examples)' };
console.log('| axis | value | ours step (ms) | PyTorch step (ms) | ours / PyTorch throughput | load average |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (let i = 0; i < rows.length; i += 2) {
  const a = rows[i]!;
  const b = rows[i + 1]!;
  console.log(`| ${NAMES[a.axis]} | ${a.value}${a.value === CENTRE[a.axis] ? ' (small)' : ''} | ${a.ms} | ${b.ms} | ${a.ratio.toFixed(2)}× | ${a.load} |`);
}

async function chart(): Promise<void> {
  const [vega, vegaLite, { Resvg }] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]);
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: { font: 'DejaVu Sans', background: 'white' },
    title: `small pre-training step (fwd+bwd+update): ours (${backend}) and PyTorch, one axis varied at a time`,
    data: { values: rows.map((r) => ({ ...r, axis: NAMES[r.axis] })) },
    facet: { field: 'axis', type: 'nominal', title: null },
    columns: 4,
    resolve: { scale: { x: 'independent' } },
    spec: {
      width: 220,
      height: 200,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        y: { field: 'ms', type: 'quantitative', title: 'step (ms)' },
        color: { field: 'side', type: 'nominal', title: null },
      },
    },
  };
  const compiled = vegaLite.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  fs.writeFileSync(out, png);
  console.error(`wrote ${path.relative(process.cwd(), out)}`);
}

await chart();
