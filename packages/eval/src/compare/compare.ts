/**
 * eval:compare — two runs side by side: the keys in which their resolved specs differ (params are
 * the flattened spec) and every final metric of both with its delta (B − A).
 */
import { TAGS, type TrackedRun } from '@pixel-bert/tracking';
import { EvalError, getRun, openForReading, type TrackerChoice } from '../store';
import { RUN_KINDS, RUN_TAGS } from '../table6/definitions';

export interface SpecDifference {
  key: string;
  /** null: the run has no such param. */
  a: string | null;
  b: string | null;
}

export interface MetricComparison {
  key: string;
  a: number | null;
  b: number | null;
  /** b − a; null when either is missing. */
  delta: number | null;
}

export interface Comparison {
  a: TrackedRun;
  b: TrackedRun;
  specDifferences: SpecDifference[];
  metrics: MetricComparison[];
}

export function compareRuns(a: TrackedRun, b: TrackedRun): Comparison {
  const keys = [...new Set([...Object.keys(a.params), ...Object.keys(b.params)])].sort();
  const specDifferences = keys
    .map((key) => ({ key, a: a.params[key] ?? null, b: b.params[key] ?? null }))
    .filter((d) => d.a !== d.b);
  const mkeys = [...new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)])].sort();
  const metrics = mkeys.map((key) => {
    const va = key in a.metrics ? a.metrics[key]! : null;
    const vb = key in b.metrics ? b.metrics[key]! : null;
    return { key, a: va, b: vb, delta: va !== null && vb !== null ? vb - va : null };
  });
  return { a, b, specDifferences, metrics };
}

const num = (x: number | null) => (x === null ? '—' : Number.isInteger(x) ? String(x) : x.toFixed(4).replace(/0+$/, '').replace(/\.$/, ''));
const cell = (s: string | null) => (s === null ? '—' : s.replace(/\|/g, '\\|'));

export function renderComparison(c: Comparison): string {
  const name = (r: TrackedRun) => `${r.runName} (${r.runId}, ${r.status})`;
  const out = [`# Comparing runs`, '', `- A: ${name(c.a)}`, `- B: ${name(c.b)}`, '', `## Spec differences (${c.specDifferences.length} keys)`, ''];
  if (c.specDifferences.length === 0) out.push('The resolved specs are the same.', '');
  else out.push('| key | A | B |', '| --- | --- | --- |', ...c.specDifferences.map((d) => `| ${d.key} | ${cell(d.a)} | ${cell(d.b)} |`), '');
  out.push(`## Final metrics (${c.metrics.length})`, '');
  if (c.metrics.length === 0) out.push('Neither run has metrics.', '');
  else {
    out.push('| metric | A | B | B − A |', '| --- | --- | --- | --- |');
    for (const m of c.metrics) out.push(`| ${m.key} | ${num(m.a)} | ${num(m.b)} | ${m.delta === null ? '—' : `${m.delta >= 0 ? '+' : ''}${num(m.delta)}`} |`);
    out.push('');
  }
  return out.join('\n');
}

export interface CompareOptions extends TrackerChoice {
  runs?: [string, string];
  rows?: [number, number];
  seed?: number;
  scale?: string;
}

/** Resolves the two runs (by id, or the newest finished row runs of a seed both rows have) and compares them. */
export async function compare(opts: CompareOptions): Promise<Comparison> {
  const { tracker, experiment } = await openForReading(opts);
  if (opts.runs) {
    const [a, b] = await Promise.all(opts.runs.map((id) => getRun(tracker, id)));
    return compareRuns(a!, b!);
  }
  if (!opts.rows) throw new EvalError('compare: give --runs=A,B or --rows=R1,R2');
  const where = `${tracker.describe()}, experiment '${experiment}'`;
  const rowRuns = async (row: number) => {
    const tags: Record<string, string> = { [RUN_TAGS.kind]: RUN_KINDS.row, [TAGS.row]: String(row) };
    if (opts.scale) tags[TAGS.scale] = opts.scale;
    if (opts.seed !== undefined) tags[TAGS.seed] = String(opts.seed);
    return tracker.findRuns({ tags, status: 'FINISHED' });
  };
  const [ra, rb] = await Promise.all(opts.rows.map(rowRuns));
  const what = `${opts.scale ? ` at scale ${opts.scale}` : ''}${opts.seed !== undefined ? ` with seed ${opts.seed}` : ''}`;
  for (const [row, runs] of [[opts.rows[0], ra!], [opts.rows[1], rb!]] as const) {
    if (runs.length === 0) throw new EvalError(`no finished run of row ${row}${what} in ${where} (looked for tags pixelbert.kind=row, pixelbert.row=${row}${opts.scale ? `, pixelbert.scale=${opts.scale}` : ''}${opts.seed !== undefined ? `, pixelbert.seed=${opts.seed}` : ''})`);
  }
  const scales = new Set([...ra!, ...rb!].map((r) => r.tags[TAGS.scale]));
  if (!opts.scale && scales.size > 1) throw new EvalError(`rows ${opts.rows.join(' and ')} have runs at several scales (${[...scales].join(', ')}): say which with --scale`);
  // The newest finished run of each row, of a seed both rows have (runs come newest first).
  const seedsB = new Set(rb!.map((r) => r.tags[TAGS.seed]));
  const a = ra!.find((r) => seedsB.has(r.tags[TAGS.seed]));
  if (!a) {
    throw new EvalError(
      `rows ${opts.rows.join(' and ')} have no seed in common${what} (row ${opts.rows[0]}: seeds ${[...new Set(ra!.map((r) => r.tags[TAGS.seed]))].join(', ')}; ` +
        `row ${opts.rows[1]}: ${[...seedsB].join(', ')}); pick runs with --runs=A,B`,
    );
  }
  const b = rb!.find((r) => r.tags[TAGS.seed] === a.tags[TAGS.seed])!;
  return compareRuns(a, b);
}
