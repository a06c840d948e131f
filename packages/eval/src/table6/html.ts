/**
 * The static HTML report: one self-contained page (no scripts, images inlined) with Table 6 per
 * scale, the chart, the verdicts, the per-type table, flags, runs not counted, attention maps, the
 * paper's reference numbers and a link to each run in the MLflow UI when a server is known.
 */
import type { ScaleTable } from './build';
import { COLUMNS, PAPER_REFERENCE, REFERENCE_FOR_ROW } from './definitions';
import { NLVR2_CONVERGED_MARGIN, VERDICT_ALPHA } from './findings';
import { baselineText, fmtCell, fmtNum, MISSING, referenceLine, toggleCells } from './render';
import type { RowRun } from './runs';

export interface AttentionImage {
  caption: string;
  png: Uint8Array;
  /** The run page it came from, if known. */
  link: string | null;
}

export interface ReportInput {
  tables: readonly ScaleTable[];
  source: string;
  generatedAt: string;
  chartPng: Uint8Array | null;
  attention: readonly AttentionImage[];
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const dataUri = (png: Uint8Array) => `data:image/png;base64,${Buffer.from(png).toString('base64')}`;

function runRef(r: RowRun): string {
  const label = `${esc(r.runName)} <code>${esc(r.runId.slice(0, 8))}</code>`;
  return r.link ? `<a class="run-link" href="${esc(r.link)}">${label}</a>` : label;
}

function scaleSection(t: ScaleTable): string {
  const main = COLUMNS.filter((c) => c.main);
  const head = `<tr><th>row</th><th>MLM</th><th>ITM</th><th>sampling</th><th>backbone</th>${main.map((c) => `<th>${esc(c.label)}</th>`).join('')}<th>runs (seeds)</th></tr>`;
  const body = t.rows
    .map((r) => {
      const cells = main
        .map((c) => {
          const s = r.cells[c.key]!;
          return `<td class="${s.n === 0 ? 'missing' : 'value'}">${esc(fmtCell(s))}</td>`;
        })
        .join('');
      const runs = r.group ? r.group.runs.map((x) => `seed ${x.seed}: ${runRef(x)}`).join('<br>') : `<span class="missing">${MISSING} no finished run</span>`;
      let html = `<tr class="table6-row" data-row="${r.row}"><td>${r.row}</td>${toggleCells(r.toggles).map((x) => `<td>${esc(x)}</td>`).join('')}${cells}<td class="runs">${runs}</td></tr>`;
      const ref = referenceLine(t, r);
      if (ref) {
        html += `<tr class="paper-ref"><td>paper</td><td colspan="3"></td><td>${REFERENCE_FOR_ROW[r.row] === 'r50' ? 'ResNet-50' : 'ResNeXt-152'}</td>${ref.map((x) => `<td>${esc(x)}</td>`).join('')}<td>Tables 2–5</td></tr>`;
      }
      return html;
    })
    .join('\n');
  const full = COLUMNS.filter((c) => !c.main);
  const fullTable = `<table class="full"><tr><th>row</th>${full.map((c) => `<th>${esc(c.label)}</th>`).join('')}</tr>${t.rows
    .map((r) => `<tr><td>${r.row}</td>${full.map((c) => `<td>${esc(fmtCell(r.cells[c.key]))}</td>`).join('')}</tr>`)
    .join('')}</table>`;
  const findings = `<table class="findings"><tr><th>finding (paper, Section 4.5)</th><th>verdict</th><th>evidence</th></tr>${t.findings
    .map(
      (f) =>
        `<tr data-finding="${esc(f.finding.id)}"><td>${esc(f.finding.claim)}</td><td class="verdict ${f.verdict}">${f.verdict}</td><td>${f.checks.map((c) => esc(c.reason)).join('<br>')}</td></tr>`,
    )
    .join('')}</table>`;
  let perType = '';
  if (t.perType.length > 0) {
    const labels = t.perType[0]!.effects.map((e) => e.label);
    perType = `<h3>Per type</h3><p>What each pre-training choice changes per question / statement / caption type (the paper cannot show this; the generated world tags types). Δ: difference of means over seeds, Welch 95 % CI when both rows have n ≥ 2.</p>
<table class="per-type"><tr><th>task</th><th>type</th>${t.rows.map((r) => `<th>row ${r.row}</th>`).join('')}${labels.map((l) => `<th>Δ ${esc(l)}</th>`).join('')}</tr>${t.perType
      .map(
        (p) =>
          `<tr><td>${esc(p.task)}</td><td>${esc(p.type)}</td>${t.rows.map((r) => `<td>${esc(fmtCell(p.cells[r.row]))}</td>`).join('')}${p.effects
            .map((e) => `<td>${e.diff === null ? MISSING : `${e.diff >= 0 ? '+' : ''}${fmtNum(e.diff)}${e.ci95 ? ` [${fmtNum(e.ci95[0])}, ${fmtNum(e.ci95[1])}]` : ''}`}</td>`)
            .join('')}</tr>`,
      )
      .join('')}</table>`;
  }
  const notes = [...t.flags, ...t.rows.flatMap((r) => r.flags.map((f) => `row ${r.row}: ${f}`))];
  const flags = notes.length ? `<h3>Flags</h3><ul class="flags">${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  const excluded = t.excluded.length
    ? `<h3>Runs not counted</h3><ul class="excluded">${t.excluded.map((e) => `<li>${runRef(e.run)}: ${esc(e.reason)}</li>`).join('')}</ul>`
    : '';
  return `<section class="scale" data-scale="${esc(t.scale)}">
<h2>Scale <code>${esc(t.scale)}</code></h2>
<table class="table6">${head}
${body}</table>
<p class="note">Mean ± standard deviation over seeds (n = seeds), in percent; ${MISSING} = no finished run with that metric (never counted as 0).</p>${baselineText(t) ? `\n<p class="note baselines">${esc(baselineText(t)!)}</p>` : ''}
<details><summary>Full outputs (R@5, R@10, consistency, pre-training accuracies)</summary>${fullTable}</details>
<h3>Findings</h3>${findings}
<p class="note">Test: Welch's t over seeds, one-sided at α = ${VERDICT_ALPHA} in each direction, each row's variance being its spread over seeds plus the test set's own error (the runs' <code>_se</code>) (NLVR² convergence: one-sample t against chance + ${NLVR2_CONVERGED_MARGIN}); reproduced = every check significant the paper's way, contradicted = some check significant the other way, inconclusive otherwise (including n &lt; 2 and missing rows). Thresholds: <code>packages/eval/src/table6/findings.ts</code>.</p>
${perType}${flags}${excluded}
</section>`;
}

export function renderHtml(input: ReportInput): string {
  const reference = `<table class="reference"><tr><th>metric</th><th>on</th><th>Pixel-BERT R50</th><th>Pixel-BERT X152</th><th>source</th></tr>${PAPER_REFERENCE.map(
    (r) => `<tr><td>${esc(COLUMNS.find((c) => c.key === r.column)!.label)}</td><td>${esc(r.on)}</td><td>${r.r50}</td><td>${r.x152}</td><td>${esc(r.source)}</td></tr>`,
  ).join('')}</table>`;
  const chart = input.chartPng ? `<figure><img id="chart" alt="Table 6 chart" src="${dataUri(input.chartPng)}"><figcaption>Mean over seeds; whiskers ± std; the number above each bar is n.</figcaption></figure>` : '';
  const attention = input.attention.length
    ? `<h2>Attention maps (paper Fig. 3)</h2>${input.attention
        .map((a) => `<figure><img class="attention" alt="${esc(a.caption)}" src="${dataUri(a.png)}"><figcaption>${a.link ? `<a href="${esc(a.link)}">${esc(a.caption)}</a>` : esc(a.caption)}</figcaption></figure>`)
        .join('')}`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pixel-BERT Table 6</title>
<style>
body { font-family: "DejaVu Sans", sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; vertical-align: top; font-size: 0.9em; }
th { background: #eee; }
td.missing, span.missing { color: #999; }
tr.paper-ref td { background: #f6f6ff; font-style: italic; }
.verdict.reproduced { background: #d8f5d8; }
.verdict.contradicted { background: #f8d0d0; }
.verdict.inconclusive { background: #f3f0d0; }
.note { color: #555; font-size: 0.85em; }
img { max-width: 100%; border: 1px solid #ddd; }
</style></head>
<body>
<h1>Pixel-BERT: Table 6 from tracked runs</h1>
<p>Runs read from ${esc(input.source)} at ${esc(input.generatedAt)}.</p>
${chart}
${input.tables.map(scaleSection).join('\n')}
<h2>The paper's results (full models)</h2>
<p>Pixel-BERT's final models, i.e. rows 5 (ResNet-50) and 6 (ResNeXt-152) at <code>paper</code> scale; shown beside paper-scale rows.</p>
${reference}
${attention}
</body></html>
`;
}
