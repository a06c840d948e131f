import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

/** Problems reading a vocabulary or tokenizer file; the message names the file and what was wrong. */
export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

/** The special tokens BERT needs; every vocabulary we load must contain them. */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

/** An id ↔ token table, as in a BERT `vocab.txt` (line number = id). */
export class Vocab {
  readonly tokens: readonly string[];
  private readonly index = new Map<string, number>();

  constructor(tokens: readonly string[], source = '<memory>') {
    this.tokens = tokens;
    tokens.forEach((t, i) => {
      if (this.index.has(t)) {
        throw new TokenizerError(`${source}: token ${JSON.stringify(t)} appears twice (ids ${this.index.get(t)} and ${i}); a vocabulary needs unique tokens`);
      }
      this.index.set(t, i);
    });
    const missing = SPECIAL_TOKENS.filter((s) => !this.index.has(s));
    if (missing.length) throw new TokenizerError(`${source}: vocabulary lacks special token(s) ${missing.join(', ')}`);
  }

  get size(): number {
    return this.tokens.length;
  }
  has(token: string): boolean {
    return this.index.has(token);
  }
  /** Id of a token, or undefined. */
  get(token: string): number | undefined {
    return this.index.get(token);
  }
  id(token: SpecialToken): number {
    return this.index.get(token)!;
  }
  token(id: number): string {
    const t = this.tokens[id];
    if (t === undefined) throw new TokenizerError(`id ${id} is outside the vocabulary (size ${this.size})`);
    return t;
  }
}

/** Read a BERT `vocab.txt`: one token per line, the line number is the id. */
export function readVocabTxt(path: string): Vocab {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TokenizerError(`cannot read vocabulary ${path}: ${(e as Error).message}`);
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  // Strip a Windows line ending but keep every other character: tokens may be punctuation.
  return new Vocab(lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)), path);
}

/** Write `vocab.txt` atomically (temp file + rename), so a reader never sees half a vocabulary. */
export function writeVocabTxt(path: string, tokens: readonly string[]): void {
  for (const [i, t] of tokens.entries()) {
    if (t.includes('\n') || t === '') throw new TokenizerError(`token ${i} (${JSON.stringify(t)}) cannot be written to vocab.txt`);
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, tokens.join('\n') + '\n');
  renameSync(tmp, path);
}

/** The part of a Hugging Face `tokenizer.json` a BERT WordPiece tokenizer needs. */
const TokenizerJsonSchema = z.object({
  normalizer: z
    .object({
      type: z.string(),
      lowercase: z.boolean().optional(),
      strip_accents: z.boolean().nullable().optional(),
      handle_chinese_chars: z.boolean().optional(),
    })
    .nullable()
    .optional(),
  model: z.object({
    type: z.literal('WordPiece'),
    unk_token: z.string().default('[UNK]'),
    continuing_subword_prefix: z.string().default('##'),
    max_input_chars_per_word: z.number().int().positive().default(100),
    vocab: z.record(z.string(), z.number().int().nonnegative()),
  }),
});

export interface LoadedTokenizerJson {
  vocab: Vocab;
  lowercase: boolean;
  stripAccents: boolean;
  handleChineseChars: boolean;
  continuingSubwordPrefix: string;
  maxInputCharsPerWord: number;
}

export function readTokenizerJson(path: string): LoadedTokenizerJson {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TokenizerError(`cannot read tokenizer ${path}: ${(e as Error).message}`);
  }
  const parsed = TokenizerJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TokenizerError(`${path}: ${issue.path.join('.') || '<root>'}: ${issue.message} (expected a WordPiece tokenizer.json)`);
  }
  const { model, normalizer } = parsed.data;
  const byId: string[] = [];
  for (const [tok, id] of Object.entries(model.vocab)) {
    if (byId[id] !== undefined) throw new TokenizerError(`${path}: model.vocab: id ${id} is used by ${JSON.stringify(byId[id])} and ${JSON.stringify(tok)}`);
    byId[id] = tok;
  }
  for (let i = 0; i < byId.length; i++) {
    if (byId[i] === undefined) throw new TokenizerError(`${path}: model.vocab: ids are not contiguous (no token has id ${i})`);
  }
  if (model.unk_token !== '[UNK]') throw new TokenizerError(`${path}: model.unk_token is ${model.unk_token}; this BERT tokenizer expects [UNK]`);
  const lowercase = normalizer?.lowercase ?? true;
  return {
    vocab: new Vocab(byId, path),
    lowercase,
    // HF: strip_accents null means "follow lowercase".
    stripAccents: normalizer?.strip_accents ?? lowercase,
    handleChineseChars: normalizer?.handle_chinese_chars ?? true,
    continuingSubwordPrefix: model.continuing_subword_prefix,
    maxInputCharsPerWord: model.max_input_chars_per_word,
  };
}
