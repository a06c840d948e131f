// Entry of a decoder process (started by loader.ts): node does not run TypeScript by itself, so
// load decoder.ts through tsx's loader API, the same loader the project's CLIs run on.
import { tsImport } from 'tsx/esm/api';

await tsImport('./decoder.ts', import.meta.url);
