/**
 * The Table 6 chart: a vega-lite spec (bars = mean over seeds, whiskers = ± std, one panel per
 * metric and scale), rendered server-side: vega → SVG → PNG with resvg (system fonts).
 */
// vega, vega-lite and resvg load on first use: importing @pixel-bert/eval for its metrics (train does) stays light.
import type * as vl from 'vega-lite';
import type { ScaleTable } from './build';
import { COLUMNS } from './definitions';

export interface ChartDatum {
  scale: string;
  metric: string;
  row: string;
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

export function chartData(tables: readonly ScaleTable[]): ChartDatum[] {
  const out: ChartDatum[] = [];
  for (const t of tables) {
    for (const c of COLUMNS.filter((c) => c.main)) {
      for (const r of t.rows) {
        const s = r.cells[c.key]!;
        if (s.mean === null) continue; // missing stays missing: no bar
        const sd = s.std ?? 0;
        out.push({ scale: t.scale, metric: c.label, row: `row ${r.row}`, mean: s.mean, lo: s.mean - sd, hi: s.mean + sd, n: s.n });
      }
    }
  }
  return out;
}

const ROWS = ['row 1', 'row 2', 'row 3', 'row 4', 'row 5', 'row 6'];

/** One panel per metric of one scale (a 2-D facet misplaces sparse cells, so scales are stacked instead). */
function scalePanel(scale: string, data: ChartDatum[]) {
  const metrics = COLUMNS.filter((c) => c.main).map((c) => c.label);
  const x = { field: 'row', type: 'ordinal', sort: ROWS, title: null, scale: { domain: ROWS } } as const;
  return {
    title: { text: `scale: ${scale}`, anchor: 'start' as const },
    data: { values: data },
    facet: { column: { field: 'metric', type: 'nominal' as const, sort: metrics, title: null } },
    spec: {
      width: 150,
      height: 160,
      layer: [
        {
          mark: { type: 'bar' as const },
          encoding: {
            x,
            y: { field: 'mean', type: 'quantitative' as const, title: '%', scale: { domain: [0, 100] } },
            color: { field: 'row', type: 'nominal' as const, sort: ROWS, legend: null, scale: { scheme: 'tableau10', domain: ROWS } },
          },
        },
        { mark: { type: 'rule' as const, strokeWidth: 1.5 }, encoding: { x, y: { field: 'lo', type: 'quantitative' as const }, y2: { field: 'hi' } } },
        {
          mark: { type: 'text' as const, dy: -8, fontSize: 9 },
          encoding: { x, y: { field: 'hi', type: 'quantitative' as const }, text: { field: 'n', type: 'quantitative' as const, format: 'd' } },
        },
      ],
    },
  };
}

export function chartSpec(data: ChartDatum[]): vl.TopLevelSpec {
  const scales = [...new Set(data.map((d) => d.scale))];
  const common = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: { font: 'DejaVu Sans', background: 'white' } };
  if (scales.length === 0) {
    return {
      ...common,
      data: { values: [{ text: 'no finished run has a Table 6 metric' }] },
      mark: { type: 'text', fontSize: 14 },
      encoding: { text: { field: 'text', type: 'nominal' } },
      width: 400,
      height: 60,
    } as vl.TopLevelSpec;
  }
  return {
    ...common,
    title: { text: 'Table 6 from tracked runs: mean ± std over seeds (%); n above each bar' },
    vconcat: scales.map((s) => scalePanel(s, data.filter((d) => d.scale === s))),
  } as vl.TopLevelSpec;
}

export async function renderChartSvg(tables: readonly ScaleTable[]): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile(chartSpec(chartData(tables))).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function svgToPng(svg: string, zoom = 2): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: zoom },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
