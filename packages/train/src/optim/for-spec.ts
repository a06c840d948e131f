// The spec's `optim` section made into the two optimisers and their per-epoch learning rates.
import type * as tf from '@tensorflow/tfjs';
import type { Spec } from '@pixel-bert/spec';
import { AdamW, Sgd, batchNormNoDecay, bertNoDecay } from './optimizers';
import { lrAt } from './schedule';

export interface PaperOptimizers {
  cnn: Sgd;
  transformer: AdamW;
}

/**
 * SGD for the CNN and AdamW for the Transformer (Sec. 4.2), from the spec's optim section.
 * Weight decay spares batch norm (Detectron2's default) and biases/LayerNorm (BERT's convention):
 * the paper does not say, and these are the defaults of the code bases it builds on.
 */
export function createOptimizers(optim: Spec['optim'], groups: { cnn: readonly tf.Variable[]; transformer: readonly tf.Variable[] }): PaperOptimizers {
  return {
    cnn: new Sgd(groups.cnn, { momentum: optim.cnn.momentum, weightDecay: optim.cnn.weightDecay, noDecay: batchNormNoDecay }),
    transformer: new AdamW(groups.transformer, { beta1: optim.transformer.beta1, beta2: optim.transformer.beta2, weightDecay: optim.transformer.weightDecay, noDecay: bertNoDecay }),
  };
}

/** Both learning rates during `epoch` of a stage whose schedule decays at `decayEpochs`. */
export function learningRates(optim: Spec['optim'], decayEpochs: readonly number[], epoch: number): { cnn: number; transformer: number } {
  return {
    cnn: lrAt({ base: optim.cnn.lr, decayEpochs, factor: optim.decayFactor }, epoch),
    transformer: lrAt({ base: optim.transformer.lr, decayEpochs, factor: optim.decayFactor }, epoch),
  };
}
