export * from './pixel-sampling';
