// Public face of @pixel-bert/model. Each area re-exports through its own barrel.
export * from './params';
