// Answer normalisation as the official VQA evaluation does it (Antol et al. 2015; the VQA v2
// evaluation script's processPunctuation + processDigitArticle), re-implemented from its
// documented behaviour:
//  1. newlines/tabs → spaces, trim;
//  2. punctuation: each listed mark is deleted when it touches a space or when the answer has a
//     digit,digit comma ("1,000"), else replaced by a space ("t-shirt" → "t shirt"); a period is
//     deleted unless a digit follows it ("3.5" stays);
//  3. lower-case, split on spaces, number words zero…ten → digits, drop the articles a/an/the,
//     restore the apostrophe of common contractions typed without it ("dont" → "don't").

const PUNCTUATION = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];
const DIGIT_COMMA = /\d,\d/;
const PERIOD_NOT_BEFORE_DIGIT = /\.(?!\d)/g;

const NUMBER_WORDS: Record<string, string> = {
  none: '0', zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5',
  six: '6', seven: '7', eight: '8', nine: '9', ten: '10',
};
const ARTICLES = new Set(['a', 'an', 'the']);

/** Contractions whose apostrophe-less spellings annotators type; lower-case, as answers are lower-cased first. */
const CONTRACTIONS = [
  "ain't", "aren't", "can't", "could've", "couldn't", "couldn't've", "didn't", "doesn't", "don't", "hadn't",
  "hadn't've", "hasn't", "haven't", "he'd", "he'd've", "he's", "how'd", "how'll", "how's", "i'd've", "i've",
  "isn't", "it'd", "it'd've", "it'll", "let's", "ma'am", "mightn't", "mightn't've", "might've", "mustn't",
  "must've", "needn't", "not've", "o'clock", "oughtn't", "'ow's'at", "shan't", "she'd", "she'd've", "she's",
  "should've", "shouldn't", "shouldn't've", "somebody'd", "somebody'd've", "somebody'll", "somebody's",
  "someone'd", "someone'd've", "someone'll", "someone's", "something'd", "something'd've", "something'll",
  "that's", "there'd", "there'd've", "there're", "there's", "they'd", "they'd've", "they'll", "they're",
  "they've", "'twas", "wasn't", "we'd've", "we've", "weren't", "what'll", "what're", "what's", "what've",
  "when's", "where'd", "where's", "where've", "who'd", "who'd've", "who'll", "who's", "who've", "why'll",
  "why're", "why's", "won't", "would've", "wouldn't", "wouldn't've", "y'all", "y'all'll", "y'all'd've",
  "you'd", "you'd've", "you'll", "you're", "you've",
];
/** Spellings without apostrophes that are ordinary words and must stay as typed. */
const REAL_WORDS = new Set(['well', 'were', 'hell', 'shell', 'ill', 'its', 'shed', 'wed', 'id', 'im']);

/** Every spelling of each contraction with some (not all kept) apostrophes dropped → the proper form. */
const CONTRACTION_MAP: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>();
  for (const full of CONTRACTIONS) {
    const parts = full.split("'");
    const gaps = parts.length - 1;
    for (let mask = 0; mask < 1 << gaps; mask++) {
      if (mask === (1 << gaps) - 1) continue; // every apostrophe kept: already correct
      let s = parts[0]!;
      for (let g = 0; g < gaps; g++) s += (mask & (1 << g) ? "'" : '') + parts[g + 1]!;
      if (!REAL_WORDS.has(s) && !map.has(s)) map.set(s, full);
    }
  }
  return map;
})();

export function processPunctuation(text: string): string {
  let out = text;
  const hasDigitComma = DIGIT_COMMA.test(text);
  for (const p of PUNCTUATION) {
    // The decision looks at the original answer, mark by mark, as the official script does.
    if (text.includes(`${p} `) || text.includes(` ${p}`) || hasDigitComma) out = out.split(p).join('');
    else out = out.split(p).join(' ');
  }
  return out.replace(PERIOD_NOT_BEFORE_DIGIT, '');
}

export function processDigitArticle(text: string): string {
  const words: string[] = [];
  // Splitting on runs of whitespace also collapses the double spaces punctuation removal leaves.
  for (const raw of text.toLowerCase().split(/\s+/)) {
    if (!raw) continue;
    const w = NUMBER_WORDS[raw] ?? raw;
    if (!ARTICLES.has(w)) words.push(w);
  }
  return words.map((w) => CONTRACTION_MAP.get(w) ?? w).join(' ');
}

/** Normalise one VQA answer the way the official evaluation compares answers. */
export function normalizeVqaAnswer(answer: string): string {
  const a = answer.replace(/\n/g, ' ').replace(/\t/g, ' ').trim();
  return processDigitArticle(processPunctuation(a)).trim();
}
