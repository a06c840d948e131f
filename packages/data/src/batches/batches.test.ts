import { describe, expect, it } from 'vitest';
import { rngFor } from '../rng';
import { captionsFor, sampleScene } from '../synth/index';
import { Vocab, WordPieceTokenizer, trainWordPiece } from '../tokenizer/index';
import {
  IGNORE_INDEX,
  ITM_IGNORE,
  batchIndices,
  buildNlvr2Batch,
  buildPretrainBatch,
  buildRetrievalTrainBatch,
  buildVqaBatch,
  epochOrder,
  maskRow,
  packRows,
  retrievalEvalBatch,
  retrievalEvalSteps,
  specialIdsOf,
  stepsPerEpoch,
  textToIds,
  wrapRow,
  type CaptionExample,
  type SpecialIds,
} from './index';

// The bert-base-uncased layout: [PAD]=0, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103.
const sp: SpecialIds = { pad: 0, unk: 100, cls: 101, sep: 102, mask: 103 };
const SPECIAL = new Set([0, 100, 101, 102, 103]);
const V = 1000;

/** Captions of `images` images, `per` each, with ids from a seeded stream (never special). */
function captions(images: number, per: number, seed = 1): CaptionExample[] {
  const rng = rngFor(seed, 'captions');
  const out: CaptionExample[] = [];
  for (let i = 0; i < images; i++)
    for (let k = 0; k < per; k++) out.push({ imageIndex: i, ids: Array.from({ length: rng.range(3, 14) }, () => rng.range(1000 - 800, V - 1)) });
  return out;
}

describe('MLM masking', () => {
  it('chooses ~15 % of real tokens, replaces 80/10/10, never touches specials, at least one per sentence', () => {
    let real = 0;
    let chosen = 0;
    let masked = 0;
    let random = 0;
    let kept = 0;
    const rng = rngFor(42, 'mlm-test');
    const violations: string[] = [];
    for (let r = 0; r < 3000; r++) {
      const n = rng.range(1, 30);
      const row = wrapRow(Array.from({ length: n }, () => rng.range(200, V - 1)), sp, 32);
      while (row.length < 32) row.push(sp.pad);
      row[rng.range(1, n)] = sp.unk; // an [UNK] inside the sentence must not be chosen either
      const m = maskRow(row, { specials: sp, vocabSize: V }, rng);
      let inRow = 0;
      row.forEach((orig, i) => {
        const lab = m.labels[i] as number;
        const now = m.ids[i] as number;
        if (SPECIAL.has(orig)) {
          if (lab !== IGNORE_INDEX || now !== orig) violations.push(`row ${r} pos ${i}: special ${orig} touched`);
          return;
        }
        real++;
        if (lab === IGNORE_INDEX) {
          if (now !== orig) violations.push(`row ${r} pos ${i}: changed without a label`);
          return;
        }
        if (lab !== orig) violations.push(`row ${r} pos ${i}: label ${lab} ≠ original ${orig}`);
        chosen++;
        inRow++;
        if (now === sp.mask) masked++;
        else if (now === orig) kept++;
        else {
          random++;
          if (SPECIAL.has(now)) violations.push(`row ${r} pos ${i}: random replacement is special ${now}`);
        }
      });
      if (n > 1 && inRow === 0) violations.push(`row ${r}: nothing chosen`); // n = 1 and that token turned [UNK]: nothing to choose
    }
    expect(violations.slice(0, 5)).toEqual([]);
    // "At least one" adds a little above 15 % for short rows; bounds hold for this seed and n.
    expect(chosen / real).toBeGreaterThan(0.15);
    expect(chosen / real).toBeLessThan(0.19);
    expect(masked / chosen).toBeCloseTo(0.8, 1);
    expect(random / chosen).toBeGreaterThan(0.08);
    expect(random / chosen).toBeLessThan(0.12);
    expect(kept / chosen).toBeGreaterThan(0.08);
    expect(kept / chosen).toBeLessThan(0.12 + 0.01); // a random draw can hit the original id
  });
});

