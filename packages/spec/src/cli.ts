// Command-line helpers shared by the packages' CLIs: strict flag parsing, the flags that choose
// a spec (--scale, --seed, --set), and one way to end: SpecError/UsageError → message, exit 2.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ResolveOptions } from './load';
import type { Scale } from './schema';

/** A command-line mistake: printed as is, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Strict flag parsing: an unknown or malformed flag is a usage error naming the flag and the usage line. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nusage: ${usage}`);
  }
}

/** The flags every spec-resolving command takes; the spec loader checks the scale's name. */
export const SPEC_FLAGS = {
  scale: { type: 'string', default: 'small' },
  seed: { type: 'string' },
  set: { type: 'string', multiple: true },
} as const;

/** The loader's options from the values of SPEC_FLAGS. */
export function specOptions(flags: { scale: string; seed?: string; set?: string[] }, usage: string): ResolveOptions {
  return { scale: flags.scale as Scale, seed: intFlag('seed', flags.seed, usage), set: flags.set };
}

/** Parses a whole number flag (within [min, max] when given), or says what was wrong with it. */
export function intFlag(name: string, raw: string | undefined, usage: string, range: { min?: number; max?: number } = {}): number | undefined {
  if (raw === undefined) return undefined;
  const { min = -Infinity, max = Infinity } = range;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) {
    const within = min > -Infinity || max < Infinity ? ` ${min > -Infinity ? `from ${min}` : ''}${max < Infinity ? ` to ${max}` : ' up'}` : '';
    throw new UsageError(`--${name}=${raw}: expected a whole number${within}\nusage: ${usage}`);
  }
  return n;
}

/**
 * Output whose reader has gone (a sweep's parent or `nx` ended on Ctrl-C while this process finishes
 * its step and checkpoints) is dropped instead of crashing the process half-way through its stop.
 */
function survivePipeClose(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
  }
}

/** Runs a CLI's main function: known errors print their message and exit non-zero, nothing else is printed. */
export async function runCli(main: () => Promise<number | void> | number | void): Promise<void> {
  survivePipeClose();
  try {
    const code = await main();
    process.exitCode = typeof code === 'number' ? code : 0;
  } catch (e) {
    const err = e as Error;
    if (err.name === 'SpecError' || err.name === 'UsageError') {
      console.error(`error: ${err.message}`);
      process.exitCode = 2;
    } else {
      console.error(err.stack ?? String(err));
      process.exitCode = 1;
    }
  }
}

/**
 * A path the user typed. Nx runs commands from the workspace root, while npm records where the
 * user stood in INIT_CWD: a relative path is taken from there. For a file that must exist
 * (`mustExist`), a path found only from the workspace root is taken from there, with a note.
 */
export function userPath(p: string, { mustExist = false } = {}): string {
  const fromUser = path.resolve(process.env.INIT_CWD ?? process.cwd(), p);
  if (!mustExist) return fromUser;
  const fromRoot = path.resolve(p);
  if (existsSync(fromUser) || !existsSync(fromRoot)) return fromUser;
  console.warn(`note: using ${fromRoot}`);
  return fromRoot;
}
