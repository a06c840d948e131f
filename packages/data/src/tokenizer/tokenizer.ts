import { basicTokenize } from './basic';
import { readTokenizerJson, readVocabTxt, TokenizerError, Vocab } from './vocab';

export interface WordPieceOptions {
  lowercase?: boolean;
  stripAccents?: boolean;
  handleChineseChars?: boolean;
  continuingSubwordPrefix?: string;
  /** Longer words become a single [UNK] (BERT: 100). */
  maxInputCharsPerWord?: number;
}

export interface EncodeOptions {
  /** Total length including [CLS]/[SEP]; longer input is truncated (longest-first for pairs). */
  maxLength: number;
  /** 'max': pad with [PAD] to maxLength (default); 'none': no padding. */
  padding?: 'max' | 'none';
}

export interface Encoding {
  ids: number[];
  /** 1 for real tokens (incl. [CLS]/[SEP]), 0 for padding. */
  attentionMask: number[];
  /** Segment ids: 0 for [CLS] A [SEP], 1 for B [SEP]. */
  tokenTypeIds: number[];
  tokens: string[];
  /** Index of the basic-tokenizer word each piece came from (per segment); null for special and pad tokens. */
  wordIds: (number | null)[];
  /** Which segment the word id refers to; null for special and pad tokens. */
  sequenceIds: (0 | 1 | null)[];
  /** Tokens dropped by truncation (0 when it fitted). */
  truncated: number;
}

interface Pieces {
  ids: number[];
  words: number[];
}

/** BERT uncased WordPiece: basic tokenisation, then greedy longest-match-first word pieces. */
export class WordPieceTokenizer {
  readonly vocab: Vocab;
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
  readonly handleChineseChars: boolean;
  readonly prefix: string;
  readonly maxInputCharsPerWord: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
  private readonly neverSplit: ReadonlySet<string>;

  constructor(vocab: Vocab, opts: WordPieceOptions = {}) {
    this.vocab = vocab;
    this.lowercase = opts.lowercase ?? true;
    this.stripAccents = opts.stripAccents ?? this.lowercase;
    this.handleChineseChars = opts.handleChineseChars ?? true;
    this.prefix = opts.continuingSubwordPrefix ?? '##';
    this.maxInputCharsPerWord = opts.maxInputCharsPerWord ?? 100;
    this.padId = vocab.id('[PAD]');
    this.unkId = vocab.id('[UNK]');
    this.clsId = vocab.id('[CLS]');
    this.sepId = vocab.id('[SEP]');
    this.maskId = vocab.id('[MASK]');
    this.neverSplit = new Set(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  }

  static fromVocabFile(path: string, opts?: WordPieceOptions): WordPieceTokenizer {
    return new WordPieceTokenizer(readVocabTxt(path), opts);
  }

  static fromTokenizerJson(path: string): WordPieceTokenizer {
    const t = readTokenizerJson(path);
    return new WordPieceTokenizer(t.vocab, t);
  }

  /** Load `vocab.txt` or a Hugging Face `tokenizer.json`, chosen by the file name. */
  static fromFile(path: string, opts?: WordPieceOptions): WordPieceTokenizer {
    return path.endsWith('.json') ? WordPieceTokenizer.fromTokenizerJson(path) : WordPieceTokenizer.fromVocabFile(path, opts);
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  /** The basic-tokenizer words of a text (what `wordIds` index). */
  words(text: string): string[] {
    return basicTokenize(text, {
      lowercase: this.lowercase,
      stripAccents: this.stripAccents,
      handleChineseChars: this.handleChineseChars,
      neverSplit: this.neverSplit,
    });
  }

  /** Word pieces of one word; a word with no complete segmentation becomes a single [UNK]. */
  wordToIds(word: string): number[] {
    const special = this.vocab.get(word);
    if (special !== undefined && this.neverSplit.has(word)) return [special];
    const chars = Array.from(word);
    if (chars.length > this.maxInputCharsPerWord) return [this.unkId];
    const out: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: number | undefined;
      while (start < end) {
        const sub = (start > 0 ? this.prefix : '') + chars.slice(start, end).join('');
        found = this.vocab.get(sub);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.unkId];
      out.push(found);
      start = end;
    }
    return out;
  }

  private pieces(text: string): Pieces {
    const ids: number[] = [];
    const words: number[] = [];
    this.words(text).forEach((w, wi) => {
      for (const id of this.wordToIds(w)) {
        ids.push(id);
        words.push(wi);
      }
    });
    return { ids, words };
  }

  /** Word-piece ids of a text, without special tokens (the rows batch builders take). */
  ids(text: string): number[] {
    return this.pieces(text).ids;
  }

  /** Word-piece strings of a text, without special tokens. */
  tokenize(text: string): string[] {
    return this.pieces(text).ids.map((id) => this.vocab.token(id));
  }

  /** `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, truncated and padded to `maxLength`. */
  encode(text: string, pairOrOpts: string | EncodeOptions, maybeOpts?: EncodeOptions): Encoding {
    const pair = typeof pairOrOpts === 'string' ? pairOrOpts : undefined;
    const opts = typeof pairOrOpts === 'string' ? maybeOpts : pairOrOpts;
    if (!opts) throw new TokenizerError('encode: options with maxLength are required');
    const { maxLength } = opts;
    const specials = pair === undefined ? 2 : 3;
    if (!Number.isInteger(maxLength) || maxLength < specials + 1) {
      throw new TokenizerError(`encode: maxLength must be an integer ≥ ${specials + 1} (got ${maxLength})`);
    }
    const a = this.pieces(text);
    const b = pair === undefined ? undefined : this.pieces(pair);
    const budget = maxLength - specials;
    let la = a.ids.length;
    let lb = b?.ids.length ?? 0;
    // Longest-first truncation, one token at a time, as BERT's run_classifier does.
    while (la + lb > budget) {
      if (la >= lb) la--;
      else lb--;
    }
    const truncated = a.ids.length - la + (b ? b.ids.length - lb : 0);

    const ids: number[] = [];
    const tokenTypeIds: number[] = [];
    const wordIds: (number | null)[] = [];
    const sequenceIds: (0 | 1 | null)[] = [];
    const push = (id: number, type: 0 | 1, word: number | null, seq: 0 | 1 | null) => {
      ids.push(id);
      tokenTypeIds.push(type);
      wordIds.push(word);
      sequenceIds.push(seq);
    };
    push(this.clsId, 0, null, null);
    for (let i = 0; i < la; i++) push(a.ids[i]!, 0, a.words[i]!, 0);
    push(this.sepId, 0, null, null);
    if (b) {
      for (let i = 0; i < lb; i++) push(b.ids[i]!, 1, b.words[i]!, 1);
      push(this.sepId, 1, null, null);
    }
    const attentionMask = ids.map(() => 1);
    if ((opts.padding ?? 'max') === 'max') {
      while (ids.length < maxLength) {
        push(this.padId, 0, null, null);
        attentionMask.push(0);
      }
    }
    return { ids, attentionMask, tokenTypeIds, tokens: ids.map((id) => this.vocab.token(id)), wordIds, sequenceIds, truncated };
  }

  /** Join word pieces back into text (lossy: case, accents and spacing around punctuation are gone). */
  decode(ids: readonly number[], { skipSpecial = true } = {}): string {
    let out = '';
    for (const id of ids) {
      const t = this.vocab.token(id);
      if (skipSpecial && this.neverSplit.has(t)) continue;
      if (t.startsWith(this.prefix)) out += t.slice(this.prefix.length);
      else out += (out ? ' ' : '') + t;
    }
    return out;
  }
}
