export { AdamW, Sgd, batchNormNoDecay, bertNoDecay } from './optimizers';
export type { AdamWOptions, OptimizerState, ParamOptimizer, SgdOptions } from './optimizers';
export { lrAt } from './schedule';
export type { StepDecay } from './schedule';
export { createOptimizers, learningRates } from './for-spec';
export type { PaperOptimizers } from './for-spec';
