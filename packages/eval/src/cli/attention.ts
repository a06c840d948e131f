// `npx nx run eval:attention --run=ID --image=PATH --text="..." [--layer=L] [--head=H|mean] [--out=FILE]`:
// each word's attention over the feature pixels, upsampled and laid over the image (paper Fig. 3),
// as one PNG grid; logged as an artifact of the run.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError, intFlag, parseFlags, runCli, userPath } from '@pixel-bert/spec';
import { defaultReportsDir } from '@pixel-bert/tracking';
import { attention } from '../attention/attention';
import { TRACKING_FLAGS, uriFlag } from './common';

const USAGE = 'nx run eval:attention --run=RUN_ID --image=PATH --text="words" [--layer=L] [--head=H|mean] [--out=FILE.png] [--tracking-uri=URI] [--experiment=NAME] [--no-log]';

await runCli(async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    {
      run: { type: 'string' },
      image: { type: 'string' },
      text: { type: 'string' },
      layer: { type: 'string' },
      head: { type: 'string' },
      out: { type: 'string' },
      ...TRACKING_FLAGS,
      'no-log': { type: 'boolean', default: false },
    },
    USAGE,
  );
  for (const f of ['run', 'image', 'text'] as const) if (flags[f] === undefined) throw new UsageError(`--${f} is required\nusage: ${USAGE}`);
  const head = flags.head === undefined || flags.head === 'mean' ? 'mean' : intFlag('head', flags.head, USAGE, { min: 0 })!;
  const result = await attention({
    runId: flags.run!,
    image: userPath(flags.image!, { mustExist: true }),
    text: flags.text!,
    layer: intFlag('layer', flags.layer, USAGE, { min: 0 }),
    head,
    trackingUri: uriFlag(flags['tracking-uri'], USAGE),
    experiment: flags.experiment,
    log: !flags['no-log'],
  });
  const out = flags.out ? userPath(flags.out) : join(defaultReportsDir(), `attention-${result.run.runId.slice(0, 12)}.png`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.tmp`, result.png);
  renameSync(`${out}.tmp`, out);
  console.log(`words: ${result.words.join(' ')} · layer ${result.layer} · head ${result.head} · feature grid ${result.grid.join('×')} · weights of ${result.weightsRun.runName} (${result.weightsRun.runId})`);
  console.log(`wrote ${out}`);
  if (result.artifactPath) console.log(`logged as artifact ${result.artifactPath} of run ${result.run.runName} (${result.run.runId})`);
  return 0;
});
