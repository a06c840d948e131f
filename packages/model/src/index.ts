// Public face of @pixel-bert/model. Each area re-exports through its own barrel.
export * from './params';
export * from './backend/index';
export * from './kernels/index';
export * from './encoder/index';
export * from './embeddings/index';
export * from './sampling/index';
export * from './heads/index';
export * from './import-bert/index';
export * from './pixelbert';
export * from './pixel-stream';
export * from './backbone/index';
export * from './weights/index';
export * from './spec-config';
export { fastPaths, setFastPaths, type FastPaths } from './fast/fast-paths';
