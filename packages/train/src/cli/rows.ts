// Row and seed lists on the command line (train:table6, train:init).
import { UsageError } from '@pixel-bert/spec';

/** "1-6", "1,3,5", "2-4,6" → numbers. */
export function parseList(name: string, raw: string, allowed: readonly number[] | undefined, usage: string): number[] {
  const out: number[] = [];
  for (const part of raw.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UsageError(`--${name}=${raw}: expected numbers and ranges such as 1-6 or 0,1,2\nusage: ${usage}`);
    const a = Number(m[1]);
    const z = m[2] === undefined ? a : Number(m[2]);
    if (z < a) throw new UsageError(`--${name}=${raw}: the range ${part} runs backwards`);
    for (let i = a; i <= z; i++) {
      if (allowed && !allowed.includes(i)) throw new UsageError(`--${name}=${raw}: ${i} is not one of ${allowed.join(', ')}`);
      if (!out.includes(i)) out.push(i);
    }
  }
  return out;
}
