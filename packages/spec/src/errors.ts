/** One thing wrong with a spec: where it is, and what would be right. */
export interface SpecProblem {
  /** The file the value came from (relative to the workspace root when inside it), or `--set`. */
  source?: string;
  line?: number;
  column?: number;
  /** Dotted key path inside the spec, e.g. `pretrain.mlm.probability`. */
  path?: string;
  message: string;
}

export function formatProblem(p: SpecProblem): string {
  let where = p.source ?? '';
  if (where && p.line !== undefined) where += `:${p.line}${p.column !== undefined ? `:${p.column}` : ''}`;
  const key = p.path ? `${p.path}: ` : '';
  return `${where ? `${where}: ` : ''}${key}${p.message}`;
}

/** A spec could not be read, composed or validated. Nothing has been written when it is thrown. */
export class SpecError extends Error {
  readonly problems: SpecProblem[];
  constructor(problems: SpecProblem[] | SpecProblem) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(
      list.length === 1
        ? `invalid experiment spec: ${formatProblem(list[0]!)}`
        : `invalid experiment spec (${list.length} problems):\n${list.map((p) => `  - ${formatProblem(p)}`).join('\n')}`,
    );
    this.name = 'SpecError';
    this.problems = list;
  }
}
