import * as tf from '@tensorflow/tfjs';
import type { ParamRegistry } from '../params';
import { encodeSafetensors, loadSafetensors, parseSafetensors, sha256Hex, writeFileAtomic, type SafetensorsFile, type TensorToWrite } from './safetensors';

/**
 * Checkpoints are safetensors files holding every variable of a registry (parameters and
 * buffers) under its registry name, with `__metadata__`:
 *   format  = "pixel-bert/checkpoint-v1"
 *   sha256  = hash of the tensor index (names, dtypes, shapes, offsets) and the data bytes
 *   + whatever string metadata the caller adds (spec hash, step, backbone, …).
 * Written atomically (temp file + rename): a crash never leaves a half-written checkpoint.
 */
export const CHECKPOINT_FORMAT = 'pixel-bert/checkpoint-v1';

export function saveCheckpoint(file: string, registry: ParamRegistry, metadata: Record<string, string> = {}): { bytes: number; tensors: number } {
  for (const k of Object.keys(metadata)) {
    if (k === 'format' || k === 'sha256') throw new Error(`checkpoint metadata key "${k}" is reserved`);
  }
  const tensors: TensorToWrite[] = [];
  for (const [name, v] of registry) {
    if (v.dtype !== 'float32' && v.dtype !== 'int32') throw new Error(`cannot save variable "${name}" of dtype ${v.dtype}`);
    const values = v.dataSync() as Float32Array | Int32Array;
    tensors.push({ name, dtype: v.dtype === 'int32' ? 'I32' : 'F32', shape: [...v.shape], values });
  }
  // The checksum needs the offsets, which only encoding fixes: encode once without it to learn
  // them (they do not depend on the metadata), then again with it.
  const sum = checksum(parseSafetensors(encodeSafetensors(tensors), '<checkpoint being written>'));
  const bytes = encodeSafetensors(tensors, { ...metadata, format: CHECKPOINT_FORMAT, sha256: sum });
  writeFileAtomic(file, bytes);
  return { bytes: bytes.byteLength, tensors: tensors.length };
}

/**
 * Loads a checkpoint into `registry`'s variables. The file must hold exactly the registry's
 * names with the same shapes; otherwise nothing is assigned and the error lists every name that
 * is missing, unexpected or of another shape.
 */
export function loadCheckpoint(file: string, registry: ParamRegistry): { metadata: Record<string, string> } {
  const st = readCheckpoint(file);
  const problems = compareNames(
    st,
    new Map([...registry].map(([name, v]) => [name, { shape: v.shape, dtype: v.dtype }])),
  );
  if (problems.length > 0) {
    throw new Error(`${file}: checkpoint does not match this model (another architecture?):\n${formatProblems(problems)}`);
  }
  assignAll(registry, st, (name) => name, (s) => s);
  return { metadata: checkpointMetadata(st) };
}

/** Opens a checkpoint and checks its format and checksum (a truncated or altered file fails here, naming it). */
export function readCheckpoint(file: string): SafetensorsFile {
  let st: SafetensorsFile;
  try {
    st = loadSafetensors(file);
  } catch (e) {
    throw new Error(`${file}: not a readable checkpoint (${(e as Error).message})`);
  }
  const { format, sha256 } = st.metadata;
  if (format !== CHECKPOINT_FORMAT) {
    throw new Error(`${file}: not a Pixel-BERT checkpoint (metadata format=${JSON.stringify(format)}, expected "${CHECKPOINT_FORMAT}")`);
  }
  const actual = checksum(st);
  if (sha256 !== actual) {
    throw new Error(`${file}: checksum mismatch (stored ${sha256}, computed ${actual}): the file is corrupt or was modified`);
  }
  return st;
}

/** The caller's metadata of a checkpoint (without `format` and `sha256`). */
export function checkpointMetadata(st: SafetensorsFile): Record<string, string> {
  const { format: _f, sha256: _s, ...rest } = st.metadata;
  return rest;
}

/**
 * Loads part of a model from a checkpoint of another model: the variables of `registry` under
 * `prefixes` (e.g. `backbone.` from a classifier's checkpoint, the trunk from a pre-trained model's).
 * Every such variable must be in the file with its shape, and every tensor of the file under those
 * prefixes must be in the registry; otherwise nothing is assigned and the error lists each difference.
 */
