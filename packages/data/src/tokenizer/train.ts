import { basicTokenize } from './basic';
import { SPECIAL_TOKENS, TokenizerError } from './vocab';

export interface TrainWordPieceOptions {
  /** Target vocabulary size including special tokens and the alphabet. */
  vocabSize: number;
  /** Merges whose pair occurs fewer times than this are not learnt (default 2). */
  minFrequency?: number;
  /** Extra tokens placed right after the BERT specials (e.g. `[unused0]`). */
  extraSpecialTokens?: readonly string[];
  lowercase?: boolean;
  continuingSubwordPrefix?: string;
}

/**
 * Learn a WordPiece vocabulary from a corpus, deterministically.
 *
 * Algorithm (the one Hugging Face's WordPieceTrainer uses, not Google's unpublished likelihood
 * trainer): split every word into characters, non-initial ones carrying the `##` prefix; then
 * repeatedly merge the most frequent adjacent pair (ties broken by the pair's text, so the same
 * corpus always gives the same file) until the vocabulary is full or no pair is frequent enough.
 * Every character of the corpus is in the vocabulary, so the corpus itself never yields [UNK].
 *
 * Cost is O(merges × distinct words); fine for generated corpora (thousands of distinct words),
 * not meant for Wikipedia-sized ones — use a released vocabulary for those.
 */
export function trainWordPiece(corpus: Iterable<string>, opts: TrainWordPieceOptions): string[] {
  const prefix = opts.continuingSubwordPrefix ?? '##';
  const minFrequency = opts.minFrequency ?? 2;
  const basic = { lowercase: opts.lowercase ?? true, stripAccents: opts.lowercase ?? true, handleChineseChars: true, neverSplit: new Set<string>() };

  const counts = new Map<string, number>();
  for (const line of corpus) {
    for (const w of basicTokenize(line, basic)) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  // Sorted so iteration order (and hence every tie) is independent of corpus order.
  const words = [...counts.keys()].sort();
  const freq = words.map((w) => counts.get(w)!);
  const symbols: string[][] = words.map((w) => Array.from(w).map((c, i) => (i === 0 ? c : prefix + c)));

  const vocab: string[] = [...SPECIAL_TOKENS, ...(opts.extraSpecialTokens ?? [])];
  const inVocab = new Set(vocab);
  const alphabet = new Set<string>();
  for (const s of symbols) for (const c of s) alphabet.add(c);
  for (const c of [...alphabet].sort()) {
    if (!inVocab.has(c)) {
      vocab.push(c);
      inVocab.add(c);
    }
  }
  if (vocab.length > opts.vocabSize) {
    throw new TokenizerError(`trainWordPiece: vocabSize ${opts.vocabSize} is smaller than specials + alphabet (${vocab.length})`);
  }

  const merged = (a: string, b: string) => a + (b.startsWith(prefix) ? b.slice(prefix.length) : b);
  while (vocab.length < opts.vocabSize) {
    const pairCounts = new Map<string, number>();
    for (let w = 0; w < symbols.length; w++) {
      const s = symbols[w]!;
      for (let i = 0; i + 1 < s.length; i++) {
        const key = s[i]! + '\u0000' + s[i + 1]!;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + freq[w]!);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, c] of pairCounts) {
      if (c > bestCount || (c === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === undefined || bestCount < minFrequency) break;
    const [a, b] = best.split('\u0000') as [string, string];
    const token = merged(a, b);
    for (const s of symbols) {
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) s.splice(i, 2, token);
      }
    }
    if (!inVocab.has(token)) {
      vocab.push(token);
      inVocab.add(token);
    }
  }
  return vocab;
}
