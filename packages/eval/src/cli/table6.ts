// `npx nx run eval:table6 [--scale=S] [--tracking-uri=URI] [--experiment=E] [--out=DIR]`:
// Table 6 from tracked row runs, with the paper's findings and verdicts; Markdown on stdout, and
// CSV, JSON, PNG chart and HTML report in --out, logged as artifacts of a `table6` run.
import { join } from 'node:path';
import { parseFlags, runCli, userPath } from '@pixel-bert/spec';
import { defaultReportsDir } from '@pixel-bert/tracking';
import { table6 } from '../table6/report';
import { TRACKING_FLAGS, scaleFlag, uriFlag } from './common';

const USAGE = 'nx run eval:table6 [--scale=smoke|small|paper] [--tracking-uri=URI] [--experiment=NAME] [--out=DIR] [--no-log]';

await runCli(async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    { scale: { type: 'string' }, ...TRACKING_FLAGS, out: { type: 'string' }, 'no-log': { type: 'boolean', default: false } },
    USAGE,
  );
  const scale = scaleFlag(flags.scale, USAGE);
  const out = flags.out ? userPath(flags.out) : join(defaultReportsDir(), `table6-${scale ?? 'all'}`);
  const result = await table6({ scale, trackingUri: uriFlag(flags['tracking-uri'], USAGE), experiment: flags.experiment, out, log: !flags['no-log'] });
  process.stdout.write(result.markdown + '\n');
  console.error(`[eval:table6] wrote ${result.files.join(', ')} to ${result.out}`);
  if (result.runId) console.error(`[eval:table6] logged them as artifacts (table6/…) of run ${result.runId}${result.runLink ? ` — ${result.runLink}` : ''}`);
  return 0;
});
