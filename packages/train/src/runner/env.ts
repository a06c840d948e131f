// Process counts a spec sets and an environment variable may override (train:table6 sets them to 1
// for rows it runs side by side).
import { StageInputError } from '../stages/common';

/** `fallback` (the spec's value), or the whole number ≥ 1 in `env[name]` where set; `meaning` says what it counts in the error. */
export function countFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, meaning: string): { n: number; fromEnv: string | null } {
  const raw = env[name];
  if (raw === undefined || raw === '') return { n: fallback, fromEnv: null };
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new StageInputError(`${name}=${raw}: expected a whole number ≥ 1 (${meaning})`);
  return { n, fromEnv: `${name}=${raw}` };
}
