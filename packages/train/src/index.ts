// Public face of @pixel-bert/train (nothing imports train; this is for its own CLIs and tests).
export * from './plan';
export * from './stages/data';
export * from './optim/index';
export * from './stages/pretrain-feed';
export * from './stages/pixel-stream';