describe('batch order', () => {
  it('covers every example once per epoch, reshuffles each epoch, and rejects steps past the end', () => {
    const n = 103;
    const b = 10;
    for (const epoch of [0, 1]) {
      const seen: number[] = [];
      for (let step = 0; step < stepsPerEpoch(n, b); step++) seen.push(...batchIndices(n, b, { seed: 3, epoch, step }));
      expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    expect(epochOrder(n, 3, 0)).not.toEqual(epochOrder(n, 3, 1));
    expect(() => batchIndices(n, b, { seed: 3, epoch: 0, step: 11 })).toThrow(/past the end of the epoch/);
    expect(batchIndices(n, b, { seed: 3, epoch: 0, step: 9 }, true)).toHaveLength(10);
  });

  it('a resumed run sees exactly the batches of an uninterrupted run', () => {
    const ex = captions(40, 3);
    const o = { specials: sp, batchSize: 8, maxLength: 16, mlm: true, itm: true, vocabSize: V };
    const steps = stepsPerEpoch(ex.length, o.batchSize);
    const snapshot = (e: number, s: number): string => {
      const b = buildPretrainBatch(ex, { seed: 11, epoch: e, step: s }, o);
      return JSON.stringify([...b.imageIndex, ...b.text.inputIds, ...(b.mlmLabels ?? []), ...(b.itmLabels ?? [])]);
    };
    const uninterrupted: string[] = [];
    for (let e = 0; e < 3; e++) for (let s = 0; s < steps; s++) uninterrupted.push(snapshot(e, s));
    // "Crash" in epoch 1 at step 5: other work runs in between (other seeds, other epochs) and the
    // run continues from the saved (epoch, step) only.
    buildPretrainBatch(ex, { seed: 99, epoch: 7, step: 0 }, o);
    const resumed: string[] = [];
    for (let e = 1; e < 3; e++) for (let s = e === 1 ? 5 : 0; s < steps; s++) resumed.push(snapshot(e, s));
    expect(resumed).toEqual(uninterrupted.slice(steps + 5));
    expect(new Set(uninterrupted).size).toBe(uninterrupted.length); // and batches do differ
  });
});

describe('task batches', () => {
  it('hard ITM negatives: another image’s caption sharing more words with the positive than random ones, never word for word the same', () => {
    // Captions over a 40-word vocabulary, so that random pairs share some words and the best of 16 shares many.
    const rng = rngFor(3, 'hard');
    const ex: CaptionExample[] = [];
    for (let i = 0; i < 60; i++) for (let k = 0; k < 2; k++) ex.push({ imageIndex: i, ids: Array.from({ length: 6 }, () => 200 + rng.int(40)) });
    ex.push({ imageIndex: 59, ids: [...(ex[0] as CaptionExample).ids] }); // a duplicate of image 0's caption elsewhere
    const jaccard = (a: number[], b: number[]) => {
      const A = new Set(a), B = new Set(b);
      const shared = [...A].filter((t) => B.has(t)).length;
      return shared / (A.size + B.size - shared);
    };
    const negatives = (fraction: number) => {
      const o = { specials: sp, batchSize: 30, maxLength: 16, mlm: false, itm: true, vocabSize: V, itmHard: { fraction, candidates: 16 } };
      const scores: number[] = [];
      for (let step = 0; step < 4; step++) {
        const b = buildPretrainBatch(ex, { seed: 5, epoch: 0, step }, o);
        const T = b.text.seqLen;
        for (let r = 0; r < b.text.batchSize; r += 2) {
          const row = (k: number) => [...b.text.inputIds.slice(k * T, (k + 1) * T)].filter((t) => t !== sp.pad && t !== sp.cls && t !== sp.sep);
          const [pos, neg] = [row(r), row(r + 1)];
          expect(neg).not.toEqual(pos);
          expect(ex.some((e) => e.imageIndex !== b.imageIndex[r] && e.ids.join() === neg.join())).toBe(true);
          scores.push(jaccard(pos, neg));
        }
      }
      return scores.reduce((a, b) => a + b, 0) / scores.length;
    };
    const [random, half, hard] = [negatives(0), negatives(0.5), negatives(1)];
    expect(hard).toBeGreaterThan(random + 0.1);
    expect(half).toBeGreaterThan(random);
    expect(half).toBeLessThan(hard);
  });

  it('ITM negatives that replace the image: the positive’s own caption with another image of the batch, the most similar caption’s when hard, never an image with the same caption', () => {
    const rng = rngFor(4, 'replace');
    const ex: CaptionExample[] = [];
    for (let i = 0; i < 60; i++) for (let k = 0; k < 2; k++) ex.push({ imageIndex: i, ids: Array.from({ length: 6 }, () => 200 + rng.int(40)) });
    for (let i = 0; i < 40; i++) ex.push({ imageIndex: 60 + i, ids: [...(ex[i] as CaptionExample).ids] }); // duplicates of captions on other images
    const jaccard = (a: readonly number[], b: readonly number[]) => {
      const A = new Set(a), B = new Set(b);
      const shared = [...A].filter((t) => B.has(t)).length;
      return shared / (A.size + B.size - shared);
    };
    for (const hard of [false, true]) {
      const o = { specials: sp, batchSize: 16, maxLength: 16, mlm: false, itm: true, vocabSize: V, itmReplace: 'image' as const, ...(hard ? { itmHard: { fraction: 1, candidates: 16 } } : {}) };
      for (let step = 0; step < 6; step++) {
        const b = buildPretrainBatch(ex, { seed: 9, epoch: 0, step }, o);
        const T = b.text.seqLen;
        const batchImages = new Set(Array.from(b.exampleIndex, (i) => ex[i]!.imageIndex));
        for (let p = 0; p < b.exampleIndex.length; p++) {
          const pos = ex[b.exampleIndex[p]!]!;
          const neg = ex[b.itmNegativeIndex![p]!]!;
          const [r0, r1] = [b.text.inputIds.slice(2 * p * T, (2 * p + 1) * T), b.text.inputIds.slice((2 * p + 1) * T, (2 * p + 2) * T)];
          expect([...r1]).toEqual([...r0]); // the same caption in both rows
          expect(b.imageIndex[2 * p]).toBe(pos.imageIndex);
          expect(b.imageIndex[2 * p + 1]).toBe(neg.imageIndex);
          expect(neg.imageIndex).not.toBe(pos.imageIndex);
          expect(neg.ids.join()).not.toBe(pos.ids.join());
          expect(batchImages.has(neg.imageIndex)).toBe(true); // no image beyond the batch's
          if (hard) {
            // the best of the batch's other captions (not word for word the positive's)
            const best = Math.max(...Array.from(b.exampleIndex, (i) => ex[i]!).filter((e) => e.imageIndex !== pos.imageIndex && e.ids.join() !== pos.ids.join()).map((e) => jaccard(pos.ids, e.ids)));
            expect(jaccard(pos.ids, neg.ids)).toBe(best);
          }
        }
        expect(Array.from(b.itmLabels!)).toEqual(Array.from({ length: 32 }, (_, r) => (r % 2 === 0 ? 1 : 0)));
      }
    }
  });

  it('pre-training with ITM: positive then negative of the same image with another image’s caption; MLM learnt on positives only, negatives masked alike', () => {
    const ex = captions(30, 5);
    const b = buildPretrainBatch(ex, { seed: 1, epoch: 0, step: 2 }, { specials: sp, batchSize: 16, maxLength: 16, mlm: true, itm: true, vocabSize: V });
    const T = b.text.seqLen;
    expect(b.text.batchSize).toBe(32);
    expect([...(b.itmLabels ?? [])]).toEqual(Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? 1 : 0)));
    // The negative's words are masked too (labels ignored): find its caption as the one it differs least from.
    const closest = (row: number[]) => {
      let best: { image: number; diff: number } = { image: -1, diff: Infinity };
      for (const e of ex) {
        const w = wrapRow(e.ids, sp, 16);
        if (w.length !== row.length) continue;
        const diff = w.filter((t, i) => t !== row[i]).length;
        if (diff < best.diff) best = { image: e.imageIndex, diff };
      }
      return best;
    };
    let maskedNegatives = 0;
    for (let r = 0; r < 32; r += 2) {
      expect(b.imageIndex[r]).toBe(b.imageIndex[r + 1]);
      expect(b.imageIndex[r]).toBe((ex[b.exampleIndex[r / 2] as number] as CaptionExample).imageIndex);
      const negRow = [...b.text.inputIds.slice((r + 1) * T, (r + 2) * T)].filter((t) => t !== sp.pad);
      if (negRow.includes(sp.mask)) maskedNegatives++;
      const neg = closest(negRow);
      expect(neg.diff).toBeLessThanOrEqual(Math.ceil(negRow.length / 2));
      expect(neg.image).not.toBe(b.imageIndex[r]);
      const posLabels = [...(b.mlmLabels ?? []).slice(r * T, (r + 1) * T)];
      const negLabels = [...(b.mlmLabels ?? []).slice((r + 1) * T, (r + 2) * T)];
      expect(posLabels.some((l) => l !== IGNORE_INDEX)).toBe(true);
      expect(negLabels.every((l) => l === IGNORE_INDEX)).toBe(true);
    }
    expect(maskedNegatives).toBeGreaterThan(4); // [MASK] appears in negatives as in positives
    // MLM only: no ITM rows, no labels array for ITM.
    const m = buildPretrainBatch(ex, { seed: 1, epoch: 0, step: 2 }, { specials: sp, batchSize: 16, maxLength: 16, mlm: true, itm: false, vocabSize: V });
    expect(m.text.batchSize).toBe(16);
    expect(m.itmLabels).toBeNull();
    expect(() => buildPretrainBatch(ex, { seed: 1, epoch: 0, step: 0 }, { specials: sp, batchSize: 4, maxLength: 16, mlm: false, itm: false, vocabSize: V })).toThrow(/at least one task/);
    expect(() => buildPretrainBatch(captions(1, 4), { seed: 1, epoch: 0, step: 0 }, { specials: sp, batchSize: 4, maxLength: 16, mlm: false, itm: true, vocabSize: V })).toThrow(/at least two images/);
  });

  it('ITM on whole captions beside MLM (itmText: unmasked): per example an MLM row, then the ITM positive and negative unmasked; the default layout is unchanged', () => {
    const ex = captions(30, 5);
    const base = { specials: sp, batchSize: 16, maxLength: 16, mlm: true, itm: true, vocabSize: V };
    for (const itmReplace of ['caption', 'image'] as const) {
      const b = buildPretrainBatch(ex, { seed: 1, epoch: 0, step: 2 }, { ...base, itmReplace, itmText: 'unmasked' });
      const T = b.text.seqLen;
      expect(b.rowsPerExample).toBe(3);
      expect(b.text.batchSize).toBe(48);
      expect([...(b.itmLabels ?? [])]).toEqual(Array.from({ length: 48 }, (_, i) => [ITM_IGNORE, 1, 0][i % 3]));
      const row = (r: number) => [...b.text.inputIds.slice(r * T, (r + 1) * T)].filter((t) => t !== sp.pad);
      const labels = (r: number) => [...(b.mlmLabels ?? []).slice(r * T, (r + 1) * T)];
      for (let i = 0; i < 16; i++) {
        const own = ex[b.exampleIndex[i]!]!;
        const [m, p, q] = [3 * i, 3 * i + 1, 3 * i + 2];
        // the MLM row: the example's caption, masked, with labels; on the example's image
        expect(labels(m).some((l) => l !== IGNORE_INDEX)).toBe(true);
        expect(b.imageIndex[m]).toBe(own.imageIndex);
        // the ITM rows: whole captions, no MLM labels
        expect(row(p)).toEqual(wrapRow(own.ids, sp, 16));
        expect(b.imageIndex[p]).toBe(own.imageIndex);
        expect(row(q)).not.toContain(sp.mask);
        expect([...labels(p), ...labels(q)].every((l) => l === IGNORE_INDEX)).toBe(true);
        const neg = ex[b.itmNegativeIndex![i]!]!;
        if (itmReplace === 'image') {
          expect(row(q)).toEqual(row(p));
          expect(b.imageIndex[q]).toBe(neg.imageIndex);
        } else {
          expect(row(q)).toEqual(wrapRow(neg.ids, sp, 16));
          expect(b.imageIndex[q]).toBe(own.imageIndex);
        }
      }
    }
    // `masked` is the default, bit for bit; without MLM, `unmasked` changes nothing.
    const snap = (b: ReturnType<typeof buildPretrainBatch>) => JSON.stringify([[...b.imageIndex], [...b.text.inputIds], [...(b.mlmLabels ?? [])], [...(b.itmLabels ?? [])]]);
    expect(snap(buildPretrainBatch(ex, { seed: 1, epoch: 0, step: 2 }, { ...base, itmText: 'masked' }))).toBe(snap(buildPretrainBatch(ex, { seed: 1, epoch: 0, step: 2 }, base)));
    const itmOnly = { ...base, mlm: false };
    expect(snap(buildPretrainBatch(ex, { seed: 1, epoch: 0, step: 2 }, { ...itmOnly, itmText: 'unmasked' }))).toBe(snap(buildPretrainBatch(ex, { seed: 1, epoch: 0, step: 2 }, itmOnly)));
    expect(buildPretrainBatch(ex, { seed: 1, epoch: 0, step: 2 }, base).rowsPerExample).toBe(2);
  });

  it('packs [CLS] … [SEP] with padding and truncation', () => {
    const t = packRows([wrapRow([5, 6, 7, 8, 9], sp, 5), wrapRow([5], sp, 5)], sp, { maxLength: 5 });
    expect([...t.inputIds]).toEqual([101, 5, 6, 7, 102, 101, 5, 102, 0, 0]);
    expect([...t.attentionMask]).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  });

  it('VQA soft targets land at their answer indices; out-of-range indices are an error', () => {
    const ex = [
      { imageIndex: 4, ids: [300, 301], target: { indices: [2, 0], scores: [1, 0.3] } },
      { imageIndex: 5, ids: [302], target: { indices: [1], scores: [0.6] } },
    ];
    const b = buildVqaBatch(ex, { seed: 0, epoch: 0, step: 0 }, { specials: sp, batchSize: 2, maxLength: 8, answerVocabSize: 3 });
    for (let r = 0; r < 2; r++) {
      const e = ex[b.exampleIndex[r] as number] as (typeof ex)[number];
      const row = [...b.targets.slice(r * 3, r * 3 + 3)];
      const want = [0, 0, 0];
      e.target.indices.forEach((a, k) => (want[a] = e.target.scores[k] as number));
      expect(row.map((x) => Math.round(x * 10) / 10)).toEqual(want);
      expect(b.imageIndex[r]).toBe(e.imageIndex);
    }
    expect(() => buildVqaBatch(ex, { seed: 0, epoch: 0, step: 0 }, { specials: sp, batchSize: 2, maxLength: 8, answerVocabSize: 2 })).toThrow(/answer index 2 outside/);
  });

  it('NLVR² rows come in (left, right) pairs sharing the sentence', () => {
    const ex = [
      { imageIndex: [0, 1] as const, ids: [300], label: true },
      { imageIndex: [2, 3] as const, ids: [301, 302], label: false },
    ];
    const b = buildNlvr2Batch(ex, { seed: 0, epoch: 0, step: 0 }, { specials: sp, batchSize: 2, maxLength: 6 });
    for (let i = 0; i < 2; i++) {
      const e = ex[b.exampleIndex[i] as number] as (typeof ex)[number];
      expect([b.imageIndex[2 * i], b.imageIndex[2 * i + 1]]).toEqual([...e.imageIndex]);
      expect([...b.text.inputIds.slice(2 * i * 6, 2 * i * 6 + 6)]).toEqual([...b.text.inputIds.slice((2 * i + 1) * 6, (2 * i + 2) * 6)]);
      expect(b.labels[i]).toBe(e.label ? 1 : 0);
    }
  });

  it('hard retrieval negatives: the first round(fraction × N) of a group share more words with the true caption than random ones; all still distinct captions of other images', () => {
    const rng = rngFor(4, 'retrieval-hard');
    const ex: CaptionExample[] = [];
    for (let i = 0; i < 60; i++) for (let k = 0; k < 2; k++) ex.push({ imageIndex: i, ids: Array.from({ length: 6 }, () => 200 + rng.int(40)) });
    const similarity = (a: readonly number[], b: readonly number[]) => {
      const A = new Set(a), B = new Set(b);
      const shared = [...A].filter((t) => B.has(t)).length;
      return shared / (A.size + B.size - shared);
    };
    const N = 6;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const bySlot = (hard?: { fraction: number; candidates: number }) => {
      const first: number[] = [];
      const last: number[] = [];
      for (let step = 0; step < 5; step++) {
        const b = buildRetrievalTrainBatch(ex, { seed: 9, epoch: 0, step }, { specials: sp, batchSize: 10, maxLength: 16, negatives: N, ...(hard ? { hard } : {}) });
        const T = b.text.seqLen;
        const row = (r: number) => [...b.text.inputIds.slice(r * T, (r + 1) * T)].filter((t) => t !== sp.pad && t !== sp.cls && t !== sp.sep);
        for (let g = 0; g < 10; g++) {
          const img = ex[b.exampleIndex[g]!]!.imageIndex;
          const pos = row(g * (N + 1));
          const negs = Array.from({ length: N }, (_, k) => row(g * (N + 1) + 1 + k));
          expect(new Set(negs.map((n) => n.join())).size).toBe(N);
          for (const n of negs) {
            expect(n).not.toEqual(pos);
            expect(ex.some((e) => e.imageIndex !== img && e.ids.join() === n.join())).toBe(true);
          }
          negs.forEach((n, k) => (k < N / 2 ? first : last).push(similarity(pos, n)));
        }
      }
      return { first: mean(first), last: mean(last) };
    };
    const random = bySlot();
    const half = bySlot({ fraction: 0.5, candidates: 16 });
    expect(half.first).toBeGreaterThan(random.first + 0.1);
    expect(Math.abs(half.last - random.last)).toBeLessThan(0.05);
    expect(half.last).toBeLessThan(half.first - 0.1);
  });

  it('retrieval groups: the true caption then 20 distinct captions of other images; evaluation covers every pair once', () => {
    const ex = captions(30, 5);
    const b = buildRetrievalTrainBatch(ex, { seed: 2, epoch: 1, step: 0 }, { specials: sp, batchSize: 4, maxLength: 16, negatives: 20 });
    expect(b.groupSize).toBe(21);
    expect(b.text.batchSize).toBe(4 * 21);
    const T = b.text.seqLen;
    const rowOf = (r: number): string => JSON.stringify([...b.text.inputIds.slice(r * T, (r + 1) * T)].filter((t) => t !== sp.pad));
    const owner = new Map(ex.map((e) => [JSON.stringify(wrapRow(e.ids, sp, 16)), e.imageIndex]));
    for (let g = 0; g < 4; g++) {
      const img = (ex[b.exampleIndex[g] as number] as CaptionExample).imageIndex;
      expect(owner.get(rowOf(g * 21))).toBe(img);
      const negs = Array.from({ length: 20 }, (_, k) => rowOf(g * 21 + 1 + k));
      expect(new Set(negs).size).toBe(20);
      for (const n of negs) expect(owner.get(n)).not.toBe(img);
    }
    // A caption that is word for word one of the positive image's own captions is never a negative.
    const dup: CaptionExample[] = [
      { imageIndex: 0, ids: [500, 501] },
      { imageIndex: 1, ids: [500, 501] }, // image 1 says exactly what image 0 says
      { imageIndex: 1, ids: [510] },
      { imageIndex: 2, ids: [520] },
      { imageIndex: 3, ids: [530] },
      { imageIndex: 4, ids: [540] },
    ];
    let checked = 0;
    for (let step = 0; step < 20; step++) {
      const d = buildRetrievalTrainBatch(dup, { seed: step, epoch: 0, step: 0 }, { specials: sp, batchSize: 1, maxLength: 8, negatives: 3 });
      const Td = d.text.seqLen;
      const first = (d.exampleIndex[0] as number) <= 1 ? 'dup' : 'other';
      const texts = Array.from({ length: 4 }, (_, r) => JSON.stringify([...d.text.inputIds.slice(r * Td, (r + 1) * Td)].filter((t) => t !== sp.pad)));
      if (first === 'dup') {
        expect(texts.slice(1)).not.toContain(texts[0]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
    const caps = [[300], [301, 302], [303]];
    const steps = retrievalEvalSteps(4, caps.length, 5);
    const cells = new Set<string>();
    for (let s = 0; s < steps; s++) {
      const e = retrievalEvalBatch(4, caps, s, { specials: sp, batchSize: 5, maxLength: 6 });
      e.image.forEach((im, k) => cells.add(`${im},${e.caption[k]}`));
    }
    expect(cells.size).toBe(12);
    expect(() => retrievalEvalBatch(4, caps, steps, { specials: sp, batchSize: 5, maxLength: 6 })).toThrow(/outside/);
  });
});

describe('with the real tokenizer on generated captions', () => {
  it('masks words of generated captions and never the specials of the trained vocabulary', () => {
    const caps = Array.from({ length: 60 }, (_, i) =>
      captionsFor(sampleScene(rngFor(8, i), { imageSize: 128, objectsMin: 2, objectsMax: 4 }), 5, rngFor(8, 'c', i)).map((c) => ({ imageIndex: i, raw: c.raw })),
    ).flat();
    const tok = new WordPieceTokenizer(new Vocab(trainWordPiece(caps.map((c) => c.raw), { vocabSize: 400 })));
    const specials = specialIdsOf(tok);
    const ex = caps.map((c) => ({ imageIndex: c.imageIndex, ids: textToIds(tok, c.raw) }));
    expect(tok.tokenize(caps[0]!.raw).join(' ')).toBe(ex[0]!.ids.map((i) => tok.vocab.token(i)).join(' '));
    const b = buildPretrainBatch(ex, { seed: 0, epoch: 0, step: 0 }, { specials, batchSize: 32, maxLength: 40, mlm: true, itm: true, vocabSize: tok.vocabSize });
    const T = b.text.seqLen;
    let labelled = 0;
    for (let k = 0; k < b.text.inputIds.length; k++) {
      const lab = b.mlmLabels![k] as number;
      if (lab === IGNORE_INDEX) continue;
      labelled++;
      expect([specials.pad, specials.cls, specials.sep, specials.unk, specials.mask]).not.toContain(lab);
      expect(b.text.attentionMask[k]).toBe(1);
    }
    expect(labelled).toBeGreaterThanOrEqual(32); // ≥ 1 per positive row
    expect(b.text.inputIds[0]).toBe(specials.cls);
    expect(T).toBe(40);
  });
});
