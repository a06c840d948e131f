import { describe, expect, it } from 'vitest';
import type { ColumnKey, RowNumber } from './definitions';
import { FINDINGS, VERDICT_ALPHA, combine, evaluateFindings, type FindingResult } from './findings';
import { oneSample, studentTCdf, studentTQuantile, summarize, welch, type Summary } from './stats';

type Values = Partial<Record<RowNumber, Partial<Record<ColumnKey, number[]>>>>;
/** `itemSe`: every run's standard error over test items (the same for all cells), if any. */
const lookup = (v: Values, itemSe?: number) => (row: RowNumber, col: ColumnKey): Summary | null =>
  v[row]?.[col] ? summarize(v[row]![col]!, itemSe === undefined ? [] : v[row]![col]!.map(() => itemSe)) : null;
const find = (rs: FindingResult[], id: string) => rs.find((r) => r.finding.id === id)!;

describe("Student's t and Welch's test", () => {
  it('match tabulated quantiles', () => {
    expect(studentTCdf(12.706, 1)).toBeCloseTo(0.975, 4);
    expect(studentTCdf(2.919986, 2)).toBeCloseTo(0.95, 6);
    expect(studentTCdf(2.228139, 10)).toBeCloseTo(0.975, 6);
    expect(studentTCdf(-2.228139, 10)).toBeCloseTo(0.025, 6);
    expect(studentTCdf(1.959964, 1e7)).toBeCloseTo(0.975, 5);
    expect(studentTQuantile(0.95, 2)).toBeCloseTo(2.919986, 5);
    expect(studentTQuantile(0.975, 4.5)).toBeCloseTo(2.6589123472, 8); // scipy.stats.t.ppf(0.975, 4.5): fractional df, as Welch gives
  });
  it('uses the Welch–Satterthwaite degrees of freedom', () => {
    const a = summarize([1, 2, 3, 4]); // var 1.667, n 4
    const b = summarize([2, 4, 6, 8, 10, 12]); // var 14, n 6
    const t = welch(a, b)!;
    const va = 1.6666667 / 4;
    const vb = 14 / 6;
    expect(t.diff).toBeCloseTo(7 - 2.5, 10);
    expect(t.se).toBeCloseTo(Math.sqrt(va + vb), 6);
    expect(t.df).toBeCloseTo((va + vb) ** 2 / (va ** 2 / 3 + vb ** 2 / 5), 4);
    expect(welch(summarize([1]), b)).toBeNull();
    expect(oneSample(summarize([49, 51, 50]), 55)!.diff).toBeCloseTo(-5, 10);
  });
  it('summaries keep missing as missing: no values → mean null, n 0; n = 1 → std null', () => {
    expect(summarize([])).toEqual({ values: [], n: 0, mean: null, std: null, itemSe: null });
    expect(summarize([NaN, 3])).toMatchObject({ n: 1, mean: 3, std: null });
  });
});

