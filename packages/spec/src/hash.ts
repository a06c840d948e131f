import { createHash } from 'node:crypto';
import type { Spec } from './schema';

/** Keys that label a spec without changing what runs; they are left out of its hash. */
const COSMETIC_KEYS = new Set(['name', 'description']);

/** JSON with object keys sorted at every level: the same data always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`cannot hash non-finite number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** sha256 of the canonical JSON of the resolved spec (name and description excluded). */
export function specHash(spec: Spec): string {
  const material = Object.fromEntries(Object.entries(spec).filter(([k]) => !COSMETIC_KEYS.has(k)));
  return createHash('sha256').update(canonicalJson(material)).digest('hex');
}
