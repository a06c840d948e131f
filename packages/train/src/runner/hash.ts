// Identities of what the runner caches: the code version and a stage's hash (DESIGN.md: its own
// part of the resolved spec, the hashes of the stages it starts from, the seed, the code version).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { WORKSPACE_ROOT, canonicalJson } from '@pixel-bert/spec';

/** Packages whose source decides what training computes. */
const CODE_PACKAGES = ['spec', 'data', 'model', 'train'];

let memo: string | null = null;

/**
 * 12 hex digits over the source files of the packages training runs (tests, scripts and CLIs
 * excluded): equal exactly when the code that computes a stage is equal, whatever the commit.
 */
export function codeVersion(): string {
  if (memo) return memo;
  const h = createHash('sha256');
  for (const pkg of CODE_PACKAGES) {
    const root = path.join(WORKSPACE_ROOT, 'packages', pkg, 'src');
    for (const file of sourceFiles(root)) {
      h.update(path.relative(WORKSPACE_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  memo = h.digest('hex').slice(0, 12);
  return memo;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'cli' && name !== 'testing') out.push(...sourceFiles(p));
    } else if (/\.(ts|mjs|js)$/.test(name) && !/\.test(util)?\.ts$/.test(name)) out.push(p);
  }
  return out;
}

export function stageHash(parts: { kind: string; spec: unknown; parents: readonly string[]; seed: number; code: string }): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex').slice(0, 24);
}

/**
 * What computed a stage besides its code: the backend, and for TensorFlow's CPU kernels their thread
 * pools (`TF_NUM_INTRAOP_THREADS` / `TF_NUM_INTEROP_THREADS`, one each unless the user set them).
 * Sums split over two threads differ in the last bits from one thread's, and training carries that
 * to a different network: the ResNet stand-in ended at held-out mAP 99.9137 with two threads and
 * 99.9995 with one (docs/results/small-table6.md).
 */
export function computedBy(backend: string, env: NodeJS.ProcessEnv = process.env): string {
  if (backend !== 'tensorflow') return backend;
  return `${backend} threads ${env.TF_NUM_INTRAOP_THREADS || 'default'}/${env.TF_NUM_INTEROP_THREADS || 'default'}`;
}
