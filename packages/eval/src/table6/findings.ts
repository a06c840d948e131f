/**
 * The paper's Table 6 findings (Huang et al. 2020, Section 4.5) as checks over seeds, and the rule
 * that turns the checks into a verdict.
 *
 * The test: Welch's t test (unequal variances) of the difference of two rows' means over seeds,
 * one-sided at VERDICT_ALPHA in each direction; for "does not converge", a one-sample t test of a
 * row's NLVR² mean against chance + NLVR2_CONVERGED_MARGIN. Thresholds live in this file only.
 *
 *   reproduced   — every check of the finding is significant in the paper's direction;
 *   contradicted — some check is significant in the opposite direction;
 *   inconclusive — otherwise: the spread over seeds is too large, a row has n < 2 seeds
 *                  (no spread to test against), or a row / metric is missing.
 *
 * At `smoke` and `small` scale the backbones, data and model are stand-ins, so the checks test the
 * direction of each effect (margin 0); the paper's magnitudes are shown beside, not tested. At
 * `paper` scale, claims with a stated minimum ("at least 13") test that minimum.
 */
import { COLUMNS, NLVR2_CHANCE, type ColumnKey, type RowNumber } from './definitions';
import { oneSample, welch, type Summary, type WelchResult } from './stats';

/** One-sided significance level of every check (each direction). */
export const VERDICT_ALPHA = 0.05;
/** NLVR² has "converged" when its accuracy is above chance (50) by more than this many points. */
export const NLVR2_CONVERGED_MARGIN = 5;

export type Verdict = 'reproduced' | 'contradicted' | 'inconclusive';

/** b's mean exceeds a's (by more than `minDelta` at the scales it names). */
export interface IncreaseCheck {
  kind: 'increase';
  column: ColumnKey;
  a: RowNumber;
  b: RowNumber;
  /** The paper's reported effect, for display (e.g. "+7.6", "≥ +13"). */
  paper: string;
  /** Minimum effect tested, per scale; 0 where absent. */
  minDelta?: Partial<Record<string, number>>;
}

/** A row's NLVR² stays at chance (`converged: false`) or rises above it (`true`). */
export interface ConvergenceCheck {
  kind: 'convergence';
  column: 'nlvr2';
  row: RowNumber;
  converged: boolean;
  paper: string;
}

/**
 * b is at least as good as a: non-inferiority, b − a > −NONINFERIORITY_MARGIN significantly
 * (reproduced), b significantly below a (contradicted), otherwise inconclusive.
 */
export interface NotBelowCheck {
  kind: 'notBelow';
  column: ColumnKey;
  a: RowNumber;
  b: RowNumber;
  paper: string;
}

export type Check = IncreaseCheck | ConvergenceCheck | NotBelowCheck;

/** Points by which "at least as good" may fall short and still hold (non-inferiority margin). */
export const NONINFERIORITY_MARGIN = 2;

export interface Finding {
  id: string;
  /** The paper's claim in its own terms. */
  claim: string;
  checks: Check[];
}

