// data:validate's engine: check every dataset an experiment uses before a long run.
export * from './validate';
