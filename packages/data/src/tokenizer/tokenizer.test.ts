import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { bertBaseUncasedTokenizerJson, bertBaseUncasedTokens } from './bert-vocab.testutil';
import { TokenizerError, trainWordPiece, Vocab, WordPieceTokenizer, writeVocabTxt } from './index';

let dir: string;
let bert: WordPieceTokenizer;
let tokens: string[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pb-tok-'));
  tokens = bertBaseUncasedTokens();
  writeVocabTxt(join(dir, 'vocab.txt'), tokens);
  bert = WordPieceTokenizer.fromVocabFile(join(dir, 'vocab.txt'));
});

describe('bert-base-uncased vocabulary', () => {
  it('has the well-known ids', () => {
    expect(tokens.length).toBe(30522);
    expect([bert.padId, bert.unkId, bert.clsId, bert.sepId, bert.maskId]).toEqual([0, 100, 101, 102, 103]);
    expect(bert.vocab.get('the')).toBe(1996);
  });

  it('splits strawberries into straw ##berries with the published ids', () => {
    expect(bert.tokenize('I like strawberries')).toEqual(['i', 'like', 'straw', '##berries']);
    const enc = bert.encode('I like strawberries', { maxLength: 8 });
    expect(enc.ids).toEqual([101, 1045, 2066, 13137, 20968, 102, 0, 0]);
    expect(enc.attentionMask).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    expect(enc.wordIds).toEqual([null, 0, 1, 2, 2, null, null, null]);
  });

  it('lower-cases, strips accents, splits punctuation and isolates CJK', () => {
    expect(bert.tokenize('Héllo, WORLD!')).toEqual(['hello', ',', 'world', '!']);
    expect(bert.tokenize("don't $5")).toEqual(['don', "'", 't', '$', '5']);
    // Ideographs become words of their own; kana stays attached (BERT isolates CJK ideographs only).
    // (Accent stripping also removes the dakuten of が → か: BERT uncased does the same.)
    expect(bert.words('猫が好き')).toEqual(['猫', 'か', '好', 'き']);
    expect(bert.words('我爱你')).toEqual(['我', '爱', '你']);
  });

  it('maps overlong words and unknown characters to a single [UNK]', () => {
    expect(bert.tokenize('a'.repeat(101))).toEqual(['[UNK]']);
    expect(bert.tokenize('\u{1F600}')).toEqual(['[UNK]']);
  });

  it('keeps special tokens typed into the text', () => {
    expect(bert.tokenize('a [MASK] cat')).toEqual(['a', '[MASK]', 'cat']);
  });

  it('encodes pairs with segment ids and longest-first truncation', () => {
    const enc = bert.encode('a red cube', 'is it left of the blue sphere', { maxLength: 10 });
    expect(enc.tokens).toEqual(['[CLS]', 'a', 'red', 'cube', '[SEP]', 'is', 'it', 'left', 'of', '[SEP]']);
    expect(enc.tokenTypeIds).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(enc.truncated).toBe(3);
    expect(enc.sequenceIds).toEqual([null, 0, 0, 0, null, 1, 1, 1, 1, null]);
  });

  it('agrees with the Hugging Face tokenizers.js reference on varied text', () => {
    const json = bertBaseUncasedTokenizerJson(tokens);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
    const hf = new HfTokenizer(json as never, { do_lower_case: true } as never);
    const fromJson = WordPieceTokenizer.fromTokenizerJson(join(dir, 'tokenizer.json'));
    const texts = [
      'A man riding a wave on top of a surfboard.',
      'Two giraffes standing next to each other in a zoo!!',
      "What's the colour of the café's umbrella? It's naïve—isn't it…",
      'The 3 dogs (brown & white) chased 12 pigeons; e-mail: x@y.z',
      'unaffable antidisestablishmentarianism Übermensch São Paulo',
      '東京タワー is in 日本, "quoted" text\tand\nnewlines',
    ];
    for (const t of texts) {
      const ref = hf.encode(t).ids;
      expect(bert.encode(t, { maxLength: 128, padding: 'none' }).ids, t).toEqual(ref);
      expect(fromJson.encode(t, { maxLength: 128, padding: 'none' }).ids, t).toEqual(ref);
    }
  });

  it('decodes pieces back to words', () => {
    expect(bert.decode(bert.encode('I like strawberries', { maxLength: 10 }).ids)).toBe('i like strawberries');
  });
});

describe('vocabulary files', () => {
  it('names the file and the problem for bad vocabularies', () => {
    const p = join(dir, 'bad.txt');
    writeFileSync(p, '[PAD]\n[UNK]\n[CLS]\n[SEP]\nfoo\n');
    expect(() => WordPieceTokenizer.fromVocabFile(p)).toThrow(/bad\.txt: vocabulary lacks special token\(s\) \[MASK\]/);
    writeFileSync(p, '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nfoo\nfoo\n');
    expect(() => WordPieceTokenizer.fromVocabFile(p)).toThrow(/"foo" appears twice \(ids 5 and 6\)/);
    expect(() => WordPieceTokenizer.fromVocabFile(join(dir, 'missing.txt'))).toThrow(TokenizerError);
    const j = join(dir, 'bad.json');
    writeFileSync(j, JSON.stringify({ model: { type: 'BPE', vocab: {} } }));
    expect(() => WordPieceTokenizer.fromTokenizerJson(j)).toThrow(/bad\.json: model\.type/);
  });

  it('rejects a maxLength too small for the special tokens', () => {
    expect(() => bert.encode('x', 'y', { maxLength: 3 })).toThrow(/maxLength must be an integer ≥ 4/);
  });
});

describe('trainWordPiece', () => {
  const corpus = [
    'a small red cube left of a large blue sphere',
    'two red cubes and three blue spheres',
    'the striped green cylinder is above the red cube',
    'is there a dotted yellow sphere ?',
    'cubes spheres cylinders cubes spheres cylinders',
  ];

  it('is deterministic and independent of corpus order', () => {
    const v1 = trainWordPiece(corpus, { vocabSize: 80 });
    const v2 = trainWordPiece([...corpus].reverse(), { vocabSize: 80 });
    expect(v1).toEqual(v2);
    const f1 = join(dir, 'v1.txt');
    const f2 = join(dir, 'v2.txt');
    writeVocabTxt(f1, v1);
    writeVocabTxt(f2, v2);
    expect(readFileSync(f1)).toEqual(readFileSync(f2));
  });

  it('learns whole frequent words and covers the corpus without [UNK]', () => {
    const v = trainWordPiece(corpus, { vocabSize: 120, minFrequency: 2 });
    expect(v.slice(0, 5)).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    expect(v.length).toBeLessThanOrEqual(120);
    const tok = new WordPieceTokenizer(new Vocab(v));
    for (const w of ['red', 'cube', 'sphere', 'the']) expect(v, w).toContain(w);
    expect(tok.tokenize('cubed')).toEqual(['cube', '##d']);
    for (const line of corpus) expect(tok.tokenize(line)).not.toContain('[UNK]');
    // A word never seen still splits into learnt pieces rather than [UNK] when its letters are known.
    expect(tok.tokenize('redder')).not.toContain('[UNK]');
  });

  it('refuses a vocabulary size below the alphabet', () => {
    expect(() => trainWordPiece(corpus, { vocabSize: 10 })).toThrow(/smaller than specials \+ alphabet/);
  });
});
