export * from './heads';
export * from './losses';
