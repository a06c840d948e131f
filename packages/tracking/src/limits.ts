import { TrackingInputError } from './errors';

/**
 * MLflow's server-side limits (mlflow/utils/validation.py, MLflow 3.x). A request over them is
 * refused with INVALID_PARAMETER_VALUE, so the client chunks and checks before sending.
 */
export const LIMITS = {
  metricsPerBatch: 1000,
  paramsPerBatch: 100,
  tagsPerBatch: 100,
  entitiesPerBatch: 1000,
  /** MAX_BATCH_LOG_REQUEST_SIZE is 1e6 bytes; keep headroom for the JSON envelope. */
  batchBytes: 900_000,
  paramValueChars: 6000,
  tagValueChars: 8000,
  keyChars: 250,
} as const;

// MLflow (non-Windows): slashes, alphanumerics, underscores, periods, dashes, colons, spaces.
// Python's \w is Unicode-aware, so letters and digits of any script pass there too.
const NAME_RE = /^[/\p{L}\p{N}_.\- :]*$/u;

// Names already found valid: a training loop logs the same few keys every step.
const validNames = new Set<string>();

/** Throws a TrackingInputError naming the key and what MLflow accepts, exactly as the server would refuse it. */
export function checkName(kind: 'param' | 'metric' | 'tag' | 'artifact', name: unknown, where: string): string {
  if (typeof name === 'string' && validNames.has(name)) return name;
  if (typeof name !== 'string' || name.length === 0) {
    throw new TrackingInputError(`${where}: ${kind} name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (name.length > LIMITS.keyChars) {
    throw new TrackingInputError(
      `${where}: ${kind} name '${name.slice(0, 40)}…' is ${name.length} characters; MLflow allows at most ${LIMITS.keyChars}`,
    );
  }
  if (!NAME_RE.test(name)) {
    throw new TrackingInputError(
      `${where}: ${kind} name ${JSON.stringify(name)} has characters MLflow refuses; use only letters, digits, ` +
        `'_', '-', '.', ' ', ':' and '/'`,
    );
  }
  // MLflow treats names as file paths in places and refuses names that normalise to something else.
  const parts = name.split('/');
  if (name.startsWith('/') || name.endsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new TrackingInputError(
      `${where}: ${kind} name ${JSON.stringify(name)} is not a clean relative path (no leading/trailing '/', no '//', '.' or '..' parts)`,
    );
  }
  if (validNames.size < 100_000) validNames.add(name);
  return name;
}

/** A metric value as MLflow's JSON takes it: a number, or "NaN" / "Infinity" / "-Infinity". */
export type WireNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export function toWireNumber(v: number): WireNumber {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return v;
}

export function fromWireNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  throw new TrackingInputError(`not a metric value: ${JSON.stringify(v)}`);
}

export function checkMetricValue(key: string, value: unknown, where: string): number {
  if (typeof value !== 'number') {
    throw new TrackingInputError(
      `${where}: metric '${key}' must be a number (NaN and ±Infinity are allowed), got ${typeof value} ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function checkStep(step: unknown, where: string): number {
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) {
    throw new TrackingInputError(`${where}: step must be a non-negative integer, got ${JSON.stringify(step)}`);
  }
  return step;
}