describe('verdicts of the findings', () => {
  it('clearly reproduced: row 2 well above row 1 on VQA', () => {
    const r = find(evaluateFindings(lookup({ 1: { vqa: [50, 51, 49] }, 2: { vqa: [58, 59, 57.5] } }), 'small'), 'mlm-vqa');
    expect(r.verdict).toBe('reproduced');
    expect(r.checks[0]!.diff).toBeCloseTo(8.1667, 3);
    expect(r.checks[0]!.p!).toBeLessThan(0.001);
  });
  it('clearly contradicted: row 2 well below row 1', () => {
    const r = find(evaluateFindings(lookup({ 1: { vqa: [50, 51, 49] }, 2: { vqa: [40, 41, 39] } }), 'small'), 'mlm-vqa');
    expect(r.verdict).toBe('contradicted');
    expect(r.checks[0]!.reason).toMatch(/other way/);
  });
  it('inconclusive when the spread over seeds swamps the difference', () => {
    const r = find(evaluateFindings(lookup({ 1: { vqa: [45, 50, 55] }, 2: { vqa: [46, 52, 56] } }), 'small'), 'mlm-vqa');
    expect(r.verdict).toBe('inconclusive');
    expect(r.checks[0]!.p!).toBeGreaterThan(VERDICT_ALPHA);
  });
  it('at the edge: n = 2 per row, df = 2, the one-sided critical t is 2.92 — just above reproduces, just below does not', () => {
    // a = [-1, 1], b = [x − 1, x + 1]: se = √2, df = 2, so the threshold is x = 2.919986·√2 = 4.1295.
    const at = (x: number) => find(evaluateFindings(lookup({ 1: { vqa: [-1, 1] }, 2: { vqa: [x - 1, x + 1] } }), 'small'), 'mlm-vqa');
    expect(at(4.14).verdict).toBe('reproduced');
    expect(at(4.12).verdict).toBe('inconclusive');
    expect(at(-4.12).verdict).toBe('inconclusive');
    expect(at(-4.14).verdict).toBe('contradicted');
  });
  it('n = 1 on a side is inconclusive (no spread to test), however large the difference', () => {
    const r = find(evaluateFindings(lookup({ 1: { vqa: [50] }, 2: { vqa: [90, 91] } }), 'small'), 'mlm-vqa');
    expect(r.verdict).toBe('inconclusive');
    expect(r.checks[0]!.reason).toMatch(/row 1 has n = 1/);
    expect(r.checks[0]!.diff).toBeNull();
  });
  it('a missing row is inconclusive, never a zero', () => {
    const rs = evaluateFindings(lookup({ 1: { vqa: [50, 51, 49] } }), 'small');
    const r = find(rs, 'mlm-vqa');
    expect(r.verdict).toBe('inconclusive');
    expect(r.checks[0]!.reason).toBe('row 2 has no finished run with vqa');
    // With nothing at all, every finding is inconclusive.
    expect(evaluateFindings(lookup({}), 'small').every((f) => f.verdict === 'inconclusive')).toBe(true);
  });
  it('"at least 13" is tested at paper scale only; at small scale the direction is', () => {
    const v: Values = { 1: { tr_r1: [20, 21, 19], ir_r1: [15, 16, 14] }, 3: { tr_r1: [29, 30, 31], ir_r1: [25, 26, 24] } }; // +10 each
    expect(find(evaluateFindings(lookup(v), 'small'), 'itm-retrieval').verdict).toBe('reproduced');
    const paper = find(evaluateFindings(lookup(v), 'paper'), 'itm-retrieval');
    expect(paper.verdict).toBe('contradicted'); // +10 is significantly below +13
    expect(paper.checks[0]!.margin).toBe(13);
    const big: Values = { 1: v[1], 3: { tr_r1: [39, 40, 41], ir_r1: [35, 36, 34] } }; // +20
    expect(find(evaluateFindings(lookup(big), 'paper'), 'itm-retrieval').verdict).toBe('reproduced');
  });
  it('one contradicted check contradicts the finding; one inconclusive keeps it inconclusive', () => {
    const v: Values = { 1: { tr_r1: [20, 21, 19], ir_r1: [15, 16, 14] }, 3: { tr_r1: [29, 30, 31], ir_r1: [5, 6, 4] } };
    expect(find(evaluateFindings(lookup(v), 'small'), 'itm-retrieval').verdict).toBe('contradicted');
    const w: Values = { 1: v[1], 3: { tr_r1: [29, 30, 31], ir_r1: [10, 16, 22] } };
    expect(find(evaluateFindings(lookup(w), 'small'), 'itm-retrieval').verdict).toBe('inconclusive');
    expect(combine([])).toBe('inconclusive');
  });
  it('NLVR² without MLM: rows 1 and 3 at chance and row 2 above it reproduce; row 1 converging contradicts', () => {
    const ok: Values = { 1: { nlvr2: [50, 51, 49.5] }, 3: { nlvr2: [49, 50.5, 50] }, 2: { nlvr2: [68, 70, 69] } };
    expect(find(evaluateFindings(lookup(ok), 'small'), 'nlvr2-needs-mlm').verdict).toBe('reproduced');
    const bad: Values = { ...ok, 1: { nlvr2: [66, 68, 67] } };
    const r = find(evaluateFindings(lookup(bad), 'small'), 'nlvr2-needs-mlm');
    expect(r.verdict).toBe('contradicted');
    expect(r.checks[0]!.reason).toMatch(/row 1 NLVR² − 55/);
  });
  it("the test set's own error counts: seeds that agree exactly on a small test set prove nothing", () => {
    // What real smoke runs gave: every seed of rows 1 and 2 scored 62.5 % on 16 NLVR² statements (se 12.5).
    const same: Values = { 1: { nlvr2: [62.5, 62.5, 62.5] }, 3: { nlvr2: [62.5, 62.5, 62.5] }, 2: { nlvr2: [62.5, 62.5, 62.5] } };
    expect(find(evaluateFindings(lookup(same), 'smoke'), 'nlvr2-needs-mlm').verdict).toBe('contradicted'); // without the item error: "exact"
    const r = find(evaluateFindings(lookup(same, 12.5), 'smoke'), 'nlvr2-needs-mlm');
    expect(r.verdict).toBe('inconclusive');
    expect(r.checks[0]!.ci95![1] - r.checks[0]!.ci95![0]).toBeCloseTo(2 * 1.959964 * 12.5, 3); // normal: the seed part is 0
    // A large effect still stands out of a small item error.
    const clear: Values = { 1: { vqa: [40, 40, 40] }, 2: { vqa: [48, 48, 48] } };
    expect(find(evaluateFindings(lookup(clear, 1), 'smoke'), 'mlm-vqa').verdict).toBe('reproduced');
    expect(find(evaluateFindings(lookup(clear, 5), 'smoke'), 'mlm-vqa').verdict).toBe('inconclusive');
  });

  it('"at least as good" (row 4 vs rows 2 and 3) is non-inferiority: within the margin holds, clearly below contradicts, a wide spread is inconclusive', () => {
    const cols = (x: number[]) => ({ vqa: x, tr_r1: x, ir_r1: x, nlvr2: x });
    const at = (row4: number[]) => find(evaluateFindings(lookup({ 2: cols([50, 51, 49]), 3: cols([50, 50.5, 49.5]), 4: cols(row4) }), 'small'), 'mlm-itm-combined');
    expect(at([50, 50.5, 49.5]).verdict).toBe('reproduced'); // level with both: inside the 2-point margin
    expect(at([55, 56, 54]).verdict).toBe('reproduced');
    const worse = at([44, 45, 43]);
    expect(worse.verdict).toBe('contradicted');
    expect(worse.checks).toHaveLength(8);
    expect(worse.checks[0]!.reason).toMatch(/significantly below/);
    expect(at([40, 50, 60]).verdict).toBe('inconclusive');
  });

  it('adds the item variance to the seed variance of each side', () => {
    const a = summarize([1, 3], [2, 2]); // s² = 2, n = 2, itemSe 2
    const b = summarize([5, 7, 9], [1, 3, 3]); // s² = 4, n = 3, itemSe √(19/3)
    expect(b.itemSe).toBeCloseTo(Math.sqrt(19 / 3), 12);
    const t = welch(a, b)!;
    expect(t.se).toBeCloseTo(Math.sqrt(2 / 2 + 4 / 3 + 4 + 19 / 3), 12);
    expect(t.df).toBeCloseTo(t.se ** 4 / ((2 / 2) ** 2 / 1 + (4 / 3) ** 2 / 2), 9);
  });

  it('every finding names rows 1–6 and a metric column', () => {
    expect(FINDINGS.map((f) => f.id)).toEqual(['mlm-vqa', 'itm-vqa', 'itm-retrieval', 'nlvr2-needs-mlm', 'mlm-itm-combined', 'sampling-vqa', 'sampling-retrieval', 'sampling-nlvr2', 'backbone']);
  });
});
