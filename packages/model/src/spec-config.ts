// A Pixel-BERT configuration from an experiment spec's model section (packages/spec), so what is
// built is what the spec (base.yaml, the row, the scale, --set) says, with no second copy of it.
import type { Spec } from '@pixel-bert/spec';
import type { PixelBertConfig, TaskHead } from './pixelbert';

export interface SpecConfigOptions {
  /** WordPiece vocabulary size of the tokenizer in use (the spec does not carry it). */
  vocabSize: number;
  taskHeads: TaskHead[];
  /** VQA answers (the spec's finetune.vqa.answerVocabSize); required with the 'vqa' head. */
  answerVocabSize?: number;
}

export function pixelBertConfigFor(model: Spec['model'], o: SpecConfigOptions): PixelBertConfig {
  const e = model.encoder;
  return {
    backbone: { arch: model.run.arch, frozenStages: model.frozenStages, frozenBatchNorm: model.frozenBatchNorm },
    hidden: e.hidden,
    layers: e.layers,
    heads: e.heads,
    ffn: e.ffn,
    vocabSize: o.vocabSize,
    maxTextLength: e.maxTextLength,
    dropout: e.dropout,
    pixelPositionEmbedding: model.pixelPositionEmbedding,
    pixelLayerNorm: model.pixelLayerNorm,
    taskHeads: o.taskHeads,
    ...(o.answerVocabSize !== undefined ? { answerVocabSize: o.answerVocabSize } : {}),
  };
}
