// Flags the eval CLIs share.
import { SCALES, UsageError } from '@pixel-bert/spec';

export const TRACKING_FLAGS = {
  'tracking-uri': { type: 'string' },
  experiment: { type: 'string' },
} as const;

/** --scale, checked against the spec's scales (smoke | small | paper). */
export function scaleFlag(raw: string | undefined, usage: string): string | undefined {
  if (raw === undefined) return undefined;
  if (!(SCALES as readonly string[]).includes(raw)) {
    throw new UsageError(`--scale=${raw}: no such scale; expected one of ${SCALES.join(', ')}\nusage: ${usage}`);
  }
  return raw;
}

/** --tracking-uri: an http(s) URL; absent → $MLFLOW_TRACKING_URI (or the local store). */
export function uriFlag(raw: string | undefined, usage: string): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^https?:\/\/[^\s/]+/.test(raw)) {
    throw new UsageError(`--tracking-uri=${raw}: expected an http:// or https:// URL of an MLflow server, e.g. http://127.0.0.1:5000\nusage: ${usage}`);
  }
  return raw;
}
