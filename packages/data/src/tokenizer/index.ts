export { WordPieceTokenizer } from './tokenizer';
export type { Encoding, EncodeOptions, WordPieceOptions } from './tokenizer';
export { trainWordPiece } from './train';
export type { TrainWordPieceOptions } from './train';
export { Vocab, TokenizerError, SPECIAL_TOKENS, readVocabTxt, writeVocabTxt, readTokenizerJson } from './vocab';
export type { SpecialToken, LoadedTokenizerJson } from './vocab';
export { basicTokenize } from './basic';
