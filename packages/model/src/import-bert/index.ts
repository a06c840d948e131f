export * from './import-bert';