export const FINDINGS: readonly Finding[] = [
  {
    id: 'mlm-vqa',
    claim: 'MLM pre-training adds about 7.6 to VQA (row 2 vs row 1)',
    checks: [{ kind: 'increase', column: 'vqa', a: 1, b: 2, paper: '+7.6' }],
  },
  {
    id: 'itm-vqa',
    claim: 'ITM pre-training adds about 1.6 to VQA (row 3 vs row 1)',
    checks: [{ kind: 'increase', column: 'vqa', a: 1, b: 3, paper: '+1.6' }],
  },
  {
    id: 'itm-retrieval',
    claim: 'ITM pre-training adds at least 13 to TR and IR R@1 (row 3 vs row 1)',
    checks: [
      { kind: 'increase', column: 'tr_r1', a: 1, b: 3, paper: '≥ +13', minDelta: { paper: 13 } },
      { kind: 'increase', column: 'ir_r1', a: 1, b: 3, paper: '≥ +13', minDelta: { paper: 13 } },
    ],
  },
  {
    id: 'nlvr2-needs-mlm',
    claim: 'NLVR² does not converge without MLM (rows 1 and 3 at chance; row 2 above it)',
    checks: [
      { kind: 'convergence', column: 'nlvr2', row: 1, converged: false, paper: 'does not converge' },
      { kind: 'convergence', column: 'nlvr2', row: 3, converged: false, paper: 'does not converge' },
      { kind: 'convergence', column: 'nlvr2', row: 2, converged: true, paper: 'converges' },
    ],
  },
  {
    id: 'mlm-itm-combined',
    claim: 'MLM and ITM together (row 4) are at least as good as either alone (rows 2 and 3) on every task',
    checks: ([2, 3] as const).flatMap((a) =>
      (['vqa', 'tr_r1', 'ir_r1', 'nlvr2'] as const).map((column) => ({ kind: 'notBelow' as const, column, a, b: 4 as const, paper: 'row 4 best of rows 1–4' })),
    ),
  },
  {
    id: 'sampling-vqa',
    claim: 'Pixel random sampling adds about 0.5 to VQA (row 5 vs row 4)',
    checks: [{ kind: 'increase', column: 'vqa', a: 4, b: 5, paper: '+0.5' }],
  },
  {
    id: 'sampling-retrieval',
    claim: 'Pixel random sampling adds about 2 to retrieval R@1 (row 5 vs row 4)',
    checks: [
      { kind: 'increase', column: 'tr_r1', a: 4, b: 5, paper: '≈ +2' },
      { kind: 'increase', column: 'ir_r1', a: 4, b: 5, paper: '≈ +2' },
    ],
  },
  {
    id: 'sampling-nlvr2',
    claim: 'Pixel random sampling adds about 0.4 to NLVR² (row 5 vs row 4)',
    checks: [{ kind: 'increase', column: 'nlvr2', a: 4, b: 5, paper: '+0.4' }],
  },
  {
    id: 'backbone',
    claim: 'The larger backbone (ResNeXt-152) gains by a large margin on every task (row 6 vs row 5)',
    checks: (['vqa', 'tr_r1', 'ir_r1', 'nlvr2'] as const).map((column) => ({ kind: 'increase' as const, column, a: 5 as const, b: 6 as const, paper: 'large gain' })),
  },
];

export interface CheckResult {
  check: Check;
  verdict: Verdict;
  /** Why, in words: the numbers or what was missing. */
  reason: string;
  /** Observed difference b − a (increase) or mean − (chance + margin) (convergence); null when untestable. */
  diff: number | null;
  ci95: [number, number] | null;
  /** One-sided p-value in the paper's direction; null when untestable. */
  p: number | null;
  /** Margin the check tested against. */
  margin: number;
}

export interface FindingResult {
  finding: Finding;
  verdict: Verdict;
  checks: CheckResult[];
}

/** Cell summaries of one table: row → column → summary over seeds. */
export type CellLookup = (row: RowNumber, column: ColumnKey) => Summary | null;

const label = (c: ColumnKey) => COLUMNS.find((x) => x.key === c)!.label;
const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(2));
const fmtP = (p: number) => (p < 0.001 ? '< 0.001' : p.toFixed(3));

function untestable(check: Check, rows: RowNumber[], cells: CellLookup, margin: number): CheckResult | null {
  for (const r of rows) {
    const s = cells(r, check.column);
    if (!s || s.n === 0) {
      return { check, verdict: 'inconclusive', reason: `row ${r} has no finished run with ${check.column}`, diff: null, ci95: null, p: null, margin };
    }
  }
  for (const r of rows) {
    const s = cells(r, check.column)!;
    if (s.n < 2) {
      return {
        check,
        verdict: 'inconclusive',
        reason: `row ${r} has n = ${s.n} seed for ${check.column}: no spread over seeds to test against (need ≥ 2 per row)`,
        diff: null,
        ci95: null,
        p: null,
        margin,
      };
    }
  }
  return null;
}

