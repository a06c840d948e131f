export * from './text';
export * from './pixel';
