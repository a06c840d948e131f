/**
 * Table 6 from row runs: per scale, per row, the finished runs of one configuration (spec hash and
 * code version), one per seed, summarised over seeds; everything else listed and flagged.
 */
import { CANONICAL_TOGGLES, COLUMNS, PER_TYPE_METRICS, ROW_NUMBERS, type ColumnKey, type RowNumber, type Toggles } from './definitions';
import { evaluateFindings, type FindingResult } from './findings';
import type { RowRun } from './runs';
import { summarize, welch, type Summary } from './stats';

/** Finished runs of one row with one configuration (spec less seed) and code version: the seeds that are averaged. */
export interface RunGroup {
  /** RowRun.configHash: the resolved spec without its seed. */
  configHash: string;
  codeVersion: string;
  /** One run per seed (the newest when a seed ran more than once), by seed. */
  runs: RowRun[];
  /** Older runs of a seed that a newer one replaced. */
  superseded: RowRun[];
}

export interface TableRow {
  row: RowNumber;
  /** From the counted runs' params; the canonical row's when no run is there. */
  toggles: Toggles;
  /** The configuration averaged into the table; null: missing. */
  group: RunGroup | null;
  /** Other configurations of this row (other spec hash or code version): never averaged in, listed. */
  others: RunGroup[];
  /** Column key → summary over the group's seeds (n = 0: missing). */
  cells: Record<string, Summary>;
  flags: string[];
}

export interface PerTypeRow {
  task: string;
  type: string;
  metric: string;
  cells: Record<RowNumber, Summary>;
  /** Effects of pre-training choices on this type: b − a over seeds, with Welch's 95 % CI (n ≥ 2). */
  effects: { label: string; a: RowNumber; b: RowNumber; diff: number | null; ci95: [number, number] | null }[];
}

export interface ScaleTable {
  scale: string;
  rows: TableRow[];
  findings: FindingResult[];
  perType: PerTypeRow[];
  /** Reference levels the runs logged for their own test splits (chance, counting), over every counted run. */
  baselines: { label: string; metric: string; summary: Summary }[];
  /** Runs not counted: unfinished (RUNNING), failed or killed, or without a valid row / seed tag. */
  excluded: { run: RowRun; reason: string }[];
  flags: string[];
}

export const PER_TYPE_EFFECTS: { label: string; a: RowNumber; b: RowNumber }[] = [
  { label: 'MLM (2 − 1)', a: 1, b: 2 },
  { label: 'ITM (3 − 1)', a: 1, b: 3 },
  { label: 'MLM+ITM (4 − 1)', a: 1, b: 4 },
  { label: 'sampling (5 − 4)', a: 4, b: 5 },
];

function groupRuns(runs: RowRun[]): RunGroup[] {
  const byKey = new Map<string, RowRun[]>();
  for (const r of runs) {
    const key = `${r.configHash}\u0000${r.codeVersion}`;
    byKey.set(key, [...(byKey.get(key) ?? []), r]);
  }
  const groups: RunGroup[] = [];
  for (const list of byKey.values()) {
    const bySeed = new Map<number, RowRun[]>();
    for (const r of list) bySeed.set(r.seed!, [...(bySeed.get(r.seed!) ?? []), r]);
    const chosen: RowRun[] = [];
    const superseded: RowRun[] = [];
    for (const [, rs] of [...bySeed].sort((x, y) => x[0] - y[0])) {
      const sorted = [...rs].sort((x, y) => y.startTime - x.startTime);
      chosen.push(sorted[0]!);
      superseded.push(...sorted.slice(1));
    }
    groups.push({ configHash: list[0]!.configHash, codeVersion: list[0]!.codeVersion, runs: chosen, superseded });
  }
  // The configuration with the most seeds is the row's; ties go to the newest run.
  const newest = (g: RunGroup) => Math.max(...g.runs.map((r) => r.startTime));
  return groups.sort((x, y) => y.runs.length - x.runs.length || newest(y) - newest(x));
}

/** A metric over the runs that have it, with its test-item standard error (`<metric>_se`) where they report one. */
function cellOf(runs: readonly RowRun[], metric: string): Summary {
  const having = runs.filter((r) => metric in r.metrics);
  return summarize(
    having.map((r) => r.metrics[metric]!),
    having.flatMap((r) => (`${metric}_se` in r.metrics ? [r.metrics[`${metric}_se`]!] : [])),
  );
}

const short = (h: string) => (/^[0-9a-f]{16,}$/.test(h) ? h.slice(0, 12) : h);

function sameToggles(a: Toggles, b: Omit<Toggles, 'arch'>): boolean {
  return a.mlm === b.mlm && a.itm === b.itm && a.sampling === b.sampling && a.backbone === b.backbone;
}

