// Token-id rows → fixed-shape batches, and BERT's masked-language-model corruption.
// Rows are word-piece ids WITHOUT [CLS]/[SEP]; packing adds them, truncates and pads.

import type { Rng } from '../rng';

/** Ids of the special tokens (WordPieceTokenizer exposes them as padId, unkId, clsId, sepId, maskId). */
export interface SpecialIds {
  pad: number;
  unk: number;
  cls: number;
  sep: number;
  mask: number;
}

/** Label value meaning "no loss at this position" (PyTorch's CrossEntropyLoss ignore_index convention). */
export const IGNORE_INDEX = -100;

/** Text of B rows as row-major [B, T] int arrays (the layout tfjs tensors take directly). */
export interface TextBatch {
  batchSize: number;
  seqLen: number;
  inputIds: Int32Array;
  /** 1 for [CLS], word pieces and [SEP]; 0 for padding. */
  attentionMask: Int32Array;
}

export interface PackOptions {
  /** Total length including [CLS] and [SEP] (the spec's model.encoder.maxTextLength). */
  maxLength: number;
  /** 'max' pads every batch to maxLength (fixed shapes: no re-tracing); 'longest' to the longest row. */
  padTo?: 'max' | 'longest';
}

/** The special tokens a row may never have masked or predicted. */
export function specialSet(s: SpecialIds): ReadonlySet<number> {
  return new Set([s.pad, s.unk, s.cls, s.sep, s.mask]);
}

/** [CLS] ids… [SEP], truncated so that the whole is at most maxLength. */
export function wrapRow(ids: readonly number[], s: SpecialIds, maxLength: number): number[] {
  if (maxLength < 3) throw new Error(`maxLength must be ≥ 3 ([CLS], one token, [SEP]), got ${maxLength}`);
  return [s.cls, ...ids.slice(0, maxLength - 2), s.sep];
}

/** Packs already-wrapped rows (see wrapRow) into a padded batch. */
export function packRows(rows: readonly (readonly number[])[], s: SpecialIds, opts: PackOptions): TextBatch {
  const longest = rows.reduce((m, r) => Math.max(m, r.length), 0);
  if (longest > opts.maxLength) throw new Error(`packRows: a row has ${longest} tokens, more than maxLength ${opts.maxLength}`);
  const T = (opts.padTo ?? 'max') === 'max' ? opts.maxLength : longest;
  const B = rows.length;
  const inputIds = new Int32Array(B * T).fill(s.pad);
  const attentionMask = new Int32Array(B * T);
  rows.forEach((r, b) => {
    for (let t = 0; t < r.length; t++) {
      inputIds[b * T + t] = r[t] as number;
      attentionMask[b * T + t] = 1;
    }
  });
  return { batchSize: B, seqLen: T, inputIds, attentionMask };
}

export interface MlmOptions {
  specials: SpecialIds;
  vocabSize: number;
  /** Section 3.3 / BERT: 15 % of the text tokens. */
  probability?: number;
}

/**
 * BERT's masking (Devlin et al. 2019, Sec. 3.1, used unchanged by Pixel-BERT Sec. 3.3): each real
 * token is chosen with probability p; a chosen token becomes [MASK] 80 % of the time, a random
 * non-special token 10 %, and stays itself 10 %. Special tokens and padding are never chosen. A row
 * with real tokens but no draw gets one chosen uniformly, so every sentence contributes to the loss.
 * Returns the corrupted row and labels (the original id at chosen positions, IGNORE_INDEX elsewhere).
 */
export function maskRow(row: readonly number[], opts: MlmOptions, rng: Rng): { ids: number[]; labels: number[] } {
  const p = opts.probability ?? 0.15;
  const special = specialSet(opts.specials);
  if (opts.vocabSize <= special.size) throw new Error(`maskRow: vocabSize ${opts.vocabSize} leaves no non-special token to draw`);
  const ids = [...row];
  const labels = new Array<number>(row.length).fill(IGNORE_INDEX);
  const candidates: number[] = [];
  for (let i = 0; i < row.length; i++) if (!special.has(row[i] as number)) candidates.push(i);
  if (candidates.length === 0) return { ids, labels };
  let chosen = candidates.filter(() => rng.next() < p);
  if (chosen.length === 0) chosen = [rng.pick(candidates)];
  for (const i of chosen) {
    labels[i] = row[i] as number;
    const r = rng.next();
    if (r < 0.8) ids[i] = opts.specials.mask;
    else if (r < 0.9) {
      let t: number;
      do t = rng.int(opts.vocabSize);
      while (special.has(t));
      ids[i] = t;
    } // else: kept as is, but still predicted
  }
  return { ids, labels };
}

/** The special ids of a WordPiece tokenizer (the shape @pixel-bert/data's WordPieceTokenizer has). */
export function specialIdsOf(t: { padId: number; unkId: number; clsId: number; sepId: number; maskId: number }): SpecialIds {
  return { pad: t.padId, unk: t.unkId, cls: t.clsId, sep: t.sepId, mask: t.maskId };
}

/** Word-piece ids of a text without [CLS]/[SEP] (what the batch builders take), at most maxPieces long. */
export function textToIds(t: { encode(text: string, o: { maxLength: number; padding: 'none' }): { ids: number[] } }, text: string, maxPieces = 510): number[] {
  return t.encode(text, { maxLength: maxPieces + 2, padding: 'none' }).ids.slice(1, -1);
}
