// `npx nx run eval:compare --runs=A,B` or `--rows=4,5 [--seed=S] [--scale=S]`: the two runs' spec
// differences (only the keys that differ) and every final metric side by side with its delta.
import { ROWS, UsageError, intFlag, parseFlags, runCli } from '@pixel-bert/spec';
import { compare, renderComparison } from '../compare/compare';
import { TRACKING_FLAGS, scaleFlag, uriFlag } from './common';

const USAGE = 'nx run eval:compare (--runs=RUN_A,RUN_B | --rows=R1,R2 [--seed=S] [--scale=smoke|small|paper]) [--tracking-uri=URI] [--experiment=NAME] [--json]';

function pair(name: string, raw: string): [string, string] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length !== 2 || parts.some((p) => p === '')) throw new UsageError(`--${name}=${raw}: expected two values separated by a comma, e.g. --${name}=${name === 'rows' ? '4,5' : 'RUN_A,RUN_B'}\nusage: ${USAGE}`);
  return parts as [string, string];
}

await runCli(async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    { runs: { type: 'string' }, rows: { type: 'string' }, seed: { type: 'string' }, scale: { type: 'string' }, ...TRACKING_FLAGS, json: { type: 'boolean', default: false } },
    USAGE,
  );
  if (!!flags.runs === !!flags.rows) throw new UsageError(`give either --runs=A,B or --rows=R1,R2 (one of them)\nusage: ${USAGE}`);
  if (flags.runs && (flags.seed !== undefined || flags.scale !== undefined)) throw new UsageError(`--seed and --scale go with --rows, not --runs\nusage: ${USAGE}`);
  const rows = flags.rows
    ? (pair('rows', flags.rows).map((r) => intFlag('rows', r, USAGE, { min: ROWS[0], max: ROWS.at(-1) })!) as [number, number])
    : undefined;
  const result = await compare({
    runs: flags.runs ? pair('runs', flags.runs) : undefined,
    rows,
    seed: intFlag('seed', flags.seed, USAGE, { min: 0 }),
    scale: scaleFlag(flags.scale, USAGE),
    trackingUri: uriFlag(flags['tracking-uri'], USAGE),
    experiment: flags.experiment,
  });
  if (flags.json) {
    const slim = (r: typeof result.a) => ({ runId: r.runId, runName: r.runName, status: r.status, store: r.store });
    console.log(JSON.stringify({ a: slim(result.a), b: slim(result.b), specDifferences: result.specDifferences, metrics: result.metrics }, null, 2));
  } else console.log(renderComparison(result));
  return 0;
});
