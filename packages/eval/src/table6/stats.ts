/**
 * Statistics over seeds for Table 6: summaries of a cell and Welch's t test of the difference
 * between two rows (unequal variances, Welch–Satterthwaite degrees of freedom). Student's t
 * distribution is computed from the regularised incomplete beta function (continued fraction),
 * so no statistics package is needed.
 *
 * The uncertainty of a row's mean has two parts: the spread over seeds (s²/n) and the test set's
 * own sampling error (the runs' `<metric>_se`, over test items). Every seed is scored on the same
 * test set, so the second does not shrink with more seeds; it is added as a known variance
 * (sqrt of the mean of se² over the runs). Without it, seeds that all land on the same score of a
 * small test set would look exact.
 */

export interface Summary {
  /** Values over seeds (one per seed that has the metric). */
  values: number[];
  n: number;
  /** null when n = 0. */
  mean: number | null;
  /** Sample standard deviation over seeds (n − 1); null when n < 2. */
  std: number | null;
  /** Standard error over test items (root mean square of the runs' `_se`); null when the runs report none. */
  itemSe: number | null;
}

export function summarize(values: readonly number[], itemSes: readonly number[] = []): Summary {
  const xs = values.filter((v) => Number.isFinite(v));
  const ses = itemSes.filter((v) => Number.isFinite(v) && v >= 0);
  const itemSe = ses.length ? Math.sqrt(ses.reduce((a, v) => a + v * v, 0) / ses.length) : null;
  const n = xs.length;
  if (n === 0) return { values: [], n: 0, mean: null, std: null, itemSe: null };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? null : Math.sqrt(xs.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { values: xs, n, mean, std, itemSe };
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; ~15 significant digits). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(a, b, x)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with df degrees of freedom (df may be fractional, as Welch's is). */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`studentTCdf: degrees of freedom must be positive, got ${df}`);
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5); // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

/** The t with P(T ≤ t) = p (bisection on the CDF; |t| < 1e4 covers every df ≥ 1 and p in [1e-9, 1 − 1e-9]). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile: p must be in (0, 1), got ${p}`);
  let lo = -1e4;
  let hi = 1e4;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface WelchResult {
  /** mean(b) − mean(a). */
  diff: number;
  /** Standard error of the difference, √(s²a/na + s²b/nb). */
  se: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided 95 % confidence interval of the difference. */
  ci95: [number, number];
  /** One-sided p-value of "diff > margin" against H0: diff ≤ margin. */
  pAbove: (margin: number) => number;
  /** One-sided p-value of "diff < margin" against H0: diff ≥ margin. */
  pBelow: (margin: number) => number;
}

/** The test's answers for an observed difference with standard error `se` on `df` degrees of freedom. */
function tResult(diff: number, se: number, df: number): WelchResult {
  if (se === 0) {
    // No spread at all: the difference is exact.
    return { diff, se, df, ci95: [diff, diff], pAbove: (m) => (diff > m ? 0 : 1), pBelow: (m) => (diff < m ? 0 : 1) };
  }
  const dfUsed = Math.min(df, 1e7); // infinite df (all variance known): t is normal, as it is at 1e7 to 6 digits
  const q = studentTQuantile(0.975, dfUsed);
  return {
    diff,
    se,
    df,
    ci95: [diff - q * se, diff + q * se],
    pAbove: (m) => 1 - studentTCdf((diff - m) / se, dfUsed),
    pBelow: (m) => studentTCdf((diff - m) / se, dfUsed),
  };
}

/**
 * Welch's t test of mean(b) − mean(a). Needs n ≥ 2 on each side (a spread over seeds); returns
 * null otherwise. Each side's variance is s²/n plus its test-item variance (itemSe²); the degrees
 * of freedom are Welch–Satterthwaite's over the seed parts (the item parts count as known). With
 * no spread and no item error at all, the difference is taken as exact (p = 0 or 1).
 */
export function welch(a: Summary, b: Summary): WelchResult | null {
  if (a.n < 2 || b.n < 2 || a.mean === null || b.mean === null) return null;
  const sa = a.std! ** 2 / a.n;
  const sb = b.std! ** 2 / b.n;
  const se = Math.sqrt(sa + sb + (a.itemSe ?? 0) ** 2 + (b.itemSe ?? 0) ** 2);
  const seedTerms = sa ** 2 / (a.n - 1) + sb ** 2 / (b.n - 1);
  const df = seedTerms === 0 ? Infinity : se ** 4 / seedTerms;
  return tResult(b.mean - a.mean, se, df);
}

/** One-sample t test of mean(a) against a constant (n ≥ 2), in the same shape as `welch`. */
export function oneSample(a: Summary, constant: number): WelchResult | null {
  if (a.n < 2 || a.mean === null) return null;
  const s = a.std! ** 2 / a.n;
  const se = Math.sqrt(s + (a.itemSe ?? 0) ** 2);
  const df = s === 0 ? Infinity : (a.n - 1) * (se ** 4 / s ** 2);
  return tResult(a.mean - constant, se, df);
}
