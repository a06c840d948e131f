export { backendFromEnv, backendInfo, initBackend } from './init';
export type { BackendInfo, BackendName, BackendPreference } from './init';
export { enableOneDnn, tensorflowThreads } from './env';
