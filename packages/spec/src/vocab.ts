// Vocabulary sizes, for tools that size a model without a vocabulary file at hand (model:summary,
// data:bench). Training takes the size from the tokenizer it loads.
import type { Spec } from './schema';

/** The WordPiece vocabulary data:synth trains on the generated world's text. */
export const SYNTH_VOCAB_SIZE = 1000;
/** bert-base-uncased's vocab.txt, the paper's tokenizer for real data. */
export const BERT_BASE_UNCASED_VOCAB_SIZE = 30522;

export function defaultVocabSize(data: Pick<Spec['data'], 'source'>): number {
  return data.source === 'synthetic' ? SYNTH_VOCAB_SIZE : BERT_BASE_UNCASED_VOCAB_SIZE;
}
