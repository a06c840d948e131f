import { readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, parse as parseYaml, parseDocument, stringify, type Document } from 'yaml';
import type { z } from 'zod';
import { SpecError, type SpecProblem } from './errors';
import { specHash } from './hash';
import { ROWS, SCALES, SpecSchema, type Scale, type Spec } from './schema';

/** The workspace root (the folder holding `experiments/`), found from this file's place. */
export const WORKSPACE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const EXPERIMENTS_ROOT = path.join(WORKSPACE_ROOT, 'experiments');

/** Spec files are small; anything larger is refused before parsing (no YAML bombs). */
export const MAX_SPEC_BYTES = 256 * 1024;
/** Aliases are allowed for convenience, but an alias-expansion bomb is stopped early. */
const MAX_ALIAS_COUNT = 100;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

/** Where each key path's value came from, for error messages. */
interface Origin {
  source: string;
  doc?: Document;
  lines?: LineCounter;
}

export interface ResolveOptions {
  scale?: Scale;
  seed?: number;
  /** `key.path=value` overrides, applied last; values are parsed as YAML scalars/flow collections. */
  set?: string[];
}

export interface ResolvedSpec {
  spec: Spec;
  /** The resolved spec as YAML (what is saved with every run). */
  yaml: string;
  /** sha256 of the canonical JSON of the resolved spec. */
  hash: string;
  /** Files read, in composition order (base first), then `--set`. */
  sources: string[];
}

