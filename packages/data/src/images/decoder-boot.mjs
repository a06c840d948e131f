// Worker entry: worker threads do not run TypeScript by themselves (under vitest or plain node),
// so load worker.ts through tsx's loader API, the same loader the project's CLIs run on.
import { tsImport } from 'tsx/esm/api';

await tsImport('./worker.ts', import.meta.url);
