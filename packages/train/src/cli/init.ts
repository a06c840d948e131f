// `npx nx run train:init [--scale=smoke|small|paper] [--rows=1-6] [--experiment=E] [--force]`
// Runs only the shared initialisation stages (the ImageNet and BERT stand-ins) every row starts from;
// rows run afterwards take them from the run cache. A sweep (train:table6, a Slurm job) runs it first.
import { EXPERIMENTS_ROOT, ROWS, SPEC_FLAGS, loadSpecFile, parseFlags, runCli, specOptions } from '@pixel-bert/spec';
import path from 'node:path';
import { parseList } from './rows';
import { runRowCli } from './run-row';

const USAGE = 'nx run train:init [--scale=smoke|small|paper] [--rows=1-6] [--set key.path=value ...] [--experiment=NAME] [--force]';

await runCli(async () => {
  const flags = parseFlags(process.argv.slice(2), { ...SPEC_FLAGS, rows: { type: 'string', default: '1-6' }, experiment: { type: 'string' }, force: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (flags.help) {
    console.log(`usage: ${USAGE}\nTrains the shared initialisation stages of a scale (where model.init says 'stage') for the given rows and exits.`);
    return 0;
  }
  // The init stages depend on the backbone a row runs and on nothing the rows toggle otherwise: one
  // row per distinct backbone gives them all (rows 1–5 share one, row 6 has the larger one). A sweep
  // runs this before its rows, so that rows side by side never train the same init stage twice.
  const byArch = new Map<string, ReturnType<typeof loadSpecFile>>();
  for (const row of parseList('rows', flags.rows, ROWS, USAGE)) {
    const resolved = loadSpecFile(path.join(EXPERIMENTS_ROOT, 'table6', `row${row}.yaml`), specOptions(flags, USAGE));
    if (!byArch.has(resolved.spec.model.run.arch)) byArch.set(resolved.spec.model.run.arch, resolved);
  }
  for (const resolved of byArch.values()) {
    const code = await runRowCli({ resolved, experiment: flags.experiment, force: flags.force, initOnly: true });
    if (code !== 0) return code;
  }
  return 0;
});
