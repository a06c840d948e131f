import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { z } from 'zod';

/** One thing wrong with an input: which file, where in it, which item, and what would be right. */
export interface Problem {
  file: string;
  /** JSON path inside the file, e.g. `images[3].sentences[0].raw`. */
  path?: string;
  /** 1-based line (JSON-lines files, or a JSON syntax error). */
  line?: number;
  column?: number;
  /** The id of the item concerned (question id, image id, identifier…). */
  item?: string | number;
  message: string;
}

export function formatProblem(p: Problem): string {
  let where = p.file;
  if (p.line !== undefined) where += `:${p.line}${p.column !== undefined ? `:${p.column}` : ''}`;
  const path = p.path ? `: ${p.path}` : '';
  const item = p.item !== undefined ? ` (item ${p.item})` : '';
  return `${where}${path}${item}: ${p.message}`;
}

/** Bad input data. `problems` lists every problem found (the message shows the first few). */
export class DataError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[] | Problem, headline?: string) {
    const list = Array.isArray(problems) ? problems : [problems];
    const shown = list.slice(0, 10).map(formatProblem);
    const more = list.length > shown.length ? `\n  … and ${list.length - shown.length} more` : '';
    super(
      list.length === 1 && !headline
        ? shown[0]!
        : `${headline ?? `${list.length} problems`}:\n  ${shown.join('\n  ')}${more}`,
    );
    this.name = 'DataError';
    this.problems = list;
  }
}

/** JSON path in the bracket style users know from jq / JS: `a.b[3].c`. */
export function jsonPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out ? `.${String(s)}` : String(s);
  }
  return out;
}

/** Line and column of a character offset. */
function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

/** Throws a DataError naming the file when it is missing or a directory. */
export function checkFile(file: string, what: string): void {
  if (!existsSync(file)) throw new DataError({ file, message: `${what} not found (expected a file here)` });
  if (statSync(file).isDirectory()) throw new DataError({ file, message: `${what}: expected a file, found a directory` });
}

export function readText(file: string, what: string): string {
  checkFile(file, what);
  return readFileSync(file, 'utf8');
}

/**
 * Offset of the first JSON syntax error in `text` (V8 does not always say where). A small
 * recursive-descent scan that only locates errors; JSON.parse still does the parsing.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const lit = (word: string) => {
    for (const ch of word) if (text[i++] !== ch) (i--, fail());
  };
  const str = () => {
    if (text[i] !== '"') fail();
    i++;
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) fail();
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || !m[0]) fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (c === '"') str();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else num();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
  } catch (at) {
    if (typeof at === 'number') return at;
    throw at;
  }
  return -1;
}

/** Parse JSON text; a syntax error is reported with its line and column. */
export function parseJson(text: string, file: string, lineOffset = 0): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const v8 = /position (\d+)/.exec(msg);
    const offset = v8 ? Number(v8[1]) : jsonErrorOffset(text);
    const at = offset >= 0 ? lineCol(text, offset) : undefined;
    // V8's own text quotes a slice of the input; shorten it to keep the message readable.
    const reason = msg.replace(/ \(line \d+ column \d+\)/, '').replace(/, "[\s\S]*" is not valid JSON$/, '').slice(0, 120);
    throw new DataError({
      file,
      line: at ? at.line + lineOffset : lineOffset || undefined,
      column: at?.column,
      message: `malformed JSON: ${reason}`,
    });
  }
}

export function readJson(file: string, what: string): unknown {
  return parseJson(readText(file, what), file);
}

/** Validate with zod; every issue becomes a problem with its JSON path (prefixed by `base`). */
export function validate<S extends z.ZodType>(schema: S, value: unknown, file: string, base: PropertyKey[] = [], item?: string | number): z.infer<S> | Problem[] {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  return r.error.issues.map((i) => ({ file, path: jsonPath([...base, ...i.path]) || '<root>', item, message: i.message }));
}

export function isProblems(x: unknown): x is Problem[] {
  return Array.isArray(x) && x.length > 0 && typeof x[0] === 'object' && x[0] !== null && 'message' in x[0] && 'file' in x[0];
}

/**
 * Collects per-item problems. Items with problems are skipped and reported; when more than
 * `maxBadFraction` of the items are bad, `finish` throws a DataError listing them. With the
 * default 0, any problem is an error. Nothing is dropped without appearing in `skipped`.
 */
export class ProblemLog {
  readonly skipped: Problem[] = [];
  constructor(
    readonly what: string,
    readonly maxBadFraction = 0,
  ) {
    if (!(maxBadFraction >= 0 && maxBadFraction <= 1)) throw new RangeError(`maxBadFraction must be in [0, 1] (got ${maxBadFraction})`);
  }
  add(p: Problem | Problem[]): void {
    if (Array.isArray(p)) this.skipped.push(...p);
    else this.skipped.push(p);
  }
  /** Number of distinct items with at least one problem (problems without an item count once each). */
  badItems(): number {
    const ids = new Set<string>();
    let anonymous = 0;
    for (const p of this.skipped) {
      if (p.item === undefined) anonymous++;
      else ids.add(`${p.file}\u0000${p.item}`);
    }
    return ids.size + anonymous;
  }
  finish(total: number): void {
    const bad = this.badItems();
    if (bad === 0) return;
    if (bad > this.maxBadFraction * Math.max(total, 1)) {
      throw new DataError(
        this.skipped,
        `${this.what}: ${bad} of ${total} items are bad (allowed: ${(this.maxBadFraction * 100).toFixed(2)} %)`,
      );
    }
  }
}

/** Every file under a directory (relative paths with '/'), listed once so existence checks are cheap. */
export class FileIndex {
  readonly files: ReadonlySet<string>;
  constructor(readonly root: string) {
    if (!existsSync(root) || !statSync(root).isDirectory()) {
      throw new DataError({ file: root, message: 'image directory not found (expected a directory of image files)' });
    }
    const out = new Set<string>();
    for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) out.add(relative(root, join(e.parentPath, e.name)).split('\\').join('/'));
    }
    this.files = out;
  }
  has(rel: string): boolean {
    return this.files.has(rel);
  }
  path(rel: string): string {
    return join(this.root, rel);
  }
}
