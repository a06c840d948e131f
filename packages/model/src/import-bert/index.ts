export * from './import-bert';
export * from './safetensors';
