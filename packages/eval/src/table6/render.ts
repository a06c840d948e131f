/**
 * Table 6 as Markdown (stdout), CSV and JSON. Missing is "—" (CSV: empty), never 0.
 */
import type { ScaleTable, TableRow } from './build';
import { COLUMNS, PAPER_REFERENCE, PAPER_SOURCE, REFERENCE_FOR_ROW, type Toggles } from './definitions';
import { NLVR2_CONVERGED_MARGIN, VERDICT_ALPHA } from './findings';
import type { Summary } from './stats';

export const MISSING = '—';

export function fmtNum(x: number): string {
  return x.toFixed(2);
}

/** "mean ± std (n=k)"; n = 1 has no std; missing is "—". */
export function fmtCell(s: Summary | undefined): string {
  if (!s || s.n === 0 || s.mean === null) return MISSING;
  if (s.std === null) return `${fmtNum(s.mean)} (n=1)`;
  return `${fmtNum(s.mean)} ± ${fmtNum(s.std)} (n=${s.n})`;
}

const tick = (b: boolean | null) => (b === null ? '?' : b ? '✓' : '');

export function toggleCells(t: Toggles): string[] {
  return [tick(t.mlm), tick(t.itm), tick(t.sampling), t.backbone ? `${t.backbone}${t.arch && t.arch !== t.backbone ? ` (${t.arch})` : ''}` : '?'];
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(mdEscape).join(' | ')} |`)].join('\n');
}

export function referenceLine(t: ScaleTable, row: TableRow): string[] | null {
  const which = REFERENCE_FOR_ROW[row.row];
  if (t.scale !== 'paper' || !which) return null;
  const main = COLUMNS.filter((c) => c.main);
  return main.map((c) => {
    const refs = PAPER_REFERENCE.filter((r) => r.column === c.key);
    return refs.map((r) => `${r[which]} (${r.on})`).join('; ') || MISSING;
  });
}

/** "Reference levels on the runs' own test splits: …", or null when no run logged one. */
export function baselineText(t: ScaleTable): string | null {
  if (t.baselines.length === 0) return null;
  const one = (s: ScaleTable['baselines'][number]['summary']) => (s.std !== null && s.std > 0.005 ? `${fmtNum(s.mean!)} ± ${fmtNum(s.std)}` : fmtNum(s.mean!));
  return `Reference levels on the runs' own test splits (mean over the counted runs that logged them): ${t.baselines.map((b) => `${b.label} ${one(b.summary)}`).join('; ')}.`;
}

export function renderMarkdown(tables: readonly ScaleTable[], opts: { source: string }): string {
  const out: string[] = [`# Table 6 from tracked runs`, '', `Runs read from ${opts.source}.`, ''];
  const main = COLUMNS.filter((c) => c.main);
  for (const t of tables) {
    out.push(`## Scale \`${t.scale}\``, '');
    const rows: string[][] = [];
    for (const r of t.rows) {
      rows.push([String(r.row), ...toggleCells(r.toggles), ...main.map((c) => fmtCell(r.cells[c.key]))]);
      const ref = referenceLine(t, r);
      if (ref) rows.push([`paper ${r.row}`, '', '', '', REFERENCE_FOR_ROW[r.row] === 'r50' ? 'ResNet-50' : 'ResNeXt-152', ...ref]);
    }
    out.push(mdTable(['row', 'MLM', 'ITM', 'sampling', 'backbone', ...main.map((c) => c.label)], rows), '');
    out.push(`Mean ± standard deviation over seeds (n = seeds), in percent; ${MISSING} = no finished run with that metric.`, '');
    const base = baselineText(t);
    if (base) out.push(base, '');
    if (t.scale === 'paper') out.push(`Paper rows: Pixel-BERT's full models (${PAPER_SOURCE}).`, '');
    out.push(`### Findings of the paper (Section 4.5)`, '');
    out.push(
      mdTable(
        ['finding', 'verdict', 'evidence'],
        t.findings.map((f) => [f.finding.claim, f.verdict.toUpperCase(), f.checks.map((c) => c.reason).join('; ')]),
      ),
      '',
    );
    out.push(
      `Test: Welch's t over seeds, one-sided at α = ${VERDICT_ALPHA} each way, each row's variance = spread over seeds + the test set's own error (the runs' _se); ` +
        `NLVR² convergence: one-sample t against chance + ${NLVR2_CONVERGED_MARGIN}; ` +
        `thresholds in packages/eval/src/table6/findings.ts.`,
      '',
    );
    if (t.perType.length > 0) {
      out.push(`### Per question / statement / caption type`, '');
      const effects = t.perType[0]!.effects.map((e) => e.label);
      out.push(
        mdTable(
          ['task', 'type', ...t.rows.map((r) => `row ${r.row}`), ...effects.map((e) => `Δ ${e}`)],
          t.perType.map((p) => [
            p.task,
            p.type,
            ...t.rows.map((r) => fmtCell(p.cells[r.row])),
            ...p.effects.map((e) =>
              e.diff === null ? MISSING : `${e.diff >= 0 ? '+' : ''}${fmtNum(e.diff)}${e.ci95 ? ` [${fmtNum(e.ci95[0])}, ${fmtNum(e.ci95[1])}]` : ''}`,
            ),
          ]),
        ),
        '',
      );
      out.push('Δ: difference of means over seeds, with Welch 95 % CI when both rows have n ≥ 2.', '');
    }
    const notes = [...t.flags, ...t.rows.flatMap((r) => r.flags.map((f) => `row ${r.row}: ${f}`))];
    if (notes.length > 0) out.push(`### Flags`, '', ...notes.map((n) => `- ${n}`), '');
    if (t.excluded.length > 0) {
      out.push(`### Runs not counted`, '', ...t.excluded.map((e) => `- ${e.run.runName} (${e.run.runId}): ${e.reason}`), '');
    }
  }
  return out.join('\n');
}

