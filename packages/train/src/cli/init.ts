// `npx nx run train:init [--scale=smoke|small|paper] [--rows=1-6] [--experiment=E] [--force]`
// Runs only the shared initialisation stages (the ImageNet and BERT stand-ins) every row starts from;
// rows run afterwards take them from the run cache. A sweep (train:table6, a Slurm job) runs it first.
import { ROWS, SPEC_FLAGS, parseFlags, runCli, specOptions } from '@pixel-bert/spec';
import { parseList, rowsByBackbone } from './rows';
import { runRowCli } from './run-row';

const USAGE = 'nx run train:init [--scale=smoke|small|paper] [--rows=1-6] [--set key.path=value ...] [--experiment=NAME] [--force]';

await runCli(async () => {
  const flags = parseFlags(process.argv.slice(2), { ...SPEC_FLAGS, rows: { type: 'string', default: '1-6' }, experiment: { type: 'string' }, force: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (flags.help) {
    console.log(`usage: ${USAGE}\nTrains the shared initialisation stages of a scale (where model.init says 'stage') for the given rows and exits.`);
    return 0;
  }
  // One row per distinct backbone gives every init stage (rows 1–5 share one, row 6 has the larger
  // one). A sweep runs this before the rows that need it, so that rows side by side never train the
  // same init stage twice.
  for (const { resolved } of rowsByBackbone(parseList('rows', flags.rows, ROWS, USAGE), specOptions(flags, USAGE)).values()) {
    const code = await runRowCli({ resolved, experiment: flags.experiment, force: flags.force, initOnly: true });
    if (code !== 0) return code;
  }
  return 0;
});
