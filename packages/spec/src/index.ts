// Public face of @pixel-bert/spec: the experiment spec schema, its loader and its hash.
export * from './schema';
export * from './errors';
export * from './hash';
export * from './load';
export * from './cli';
export * from './vocab';