function decide(check: Check, t: WelchResult, margin: number, expectAbove: boolean, what: string): CheckResult {
  const pUp = t.pAbove(margin);
  const pDown = t.pBelow(margin);
  const p = expectAbove ? pUp : pDown;
  const pOpp = expectAbove ? pDown : pUp;
  const ci = `95 % CI [${fmt(t.ci95[0])}, ${fmt(t.ci95[1])}]`;
  const base = { check, diff: t.diff, ci95: t.ci95, p, margin };
  if (p < VERDICT_ALPHA) return { ...base, verdict: 'reproduced', reason: `${what} = ${fmt(t.diff)}, ${ci}, one-sided p ${fmtP(p)} < ${VERDICT_ALPHA}` };
  if (pOpp < VERDICT_ALPHA) {
    return { ...base, verdict: 'contradicted', reason: `${what} = ${fmt(t.diff)}, ${ci}: significantly the other way (p ${fmtP(pOpp)} < ${VERDICT_ALPHA})` };
  }
  return { ...base, verdict: 'inconclusive', reason: `${what} = ${fmt(t.diff)}, ${ci}, p ${fmtP(p)}: not significant at ${VERDICT_ALPHA} given the spread over seeds and the test set's error` };
}

export function evaluateCheck(check: Check, cells: CellLookup, scale: string): CheckResult {
  if (check.kind === 'notBelow') {
    const missing = untestable(check, [check.a, check.b], cells, -NONINFERIORITY_MARGIN);
    if (missing) return missing;
    const t = welch(cells(check.a, check.column)!, cells(check.b, check.column)!)!;
    const what = `${label(check.column)}: row ${check.b} − row ${check.a} (at least as good: tested against −${NONINFERIORITY_MARGIN})`;
    const pNotBelow = t.pAbove(-NONINFERIORITY_MARGIN);
    const pBelow = t.pBelow(0);
    const ci = `95 % CI [${fmt(t.ci95[0])}, ${fmt(t.ci95[1])}]`;
    const base = { check, diff: t.diff, ci95: t.ci95, p: pNotBelow, margin: -NONINFERIORITY_MARGIN };
    if (pNotBelow < VERDICT_ALPHA) return { ...base, verdict: 'reproduced', reason: `${what} = ${fmt(t.diff)}, ${ci}, one-sided p ${fmtP(pNotBelow)} < ${VERDICT_ALPHA}` };
    if (pBelow < VERDICT_ALPHA) return { ...base, verdict: 'contradicted', reason: `${what} = ${fmt(t.diff)}, ${ci}: significantly below (p ${fmtP(pBelow)} < ${VERDICT_ALPHA})` };
    return { ...base, verdict: 'inconclusive', reason: `${what} = ${fmt(t.diff)}, ${ci}, p ${fmtP(pNotBelow)}: neither shown at least as good nor worse at ${VERDICT_ALPHA}` };
  }
  if (check.kind === 'increase') {
    const margin = check.minDelta?.[scale] ?? 0;
    const missing = untestable(check, [check.a, check.b], cells, margin);
    if (missing) return missing;
    const t = welch(cells(check.a, check.column)!, cells(check.b, check.column)!)!;
    const what = `${label(check.column)}: row ${check.b} − row ${check.a} (paper ${check.paper}${margin ? `, tested against ${margin}` : ''})`;
    return decide(check, t, margin, true, what);
  }
  const threshold = NLVR2_CHANCE + NLVR2_CONVERGED_MARGIN;
  const missing = untestable(check, [check.row], cells, 0);
  if (missing) return missing;
  const t = oneSample(cells(check.row, check.column)!, threshold)!;
  return decide(check, t, 0, check.converged, `row ${check.row} NLVR² − ${threshold} (chance + ${NLVR2_CONVERGED_MARGIN}; paper: ${check.paper})`);
}

/** Every check reproduced → reproduced; any contradicted → contradicted; else inconclusive. */
export function combine(results: readonly CheckResult[]): Verdict {
  if (results.some((r) => r.verdict === 'contradicted')) return 'contradicted';
  if (results.length > 0 && results.every((r) => r.verdict === 'reproduced')) return 'reproduced';
  return 'inconclusive';
}

export function evaluateFindings(cells: CellLookup, scale: string, findings: readonly Finding[] = FINDINGS): FindingResult[] {
  return findings.map((finding) => {
    const checks = finding.checks.map((c) => evaluateCheck(c, cells, scale));
    return { finding, verdict: combine(checks), checks };
  });
}
