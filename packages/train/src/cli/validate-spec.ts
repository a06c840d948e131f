// `npx nx run train:validate-spec --file=PATH [--scale=...] [--set k=v ...]`: resolve and check any spec file.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadSpecFile } from '@pixel-bert/spec';
import { SPEC_FLAGS, UsageError, parseFlags, runCli, specOptions } from './args';

const USAGE = 'nx run train:validate-spec --file=PATH [--scale=smoke|small|paper] [--seed=S] [--set key.path=value ...] [--quiet]';

await runCli(() => {
  const flags = parseFlags(
    process.argv.slice(2),
    {
      file: { type: 'string' },
      ...SPEC_FLAGS,
      quiet: { type: 'boolean', short: 'q', default: false },
    },
    USAGE,
  );
  if (!flags.file) throw new UsageError(`--file is required\nusage: ${USAGE}`);
  // Nx runs commands from the workspace root; a relative path is taken from where the user stood.
  const base = process.env.INIT_CWD ?? process.cwd();
  const fromUser = path.resolve(base, flags.file);
  const fromRoot = path.resolve(flags.file);
  const file = existsSync(fromUser) || !existsSync(fromRoot) ? fromUser : fromRoot;
  if (file !== fromUser) console.warn(`note: using ${file}`);
  const resolved = loadSpecFile(file, specOptions(flags, USAGE));
  if (!flags.quiet) console.log(resolved.yaml.trimEnd());
  console.log(`# valid (${resolved.sources.join(' ← ')}); spec hash: ${resolved.hash}`);
  return 0;
});
