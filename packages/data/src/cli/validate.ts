// `npx nx run data:validate --row=N --scale=S` or `--spec=FILE` (run from the workspace root):
// checks every dataset the experiment uses; exits 1 naming the problems, 2 on bad arguments.

import path from 'node:path';
import { SPEC_FLAGS, UsageError, WORKSPACE_ROOT, intFlag, loadRowSpec, loadSpecFile, parseFlags, runCli, specOptions, userPath } from '@pixel-bert/spec';
import { formatReport, validateData, validateOptionsForSpec } from '../validate/index';

const USAGE = `npx nx run data:validate --row=1..6 [--scale=smoke|small|paper] [--set key.path=value]…
       npx nx run data:validate --spec=FILE [--scale=…] [--set …]
options: --root=DIR (override data.root)  --vocab=FILE (default <root>/vocab.txt)  --no-decode (existence only)`;

await runCli(async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    { row: { type: 'string' }, spec: { type: 'string' }, ...SPEC_FLAGS, root: { type: 'string' }, vocab: { type: 'string' }, 'no-decode': { type: 'boolean' }, help: { type: 'boolean' } },
    USAGE,
  );
  if (flags.help) {
    console.log(`usage: ${USAGE}`);
    return 0;
  }
  if ((flags.row === undefined) === (flags.spec === undefined)) throw new UsageError(`give exactly one of --row or --spec\nusage: ${USAGE}`);
  const opts = specOptions(flags, USAGE);
  const resolved = flags.row !== undefined ? loadRowSpec({ ...opts, row: intFlag('row', flags.row, USAGE)! }) : loadSpecFile(userPath(flags.spec!, { mustExist: true }), opts);
  const { spec } = resolved;
  const root = flags.root ? userPath(flags.root, { mustExist: true }) : path.resolve(WORKSPACE_ROOT, spec.data.root);
  const options = validateOptionsForSpec(spec, root);
  const { datasets } = options;
  console.log(`data:validate: spec ${spec.name} (scale ${spec.scale}, hash ${resolved.hash.slice(0, 12)}), data ${spec.data.source} at ${root}`);
  console.log(`data:validate: pre-training datasets: ${datasets.pretrain.join(', ') || '(none: no pre-training task)'}; fine-tuning: ${datasets.finetune.join(', ')}`);
  const t0 = performance.now();
  const report = await validateData({
    ...options,
    vocabFile: flags.vocab ? userPath(flags.vocab, { mustExist: true }) : undefined,
    decodeImages: !flags['no-decode'],
    log: (l) => console.log(l),
  });
  console.log(formatReport(report));
  console.log(`data:validate: took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return report.ok ? 0 : 1;
});
