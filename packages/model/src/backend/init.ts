import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { installFastGradients } from '../fast/fast-paths';
import { enableOneDnn, tensorflowThreads } from './env';
import { registerExtraKernels } from '../kernels/index';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendName;

export interface BackendInfo {
  /** The tfjs backend now active. */
  name: BackendName;
  /** For `tensorflow`: which npm package provided it. */
  provider?: string;
  /** Backends that were tried before this one and why each was not used. */
  skipped: { name: BackendName; reason: string }[];
}

const PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/**
 * The native addons are optional dependencies: their install may have failed, so they are
 * imported by a computed specifier (no static import that would break typecheck or start-up).
 * GPU first: when both are present the GPU build is the one the user installed on purpose.
 */
const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let active: BackendInfo | undefined;

/** The backend chosen by the last `initBackend`, if any. */
export function backendInfo(): BackendInfo | undefined {
  return active;
}

/** Reads and checks `TFJS_BACKEND`; an unknown value is an error, not a silent fallback. */
export function backendFromEnv(env: NodeJS.ProcessEnv = process.env): BackendPreference | undefined {
  const raw = env['TFJS_BACKEND'];
  if (raw === undefined || raw.trim() === '') return undefined;
  const v = raw.trim();
  if (!(PREFERENCES as readonly string[]).includes(v)) {
    throw new Error(`TFJS_BACKEND="${raw}" is not a backend; expected one of ${PREFERENCES.join(', ')}`);
  }
  return v as BackendPreference;
}

/**
 * Picks and activates the best tfjs backend available: tensorflow (native addon) → wasm → cpu.
 * `TFJS_BACKEND` overrides `prefer`. Naming a backend explicitly makes its absence an error
 * (a run that asked for `tensorflow` must not quietly train on wasm); `auto` falls back.
 * Registers the kernels this project adds (see ../kernels) on the chosen backend.
 */
export async function initBackend(
  opts: { prefer?: BackendPreference; quiet?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<BackendInfo> {
  const fromEnv = backendFromEnv(opts.env ?? process.env);
  const prefer = fromEnv ?? opts.prefer ?? 'auto';
  if (!PREFERENCES.includes(prefer)) {
    throw new Error(`backend "${String(prefer)}" is not known; expected one of ${PREFERENCES.join(', ')}`);
  }
  const order: BackendName[] = prefer === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [prefer];
  const skipped: BackendInfo['skipped'] = [];
  for (const name of order) {
    const attempt = await tryBackend(name);
    if (attempt.ok) {
      registerExtraKernels(name);
      installFastGradients();
      active = { name, ...(attempt.provider ? { provider: attempt.provider } : {}), skipped };
      if (!opts.quiet) {
        const via = attempt.provider ? ` (${attempt.provider})` : '';
        const why = skipped.length ? `; skipped ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}` : '';
        console.error(`[pixel-bert] tfjs backend: ${name}${via}${why}`);
      }
      return active;
    }
    skipped.push({ name, reason: attempt.reason });
  }
  const detail = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new Error(
    `tfjs backend "${prefer}"${fromEnv ? ' (from TFJS_BACKEND)' : ''} is not available: ${detail}`,
  );
}

type Attempt = { ok: true; provider?: string } | { ok: false; reason: string };

async function tryBackend(name: BackendName): Promise<Attempt> {
  try {
    switch (name) {
      case 'tensorflow':
        return await tryTensorflow();
      case 'wasm':
        return await tryWasm();
      case 'cpu':
        return (await tf.setBackend('cpu')) ? { ok: true } : { ok: false, reason: 'setBackend failed' };
    }
  } catch (e) {
    return { ok: false, reason: firstLine(e) };
  }
}

async function tryTensorflow(): Promise<Attempt> {
  enableOneDnn();
  const reasons: string[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    const missing = missingAddon(pkg);
    if (missing) {
      reasons.push(`${pkg}: ${missing}`);
      continue;
    }
    // One thread per process on the CPU build (env.ts says why); the GPU build keeps TensorFlow's defaults.
    if (pkg === '@tensorflow/tfjs-node') tensorflowThreads(1);
    try {
      // Importing the addon registers the 'tensorflow' backend with tfjs-core.
      await import(/* @vite-ignore */ pkg as string);
    } catch (e) {
      reasons.push(`${pkg}: ${firstLine(e)}`);
      continue;
    }
    if (tf.findBackendFactory('tensorflow') === null) {
      // Two copies of tfjs-core (a version skew) would register the backend elsewhere.
      reasons.push(`${pkg} loaded but registered no "tensorflow" backend with this @tensorflow/tfjs (version skew?)`);
      continue;
    }
    if (await tf.setBackend('tensorflow')) return { ok: true, provider: pkg };
    reasons.push(`${pkg}: setBackend('tensorflow') failed`);
  }
  return { ok: false, reason: reasons.join('; ') };
}

/**
 * Importing a tfjs-node package whose native addon was never built registers part of its kernels
 * before it fails, and the next package then re-registers them with a warning per kernel. Look
 * for the built addon (lib/napi-vN/tfjs_binding.node) first.
 */
function missingAddon(pkg: string): string | undefined {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return 'not installed';
  }
  const lib = path.join(dir, 'lib');
  const built = fs.existsSync(lib) && fs.readdirSync(lib).some((d) => d.startsWith('napi-v') && fs.existsSync(path.join(lib, d, 'tfjs_binding.node')));
  return built ? undefined : `installed, but its native addon is not built (${lib}/napi-v*/tfjs_binding.node)`;
}

let wasmPathsSet = false;

async function tryWasm(): Promise<Attempt> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPathsSet) {
    // In Node the .wasm binaries are read from disk: point the loader at the files shipped in
    // the package's dist/ folder (resolved from this file, so it works from any cwd).
    const require = createRequire(import.meta.url);
    const main = require.resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(path.dirname(main) + path.sep);
    wasmPathsSet = true;
  }
  return (await tf.setBackend('wasm')) ? { ok: true } : { ok: false, reason: 'setBackend("wasm") failed' };
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}
