// Row and seed lists on the command line (train:table6, train:init), and rows grouped by backbone.
import { UsageError, loadRowSpec, type ResolveOptions, type ResolvedSpec } from '@pixel-bert/spec';

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

/**
 * The rows grouped by the backbone they run (`model.run.arch`), in the order first met, each group
 * with its first row's resolved spec. The init stages depend on the backbone and on nothing else a
 * row toggles: one init run per group gives every row its init stages.
 */
export function rowsByBackbone(rows: readonly number[], opts: ResolveOptions): Map<string, { rows: number[]; resolved: ResolvedSpec }> {
  const groups = new Map<string, { rows: number[]; resolved: ResolvedSpec }>();
  for (const row of rows) {
    const resolved = loadRowSpec({ ...opts, row });
    const arch = resolved.spec.model.run.arch;
    const g = groups.get(arch);
    if (g) g.rows.push(row);
    else groups.set(arch, { rows: [row], resolved });
  }
  return groups;
}
