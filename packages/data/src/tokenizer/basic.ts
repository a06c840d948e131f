// BERT's "basic" tokenisation (uncased): clean the text, isolate CJK ideographs, lower-case,
// strip accents, split on whitespace and punctuation. Follows the behaviour of the original
// BERT BasicTokenizer / Hugging Face BertNormalizer + BertPreTokenizer.

export interface BasicOptions {
  lowercase: boolean;
  /** Strip combining marks after NFD. BERT uncased: true (defaults to `lowercase`). */
  stripAccents: boolean;
  /** Put spaces around CJK ideographs so each becomes its own word (BERT does this). */
  handleChineseChars: boolean;
  /** Whitespace-separated tokens kept verbatim (e.g. `[MASK]` typed into the text). */
  neverSplit: ReadonlySet<string>;
}

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);
}

function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return /[\p{Cc}\p{Cf}]/u.test(ch);
}

/**
 * BERT treats every non-alphanumeric printable ASCII character as punctuation (so `$`, `^`, `` ` ``
 * split words even though Unicode calls them symbols), plus Unicode category P.
 */
function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  return /\p{P}/u.test(ch);
}

/** The CJK Unified Ideograph blocks BERT isolates (not Hangul or kana, which are space-separated). */
function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function cleanText(text: string, handleChineseChars: boolean): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    if (isWhitespace(ch)) out += ' ';
    else if (handleChineseChars && isCjk(cp)) out += ` ${ch} `;
    else out += ch;
  }
  return out;
}

function splitOnPunctuation(word: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const ch of word) {
    if (isPunctuation(ch)) {
      if (cur) out.push(cur);
      out.push(ch);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** Split text into BERT "words" (the unit word-pieces align to). */
export function basicTokenize(text: string, opts: BasicOptions): string[] {
  const words: string[] = [];
  for (const raw of cleanText(text, opts.handleChineseChars).split(' ')) {
    if (!raw) continue;
    if (opts.neverSplit.has(raw)) {
      words.push(raw);
      continue;
    }
    let w = opts.lowercase ? raw.toLowerCase() : raw;
    if (opts.stripAccents) w = w.normalize('NFD').replace(/\p{Mn}/gu, '');
    for (const piece of splitOnPunctuation(w)) if (piece) words.push(piece);
  }
  return words;
}