function display(file: string): string {
  const rel = path.relative(WORKSPACE_ROOT, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface ParsedFile {
  file: string;
  value: JsonObject;
  origin: Origin;
}

/** Reads one YAML file with the safe core schema, a size limit and an alias limit. */
function readSpecYaml(file: string): ParsedFile {
  const shown = display(file);
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new SpecError({ source: shown, message: 'file not found' });
  }
  if (size > MAX_SPEC_BYTES)
    throw new SpecError({ source: shown, message: `file is ${size} bytes; spec files are limited to ${MAX_SPEC_BYTES}` });
  const text = readFileSync(file, 'utf8');
  const lines = new LineCounter();
  const doc = parseDocument(text, { schema: 'core', merge: false, uniqueKeys: true, lineCounter: lines, prettyErrors: false });
  // Custom tags (`!!js/function`, `!foo`) only produce warnings in the core schema; treat them as errors too.
  const bad = [...doc.errors, ...doc.warnings];
  if (bad.length > 0) {
    throw new SpecError(
      bad.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { source: shown, line: pos.line, column: pos.col, message: `YAML: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    throw new SpecError({ source: shown, message: `YAML: ${(e as Error).message} (aliases are limited to ${MAX_ALIAS_COUNT} expansions)` });
  }
  if (value === null || value === undefined) value = {};
  if (!isObject(value)) throw new SpecError({ source: shown, line: 1, message: 'a spec file must be a mapping of keys to values' });
  return { file, value, origin: { source: shown, doc, lines } };
}

/** Records `origin` for every key path present in `value` (later files overwrite earlier ones). */
function recordOrigins(value: Json, prefix: string[], origin: Origin, into: Map<string, Origin>) {
  if (prefix.length > 0) into.set(prefix.join('.'), origin);
  if (isObject(value)) for (const [k, v] of Object.entries(value)) recordOrigins(v, [...prefix, k], origin, into);
}

/** Deep merge: mappings merge key by key, everything else (arrays included) replaces. */
function merge(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? merge(b, v) : v;
  }
  return out;
}

function insideExperiments(file: string): boolean {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    real = path.resolve(file);
  }
  const root = realpathSync(EXPERIMENTS_ROOT);
  const rel = path.relative(root, real);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Loads a file and its `extends` chain (base first), merged, with the origin of every key. */
function loadChain(file: string, stack: string[], origins: Map<string, Origin>, sources: string[]): JsonObject {
  const abs = path.resolve(file);
  if (stack.includes(abs)) {
    throw new SpecError({
      source: display(abs),
      path: 'extends',
      message: `extends cycle: ${[...stack, abs].map(display).join(' → ')}`,
    });
  }
  const parsed = readSpecYaml(abs);
  const { extends: ext, ...own } = parsed.value;
  let merged: JsonObject = {};
  if (ext !== undefined) {
    const parents = Array.isArray(ext) ? ext : [ext];
    for (const [i, parent] of parents.entries()) {
      if (typeof parent !== 'string' || parent === '') {
        throw new SpecError({ source: parsed.origin.source, path: 'extends', message: `expected a relative path (or a list of them), found ${JSON.stringify(parent)}` });
      }
      if (path.isAbsolute(parent)) {
        throw new SpecError({ source: parsed.origin.source, path: 'extends', message: `"${parent}" is absolute; extends takes a path relative to the file, inside experiments/` });
      }
      const target = path.resolve(path.dirname(abs), parent);
      if (!insideExperiments(target)) {
        throw new SpecError({
          source: parsed.origin.source,
          path: Array.isArray(ext) ? `extends.${i}` : 'extends',
          message: `"${parent}" resolves to ${target}, outside experiments/ (${EXPERIMENTS_ROOT}); extends may only name files inside experiments/`,
        });
      }
      try {
        statSync(target);
      } catch {
        throw new SpecError({ source: parsed.origin.source, path: 'extends', message: `"${parent}" does not exist (looked for ${display(target)})` });
      }
      merged = merge(merged, loadChain(target, [...stack, abs], origins, sources));
    }
  }
  recordOrigins(own, [], parsed.origin, origins);
  sources.push(parsed.origin.source);
  return merge(merged, own);
}

/** Parses `a.b.c=value` and sets it into `target`. */
function applySet(target: JsonObject, assignment: string, origins: Map<string, Origin>) {
  const eq = assignment.indexOf('=');
  if (eq <= 0) {
    throw new SpecError({ source: '--set', message: `"${assignment}" is not of the form key.path=value` });
  }
  const keyPath = assignment.slice(0, eq).trim();
  const raw = assignment.slice(eq + 1);
  const keys = keyPath.split('.');
  if (keys.some((k) => k === '')) throw new SpecError({ source: '--set', message: `"${keyPath}" is not a valid key path (empty segment)` });
  if (keys[0] === 'extends') throw new SpecError({ source: '--set', path: 'extends', message: 'extends cannot be overridden from the command line' });
  let value: unknown;
  try {
    value = parseYaml(raw, { schema: 'core', maxAliasCount: 0 });
  } catch (e) {
    throw new SpecError({ source: '--set', path: keyPath, message: `value "${raw}" is not valid YAML: ${(e as Error).message.split('\n')[0]}` });
  }
  let node: JsonObject = target;
  for (const [i, k] of keys.slice(0, -1).entries()) {
    const next = node[k];
    if (next === undefined) node[k] = {};
    else if (!isObject(next)) {
      throw new SpecError({ source: '--set', path: keyPath, message: `"${keys.slice(0, i + 1).join('.')}" is a ${Array.isArray(next) ? 'list' : typeof next}, not a mapping, so it has no key "${keys[i + 1]}"` });
    }
    node = node[k] as JsonObject;
  }
  node[keys.at(-1)!] = (value ?? null) as Json;
  recordOrigins((value ?? null) as Json, keys, { source: `--set ${keyPath}` }, origins);
}

function valueAt(obj: unknown, keys: PropertyKey[]): unknown {
  let cur = obj;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

function showValue(v: unknown): string {
  if (v === undefined) return 'nothing (the key is missing)';
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Turns zod issues into problems that name the file, line and key path the bad value came from. */
function problemsFromIssues(issues: z.core.$ZodIssue[], merged: JsonObject, origins: Map<string, Origin>): SpecProblem[] {
  const out: SpecProblem[] = [];
  for (const issue of issues) {
    const keyLists: PropertyKey[][] =
      issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
    for (const keys of keyLists) {
      const dotted = keys.map(String).join('.');
      // The most specific key path we know the origin of.
      let origin: Origin | undefined;
      for (let n = keys.length; n > 0 && !origin; n--) origin = origins.get(keys.slice(0, n).map(String).join('.'));
      let line: number | undefined;
      let column: number | undefined;
      if (origin?.doc && origin.lines) {
        const node = findNode(origin.doc, keys);
        if (node?.range) {
          const pos = origin.lines.linePos(node.range[0]);
          line = pos.line;
          column = pos.col;
        }
      }
      const message =
        issue.code === 'unrecognized_keys'
          ? `unknown key "${String(keys.at(-1))}"; expected one of: ${knownKeysAt(issue.path).join(', ') || '(none)'}`
          : `${issue.message}; found ${showValue(valueAt(merged, keys))}`;
      out.push({ source: origin?.source ?? '(composed spec)', line, column, path: dotted || '(root)', message });
    }
  }
  return out;
}

/** The deepest YAML node along `keys` in a document (the key's own node when the value is absent). */
function findNode(doc: Document, keys: PropertyKey[]): { range?: [number, number, number] | null } | undefined {
  for (let n = keys.length; n > 0; n--) {
    const node = doc.getIn(keys.slice(0, n) as (string | number)[], true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && 'range' in node) return node;
  }
  return undefined;
}

/** The keys the schema allows at a path (for "unknown key" messages). */
function knownKeysAt(keys: PropertyKey[]): string[] {
  // Walk the plain-object part of the schema; transforms and refinements wrap objects.
  let schema: unknown = SpecSchema;
  const unwrap = (s: unknown): unknown => {
    let cur = s as { def?: { type?: string; in?: unknown; innerType?: unknown; schema?: unknown }; shape?: unknown };
    for (let i = 0; i < 10 && cur?.def && !cur.shape; i++) {
      cur = (cur.def.in ?? cur.def.innerType ?? cur.def.schema) as typeof cur;
    }
    return cur;
  };
  for (const k of keys) {
    const obj = unwrap(schema) as { shape?: Record<string, unknown> };
    schema = obj?.shape?.[String(k)];
  }
  const obj = unwrap(schema) as { shape?: Record<string, unknown> };
  return obj?.shape ? Object.keys(obj.shape) : [];
}

function finish(merged: JsonObject, origins: Map<string, Origin>, sources: string[]): ResolvedSpec {
  const result = SpecSchema.safeParse(merged);
  if (!result.success) throw new SpecError(problemsFromIssues(result.error.issues, merged, origins));
  const spec = result.data;
  return { spec, yaml: stringify(spec, { lineWidth: 0, aliasDuplicateObjects: false }), hash: specHash(spec), sources };
}

function compose(file: string, opts: ResolveOptions): ResolvedSpec {
  const scale = opts.scale ?? 'small';
  if (!SCALES.includes(scale)) {
    throw new SpecError({ source: '--scale', message: `unknown scale "${scale}"; expected one of: ${SCALES.join(', ')}` });
  }
  const origins = new Map<string, Origin>();
  const sources: string[] = [];
  let merged = loadChain(file, [], origins, sources);
  // The scale comes after base.yaml's values: it sizes the experiment without changing what the row
  // toggles. What the spec's own files set (anything but base.yaml) outranks the scale, so a key an
  // experiment writes is never silently replaced by its scale's.
  const baseSource = display(path.join(EXPERIMENTS_ROOT, 'base.yaml'));
  const own = [...origins]
    .filter(([, o]) => o.source !== baseSource)
    .map(([p, o]) => ({ keys: p.split('.'), origin: o, value: valueAt(merged, p.split('.')) as Json }))
    .filter(({ value }) => !isObject(value));
  merged = merge(merged, loadChain(path.join(EXPERIMENTS_ROOT, 'scales', `${scale}.yaml`), [], origins, sources));
  for (const { keys, origin, value } of own) {
    let node = merged;
    for (const k of keys.slice(0, -1)) {
      if (!isObject(node[k])) node[k] = {};
      node = node[k] as JsonObject;
    }
    node[keys.at(-1)!] = value;
    origins.set(keys.join('.'), origin);
  }
  merged.scale = scale;
  origins.set('scale', { source: '--scale' });
  if (opts.seed !== undefined) {
    merged.seed = opts.seed;
    origins.set('seed', { source: '--seed' });
  }
  for (const s of opts.set ?? []) applySet(merged, s, origins);
  if (opts.set?.length) sources.push('--set');
  return finish(merged, origins, sources);
}

/** Resolves any spec file: its `extends` chain, then the scale (under the chain's own keys but base.yaml's), then `--set` overrides. */
export function loadSpecFile(file: string, opts: ResolveOptions = {}): ResolvedSpec {
  return compose(path.resolve(file), opts);
}

export function rowSpecPath(row: number): string {
  return path.join(EXPERIMENTS_ROOT, 'table6', `row${row}.yaml`);
}

/** Resolves `experiments/table6/row<N>.yaml`. */
export function loadRowSpec(opts: ResolveOptions & { row: number }): ResolvedSpec {
  if (!Number.isInteger(opts.row) || !(ROWS as readonly number[]).includes(opts.row)) {
    throw new SpecError({
      source: '--row',
      message: `row ${JSON.stringify(opts.row)} does not exist: Table 6 has rows ${ROWS[0]}–${ROWS.at(-1)} (experiments/table6/row1.yaml … row6.yaml)`,
    });
  }
  return compose(rowSpecPath(opts.row), opts);
}

/** Which datasets a resolved spec reads (what `data:validate` checks). */
export function datasetsUsed(spec: Spec): { pretrain: Spec['pretrain']['datasets']; finetune: ('vqa' | 'nlvr2' | 'retrieval')[] } {
  const pretraining = spec.pretrain.tasks.mlm || spec.pretrain.tasks.itm;
  return { pretrain: pretraining ? spec.pretrain.datasets : [], finetune: ['vqa', 'nlvr2', 'retrieval'] };
}
