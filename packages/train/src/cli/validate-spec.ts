// `npx nx run train:validate-spec --file=PATH [--scale=...] [--set k=v ...]`: resolve and check any spec file.
import { SPEC_FLAGS, UsageError, loadSpecFile, parseFlags, runCli, specOptions, userPath } from '@pixel-bert/spec';

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
  const file = userPath(flags.file, { mustExist: true });
  const resolved = loadSpecFile(file, specOptions(flags, USAGE));
  if (!flags.quiet) console.log(resolved.yaml.trimEnd());
  console.log(`# valid (${resolved.sources.join(' ← ')}); spec hash: ${resolved.hash}`);
  return 0;
});