function csvField(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One line per (scale, row): toggles, then mean, std, n of every column. */
export function renderCsv(tables: readonly ScaleTable[]): string {
  const header = ['scale', 'row', 'mlm', 'itm', 'sampling', 'backbone', 'arch', 'config_hash', 'code_version', 'seeds'];
  for (const c of COLUMNS) header.push(`${c.key}_mean`, `${c.key}_std`, `${c.key}_n`);
  const lines = [header.join(',')];
  const b = (x: boolean | null) => (x === null ? '' : String(x));
  for (const t of tables) {
    for (const r of t.rows) {
      const fields = [
        t.scale,
        String(r.row),
        b(r.toggles.mlm),
        b(r.toggles.itm),
        b(r.toggles.sampling),
        r.toggles.backbone ?? '',
        r.toggles.arch ?? '',
        r.group?.configHash ?? '',
        r.group?.codeVersion ?? '',
        r.group ? r.group.runs.map((x) => x.seed).join(' ') : '',
      ];
      for (const c of COLUMNS) {
        const s = r.cells[c.key]!;
        fields.push(s.mean === null ? '' : String(s.mean), s.std === null ? '' : String(s.std), String(s.n));
      }
      lines.push(fields.map(csvField).join(','));
    }
  }
  return lines.join('\n') + '\n';
}

/** Everything, machine-readable: tables, per-seed values, verdicts with their numbers, the method and the paper's numbers. */
export function toJson(tables: readonly ScaleTable[], meta: Record<string, unknown>): object {
  return {
    ...meta,
    method: {
      test:
        "Welch's t test over seeds (unequal variances), one-sided in each direction; each row's variance is the spread over seeds (s²/n) plus the test items' " +
        'squared standard error (the runs\' <metric>_se, shared by all seeds); NLVR² convergence: one-sample t test against chance + margin',
      alpha: VERDICT_ALPHA,
      nlvr2ConvergedMargin: NLVR2_CONVERGED_MARGIN,
      thresholdsIn: 'packages/eval/src/table6/findings.ts',
      missing: 'null (never 0)',
    },
    paperReference: PAPER_REFERENCE,
    scales: tables.map((t) => ({
      scale: t.scale,
      rows: t.rows.map((r) => ({
        row: r.row,
        toggles: r.toggles,
        configHash: r.group?.configHash ?? null,
        codeVersion: r.group?.codeVersion ?? null,
        runs: (r.group?.runs ?? []).map((x) => ({ runId: x.runId, runName: x.runName, seed: x.seed, specHash: x.specHash, store: x.store, link: x.link, metrics: x.metrics })),
        cells: Object.fromEntries(COLUMNS.map((c) => [c.key, { metric: c.metric, ...r.cells[c.key]! }])),
        otherConfigurations: r.others.map((g) => ({ configHash: g.configHash, codeVersion: g.codeVersion, runs: g.runs.map((x) => ({ runId: x.runId, runName: x.runName, seed: x.seed })) })),
        flags: r.flags,
      })),
      baselines: t.baselines.map((b) => ({ label: b.label, metric: b.metric, ...b.summary })),
      findings: t.findings.map((f) => ({
        id: f.finding.id,
        claim: f.finding.claim,
        verdict: f.verdict,
        checks: f.checks.map((c) => ({ ...c.check, verdict: c.verdict, reason: c.reason, diff: c.diff, ci95: c.ci95, p: c.p, margin: c.margin })),
      })),
      perType: t.perType,
      excluded: t.excluded.map((e) => ({ runId: e.run.runId, runName: e.run.runName, status: e.run.status, reason: e.reason })),
      flags: t.flags,
    })),
  };
}