export function loadPart(file: string, registry: ParamRegistry, prefixes: readonly string[]): { loaded: number } {
  const st = readCheckpoint(file);
  const under = (name: string) => prefixes.some((p) => name.startsWith(p));
  const part = new Map([...registry].filter(([name]) => under(name)));
  if (part.size === 0) throw new Error(`loadPart: the model has no variables under ${prefixes.join(', ')}`);
  const problems = compareNames(st, new Map([...part].map(([name, v]) => [name, { shape: v.shape, dtype: v.dtype }])), (name) => !under(name));
  if (problems.length > 0) {
    throw new Error(`${file}: its ${prefixes.join(', ')} weights do not fit this model (another architecture?):\n${formatProblems(problems)}`);
  }
  return { loaded: assignAll(part, st, (name) => name, (t) => t) };
}

export interface NameProblem {
  kind: 'missing' | 'unexpected' | 'shape' | 'dtype';
  name: string;
  detail: string;
}

/** Lists names the model has and the file lacks, names only the file has, and shape differences. */
export function compareNames(
  st: SafetensorsFile,
  expected: Map<string, { shape: number[]; dtype: string; fileName?: string; fileShape?: number[] }>,
  ignoreUnexpected: (name: string) => boolean = () => false,
): NameProblem[] {
  const problems: NameProblem[] = [];
  const used = new Set<string>();
  for (const [name, want] of expected) {
    const fileName = want.fileName ?? name;
    const fileShape = want.fileShape ?? want.shape;
    const e = st.entries.get(fileName);
    if (!e) {
      problems.push({ kind: 'missing', name: fileName, detail: `model expects [${fileShape}]` });
      continue;
    }
    used.add(fileName);
    if (e.shape.length !== fileShape.length || e.shape.some((d, i) => d !== fileShape[i])) {
      problems.push({ kind: 'shape', name: fileName, detail: `file has [${e.shape}], model expects [${fileShape}]` });
    }
    const isInt = e.dtype.startsWith('I') || e.dtype === 'U8' || e.dtype === 'BOOL';
    if (isInt !== (want.dtype === 'int32')) {
      problems.push({ kind: 'dtype', name: fileName, detail: `file has ${e.dtype}, model expects ${want.dtype}` });
    }
  }
  for (const name of st.names()) {
    if (!used.has(name) && !ignoreUnexpected(name)) {
      problems.push({ kind: 'unexpected', name, detail: `[${st.entries.get(name)!.shape}] in the file, not in the model` });
    }
  }
  return problems;
}

export function formatProblems(problems: NameProblem[], maxPerKind = 12): string {
  const kinds = ['missing', 'unexpected', 'shape', 'dtype'] as const;
  const counts: string[] = [];
  const lines: string[] = [];
  // A cap per kind, so that a long list of missing names cannot hide the shape differences.
  for (const kind of kinds) {
    const of = problems.filter((p) => p.kind === kind).sort((a, b) => a.name.localeCompare(b.name));
    if (of.length === 0) continue;
    counts.push(`${of.length} ${kind}`);
    for (const p of of.slice(0, maxPerKind)) lines.push(`  ${p.kind.padEnd(10)} ${p.name}: ${p.detail}`);
    if (of.length > maxPerKind) lines.push(`  … and ${of.length - maxPerKind} more ${kind}`);
  }
  return `${counts.join(', ')}\n${lines.join('\n')}`;
}

/**
 * Assigns registry variables from the file (names and shapes already checked). Every value is
 * decoded first, so a bad value leaves the model untouched rather than half loaded.
 */
export function assignAll(
  registry: ParamRegistry,
  st: SafetensorsFile,
  fileName: (name: string) => string,
  convert: (values: tf.Tensor, name: string) => tf.Tensor,
): number {
  const decoded: [tf.Variable, string, ReturnType<SafetensorsFile['read']>][] = [];
  for (const [name, v] of registry) {
    const src = fileName(name);
    if (!st.entries.has(src)) continue;
    decoded.push([v, name, st.read(src, v.dtype === 'int32' ? 'int32' : 'float32')]);
  }
  for (const [v, name, { shape, values }] of decoded) {
    tf.tidy(() => v.assign(convert(tf.tensor(values, shape, v.dtype === 'int32' ? 'int32' : 'float32'), name)));
  }
  return decoded.length;
}

function checksum(st: SafetensorsFile): string {
  const index = st
    .names()
    .map((n) => {
      const e = st.entries.get(n)!;
      return `${n}\t${e.dtype}\t${e.shape.join('x')}\t${e.begin}\t${e.end}`;
    })
    .join('\n');
  return sha256Hex(index, st.dataSection());
}
