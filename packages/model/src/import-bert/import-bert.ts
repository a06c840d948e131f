import * as tf from '@tensorflow/tfjs';
import type { ParamRegistry } from '../params';
import { loadSafetensors, type SafetensorsFile } from '../weights/safetensors';

/** One checkpoint tensor as float32 values. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

/** The float tensors of a safetensors file (integer buffers such as `position_ids` are left out). */
export function floatTensors(f: SafetensorsFile): Map<string, NamedArray> {
  const out = new Map<string, NamedArray>();
  for (const [name, e] of f.entries) {
    if (!['F64', 'F32', 'F16', 'BF16'].includes(e.dtype)) continue;
    const { shape, values } = f.read(name);
    out.set(name, { shape, data: values as Float32Array });
  }
  return out;
}

/**
 * Initialise the text embeddings, the encoder and the pooler (and, when the
 * checkpoint has it, the MLM head) from a Hugging Face BERT checkpoint — the
 * paper's initialisation (Section 4.1: the Transformer starts from BERT).
 *
 * Our parameter names are HF's, so the mapping is nearly the identity:
 *  - a `bert.` prefix (BertForPreTraining & co.) is dropped;
 *  - TF-era names `gamma`/`beta` read as LayerNorm `weight`/`bias`;
 *  - Linear weights are transposed ([out, in] in PyTorch, [in, out] here);
 *  - `cls.predictions.decoder.*` is the tied word embedding and its bias
 *    (`cls.predictions.bias`), so the decoder matrix is skipped;
 *  - buffers (`position_ids`) and NSP (`cls.seq_relationship`) are ignored.
 * Every one of our parameters under the imported parts must be found with the
 * right shape, and every checkpoint tensor of those parts must land somewhere;
 * otherwise one error lists every difference and nothing is written.
 */
export interface BertImportOptions {
  /**
   * BERT's position table has 512 rows; a model built with a shorter
   * maxTextLength may take its first rows (off by default: a size mismatch is
   * reported like any other).
   */
  truncatePositions?: boolean;
}

export interface BertImportReport {
  /** Our parameter names that were written. */
  imported: string[];
  /** Our parameters BERT has nothing for (pixel embedding, backbone, task heads). */
  untouched: string[];
  /** Checkpoint tensors deliberately not used (buffers, NSP head, tied decoder). */
  ignored: string[];
  /** Notes on allowed adjustments (e.g. position-table truncation). */
  notes: string[];
}

/** Parts of our model that a BERT checkpoint initialises. */
const BERT_PARTS = ['embeddings.', 'encoder.', 'pooler.', 'cls.predictions.'];

export function importBertSafetensors(params: ParamRegistry, file: string, opts: BertImportOptions = {}): BertImportReport {
  const tensors = floatTensors(loadSafetensors(file));
  try {
    return importBert(params, tensors, opts);
  } catch (e) {
    throw new Error(`BERT import from ${file}: ${(e as Error).message}`);
  }
}

export function importBert(
  params: ParamRegistry,
  checkpoint: Map<string, NamedArray>,
  opts: BertImportOptions = {},
): BertImportReport {
  const ignored: string[] = [];
  const notes: string[] = [];
  const mapped = new Map<string, { from: string; t: NamedArray }>();
  for (const [name, t] of checkpoint) {
    const ours = ourName(name);
    if (ours === null) {
      ignored.push(name);
      continue;
    }
    mapped.set(ours, { from: name, t });
  }

  const problems: string[] = [];
  const writes: { name: string; v: tf.Variable; data: Float32Array; shape: number[]; transpose: boolean }[] = [];
  const wanted = [...params.keys()].filter((k) => BERT_PARTS.some((p) => k.startsWith(p)));
  // The MLM head is optional in a checkpoint (BertModel has none): import it only when present.
  const hasMlm = [...mapped.keys()].some((k) => k.startsWith('cls.predictions.'));
  for (const name of wanted) {
    if (name.startsWith('cls.predictions.') && !hasMlm) continue;
    const v = params.get(name)!;
    const src = mapped.get(name);
    if (!src) {
      problems.push(`missing in checkpoint: ${name} (ours [${v.shape.join(', ')}])`);
      continue;
    }
    mapped.delete(name);
    const transpose = isLinearWeight(name);
    let theirs = src.t.shape;
    let data = src.t.data;
    const expected = transpose ? [...v.shape].reverse() : v.shape;
    if (name === 'embeddings.position_embeddings.weight' && opts.truncatePositions && theirs.length === 2 && theirs[1] === v.shape[1] && theirs[0]! > v.shape[0]!) {
      notes.push(`${src.from}: kept the first ${v.shape[0]} of ${theirs[0]} positions (maxTextLength)`);
      data = data.subarray(0, v.shape[0]! * v.shape[1]!);
      theirs = [v.shape[0]!, v.shape[1]!];
    }
    if (theirs.join() !== expected.join()) {
      const hint = name === 'embeddings.position_embeddings.weight' ? ' (pass truncatePositions to keep the first rows)' : '';
      problems.push(
        `shape mismatch: ${src.from} is [${theirs.join(', ')}], ours ${name} needs [${expected.join(', ')}]` +
          `${transpose ? ' in PyTorch [out, in] layout' : ''}${hint}`,
      );
      continue;
    }
    writes.push({ name, v, data, shape: theirs, transpose });
  }
  for (const [ours, { from }] of mapped) {
    if (ours.startsWith('cls.predictions.') && !wanted.some((k) => k.startsWith('cls.predictions.'))) {
      ignored.push(from); // our model was built without an MLM head
      continue;
    }
    problems.push(`unexpected in checkpoint: ${from} (no parameter ${ours} in this model — a different depth, width or layout?)`);
  }
  if (problems.length > 0) {
    throw new Error(`${problems.length} name/shape difference(s), nothing imported:\n  ${problems.join('\n  ')}`);
  }
  for (const w of writes) {
    tf.tidy(() => {
      const t = tf.tensor(w.data, w.shape, 'float32');
      w.v.assign(w.transpose ? t.transpose() : t);
    });
  }
  const imported = writes.map((w) => w.name);
  const done = new Set(imported);
  return { imported, untouched: [...params.keys()].filter((k) => !done.has(k)), ignored, notes };
}

/** Checkpoint name → our name, or null for tensors that are not weights we import. */
function ourName(name: string): string | null {
  let n = name.startsWith('bert.') ? name.slice(5) : name;
  if (n.endsWith('position_ids')) return null; // a buffer, not a weight
  if (n.startsWith('cls.seq_relationship.')) return null; // NSP: no counterpart (ITM is trained fresh)
  if (n === 'cls.predictions.decoder.weight') return null; // tied to embeddings.word_embeddings.weight
  if (n === 'cls.predictions.decoder.bias') return null; // same tensor as cls.predictions.bias
  n = n.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  // Task heads of other BERT models (e.g. `classifier.*`) are not part of the trunk.
  return BERT_PARTS.some((p) => n.startsWith(p)) ? n : null;
}

/** Dense/Linear weights are [out, in] in PyTorch; embeddings and LayerNorm are not transposed. */
function isLinearWeight(name: string): boolean {
  return name.endsWith('.weight') && !name.includes('_embeddings.') && !name.includes('LayerNorm');
}
