// Public face of @pixel-bert/data. Each area re-exports through its own barrel.
export * from './tokenizer/index';
export * from './rng';
export * from './synth/index';
export * from './readers/index';
export * from './batches/index';
export * from './images/index';
export * from './validate/index';
