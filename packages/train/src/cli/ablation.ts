// `npx nx run train:ablation --row=N [--scale=small|smoke|paper] [--seed=S] [--set k=v ...] [--experiment=E] [--until=STAGE] [--force] [--dry-run]`
// Trains and evaluates one row of Table 6 for one seed; re-running resumes or reuses what is done.
import { ROWS, SPEC_FLAGS, UsageError, intFlag, loadRowSpec, parseFlags, runCli, specOptions } from '@pixel-bert/spec';
import { describePlan } from '../plan';
import { runRowCli } from './run-row';

const USAGE = 'nx run train:ablation --row=N [--scale=smoke|small|paper] [--seed=S] [--set key.path=value ...] [--experiment=NAME] [--until=STAGE] [--force] [--dry-run]';
/** `--until`: that stage and those it starts from (a partial row, which Table 6 does not read). */
const UNTIL = ['init-backbone', 'init-text', 'pretrain', 'vqa', 'nlvr2', 'retrieval'] as const;

await runCli(async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    {
      row: { type: 'string' },
      ...SPEC_FLAGS,
      'dry-run': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      experiment: { type: 'string' },
      until: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (flags.help) {
    console.log(`usage: ${USAGE}\nTrains and evaluates one row (${ROWS[0]}–${ROWS.at(-1)}) of Pixel-BERT's Table 6.`);
    return 0;
  }
  const row = intFlag('row', flags.row, USAGE);
  if (row === undefined) throw new UsageError(`--row is required (Table 6 has rows ${ROWS[0]}–${ROWS.at(-1)})\nusage: ${USAGE}`);
  const until = flags.until as (typeof UNTIL)[number] | undefined;
  if (until !== undefined && !UNTIL.includes(until)) throw new UsageError(`--until=${until}: expected one of ${UNTIL.join(', ')} (that stage and those it starts from run; the rest of the row does not)\nusage: ${USAGE}`);
  const resolved = loadRowSpec({ row, ...specOptions(flags, USAGE) });
  const { spec } = resolved;

  console.log(`# Table 6 row ${row} — resolved spec (${resolved.sources.join(' ← ')})`);
  console.log(resolved.yaml.trimEnd());
  console.log(`# spec hash: ${resolved.hash}`);
  console.log(`\nplan for row ${row} at ${spec.scale} scale, seed ${spec.seed}:`);
  for (const line of describePlan(spec)) console.log(line);
  if (flags['dry-run']) {
    console.log('\n(dry run: nothing was trained or written)');
    return 0;
  }
  if (until === 'pretrain' && !resolved.spec.pretrain.tasks.mlm && !resolved.spec.pretrain.tasks.itm) throw new UsageError(`--until=pretrain: row ${row} has no pre-training (neither MLM nor ITM)`);
  return runRowCli({ resolved, experiment: flags.experiment, force: flags.force, ...(until ? { until } : {}) });
});