function buildRow(row: RowNumber, runs: RowRun[]): TableRow {
  const groups = groupRuns(runs);
  const group = groups[0] ?? null;
  const others = groups.slice(1);
  const flags: string[] = [];
  const cells: Record<string, Summary> = {};
  for (const c of COLUMNS) cells[c.key] = cellOf(group?.runs ?? [], c.metric);
  let toggles: Toggles = { ...CANONICAL_TOGGLES[row], arch: null };
  if (group) {
    toggles = group.runs[0]!.toggles;
    if (!sameToggles(toggles, CANONICAL_TOGGLES[row])) {
      flags.push(`toggles differ from experiments/table6/row${row}.yaml (a --set override?): ${JSON.stringify(toggles)}`);
    }
    for (const c of COLUMNS.filter((c) => c.main)) {
      const lacking = group.runs.filter((r) => !(c.metric in r.metrics));
      if (lacking.length > 0) flags.push(`${lacking.length} run(s) lack ${c.metric}: ${lacking.map((r) => r.runName).join(', ')} (shown as missing, not zero)`);
    }
    if (group.superseded.length > 0) {
      flags.push(`${group.superseded.length} older run(s) of the same seed replaced by newer ones: ${group.superseded.map((r) => `${r.runName} (${r.runId})`).join(', ')}`);
    }
  }
  for (const g of others) {
    flags.push(
      `not averaged in: ${g.runs.length} run(s) with spec ${short(g.configHash)} / code ${short(g.codeVersion)} ` +
        `(the table uses spec ${short(group!.configHash)} / code ${short(group!.codeVersion)}; spec = hash of the resolved spec less its seed): ` +
        g.runs.map((r) => r.runName).join(', '),
    );
  }
  return { row, toggles, group, others, cells, flags };
}

function perTypeRows(rows: TableRow[]): PerTypeRow[] {
  const out: PerTypeRow[] = [];
  for (const { task, prefix } of PER_TYPE_METRICS) {
    const types = new Set<string>();
    for (const r of rows) for (const run of r.group?.runs ?? []) for (const k of Object.keys(run.metrics)) {
      if (k.startsWith(prefix + '.')) {
        const type = k.slice(prefix.length + 1);
        if (/^[a-z0-9_-]+$/i.test(type) && !type.endsWith('_se') && type !== 'n') types.add(type);
      }
    }
    for (const type of [...types].sort()) {
      const metric = `${prefix}.${type}`;
      const cells = {} as Record<RowNumber, Summary>;
      for (const r of rows) cells[r.row] = cellOf(r.group?.runs ?? [], metric);
      const effects = PER_TYPE_EFFECTS.map((e) => {
        const t = welch(cells[e.a], cells[e.b]);
        const ma = cells[e.a].mean;
        const mb = cells[e.b].mean;
        return { ...e, diff: ma !== null && mb !== null ? mb - ma : null, ci95: t ? t.ci95 : null };
      });
      out.push({ task, type, metric, cells, effects });
    }
  }
  return out;
}

/** Reference levels shown beside the table when the runs logged them (docs/runs.md). */
export const BASELINES: { label: string; metric: string }[] = [
  { label: 'VQA chance (the most frequent training answer)', metric: 'vqa.test.chance' },
  { label: 'TR R@1 chance', metric: 'retrieval.test.chance.tr_r1' },
  { label: 'IR R@1 chance', metric: 'retrieval.test.chance.ir_r1' },
  { label: 'TR R@1 of counting the objects alone', metric: 'retrieval.test.counting.tr_r1' },
  { label: 'IR R@1 of counting the objects alone', metric: 'retrieval.test.counting.ir_r1' },
];

function baselinesOf(rows: TableRow[]): ScaleTable['baselines'] {
  const runs = rows.flatMap((r) => r.group?.runs ?? []);
  return BASELINES.map((b) => ({ ...b, summary: cellOf(runs, b.metric) })).filter((b) => b.summary.n > 0);
}

/** Builds one table per scale (sorted smoke, small, paper, then others). */
export function buildTables(runs: readonly RowRun[]): ScaleTable[] {
  const order = ['smoke', 'small', 'paper'];
  const scales = [...new Set(runs.map((r) => r.scale))].sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  return scales.map((scale) => buildTable(scale, runs.filter((r) => r.scale === scale)));
}

export function buildTable(scale: string, runs: readonly RowRun[]): ScaleTable {
  const excluded: ScaleTable['excluded'] = [];
  const counted: RowRun[] = [];
  for (const r of runs) {
    if (r.status !== 'FINISHED') excluded.push({ run: r, reason: `status ${r.status}: not counted` });
    else if (r.row === null || !(ROW_NUMBERS as readonly number[]).includes(r.row)) excluded.push({ run: r, reason: 'no valid pixelbert.row tag (1–6)' });
    else if (r.seed === null) excluded.push({ run: r, reason: 'no valid pixelbert.seed tag' });
    else counted.push(r);
  }
  const rows = ROW_NUMBERS.map((row) => buildRow(row, counted.filter((r) => r.row === row)));
  const flags: string[] = [];
  const versions = new Set(rows.flatMap((r) => (r.group ? [r.group.codeVersion] : [])));
  if (versions.size > 1) {
    flags.push(`rows come from different code versions (${[...versions].map(short).join(', ')}): differences between rows may be code changes, not ablations`);
  }
  const missing = rows.filter((r) => !r.group).map((r) => r.row);
  if (missing.length > 0) flags.push(`row(s) ${missing.join(', ')} have no finished run at ${scale} scale (shown as missing)`);
  const cell = (row: RowNumber, column: ColumnKey) => rows[row - 1]!.cells[column] ?? null;
  return { scale, rows, findings: evaluateFindings(cell, scale), perType: perTypeRows(rows), baselines: baselinesOf(rows), excluded, flags };
}
