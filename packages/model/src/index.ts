// Public face of @pixel-bert/model. Each area re-exports through its own barrel.
export * from './params';
export * from './backend/index';
export * from './kernels/index';
