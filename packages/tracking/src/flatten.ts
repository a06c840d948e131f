/**
 * Flattens a resolved spec into MLflow params: nested keys joined with '.', arrays of scalars kept
 * as one JSON value (e.g. `pretrain.tasks = ["mlm","itm"]`) since that is how a reader compares
 * them, arrays of objects indexed (`stages.0.name`).
 */
export function flattenParams(obj: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (obj === null || obj === undefined || typeof obj !== 'object') {
    if (prefix === '') throw new Error(`flattenParams: expected an object, got ${JSON.stringify(obj)}`);
    out[prefix] = obj === undefined ? 'null' : typeof obj === 'string' ? obj : JSON.stringify(obj);
    return out;
  }
  if (Array.isArray(obj)) {
    if (obj.every((x) => x === null || typeof x !== 'object')) {
      out[prefix] = JSON.stringify(obj);
      return out;
    }
    obj.forEach((x, i) => flattenParams(x, prefix ? `${prefix}.${i}` : String(i), out));
    return out;
  }
  const entries = Object.entries(obj as Record<string, unknown>);
  if (entries.length === 0 && prefix) out[prefix] = '{}';
  for (const [k, v] of entries) flattenParams(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}
