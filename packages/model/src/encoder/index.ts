export * from './nn';
export * from './encoder';
