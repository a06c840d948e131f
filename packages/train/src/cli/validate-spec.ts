// `npx nx run train:validate-spec --file=PATH [--scale=...] [--set k=v ...]`: resolve and check any spec file.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SCALES, loadSpecFile, type Scale } from '@pixel-bert/spec';
import { UsageError, intFlag, parseFlags, runCli } from './args';

const USAGE = 'nx run train:validate-spec --file=PATH [--scale=smoke|small|paper] [--seed=S] [--set key.path=value ...] [--quiet]';

await runCli(() => {
  const flags = parseFlags(
    process.argv.slice(2),
    {
      file: { type: 'string' },
      scale: { type: 'string', default: 'small' },
      seed: { type: 'string' },
      set: { type: 'string', multiple: true },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
    USAGE,
  );
  if (!flags.file) throw new UsageError(`--file is required\nusage: ${USAGE}`);
  if (!SCALES.includes(flags.scale as Scale)) throw new UsageError(`--scale=${flags.scale}: expected one of ${SCALES.join(', ')}`);
  // Nx runs commands from the workspace root; a relative path is taken from where the user stood.
  const base = process.env.INIT_CWD ?? process.cwd();
  const file = path.resolve(base, flags.file);
  if (!existsSync(file) && existsSync(path.resolve(flags.file))) console.warn(`note: using ${path.resolve(flags.file)}`);
  const resolved = loadSpecFile(existsSync(file) ? file : path.resolve(flags.file), {
    scale: flags.scale as Scale,
    seed: intFlag('seed', flags.seed, USAGE),
    set: flags.set,
  });
  if (!flags.quiet) console.log(resolved.yaml.trimEnd());
  console.log(`# valid (${resolved.sources.join(' ← ')}); spec hash: ${resolved.hash}`);
  return 0;
});
