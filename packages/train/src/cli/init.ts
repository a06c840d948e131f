// `npx nx run train:init [--scale=smoke|small|paper] [--experiment=E] [--force]`
// Runs only the shared initialisation stages (the ImageNet and BERT stand-ins) every row starts from;
// rows run afterwards take them from the run cache. A sweep (train:table6, a Slurm job) runs it first.
import { EXPERIMENTS_ROOT, SPEC_FLAGS, loadSpecFile, parseFlags, runCli, specOptions } from '@pixel-bert/spec';
import path from 'node:path';
import { runRowCli } from './run-row';

const USAGE = 'nx run train:init [--scale=smoke|small|paper] [--set key.path=value ...] [--experiment=NAME] [--force]';

await runCli(async () => {
  const flags = parseFlags(process.argv.slice(2), { ...SPEC_FLAGS, experiment: { type: 'string' }, force: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (flags.help) {
    console.log(`usage: ${USAGE}\nTrains the shared initialisation stages of a scale (where model.init says 'stage') and exits.`);
    return 0;
  }
  // The init stages depend on none of what a row toggles: any row's spec gives the same ones.
  const resolved = loadSpecFile(path.join(EXPERIMENTS_ROOT, 'table6', 'row1.yaml'), specOptions(flags, USAGE));
  return runRowCli({ resolved, experiment: flags.experiment, force: flags.force, initOnly: true });
});
