// `npx nx run data:validate --row=N --scale=S` or `--spec=FILE` (run from the workspace root):
// checks every dataset the experiment uses; exits 1 naming the problems, 2 on bad arguments.

import path from 'node:path';
import { parseArgs } from 'node:util';
import { SCALES, SpecError, WORKSPACE_ROOT, loadRowSpec, loadSpecFile, type ResolvedSpec, type Scale } from '@pixel-bert/spec';
import { formatReport, validateData, validateOptionsForSpec } from '../validate/index';

const USAGE = `usage: npx nx run data:validate --row=1..6 [--scale=smoke|small|paper] [--set key.path=value]…
       npx nx run data:validate --spec=FILE [--scale=…] [--set …]
options: --root=DIR (override data.root)  --vocab=FILE (default <root>/vocab.txt)  --no-decode (existence only)`;

async function main(): Promise<number> {
  let values: { row?: string; scale?: string; spec?: string; set?: string[]; root?: string; vocab?: string; 'no-decode'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        row: { type: 'string' },
        scale: { type: 'string' },
        spec: { type: 'string' },
        set: { type: 'string', multiple: true },
        root: { type: 'string' },
        vocab: { type: 'string' },
        'no-decode': { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`data:validate: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if ((values.row === undefined) === (values.spec === undefined)) {
    console.error(`data:validate: give exactly one of --row or --spec\n${USAGE}`);
    return 2;
  }
  if (values.scale !== undefined && !SCALES.includes(values.scale as Scale)) {
    console.error(`data:validate: --scale must be one of ${SCALES.join(', ')}, got "${values.scale}"`);
    return 2;
  }
  const scale = values.scale as Scale | undefined;
  let resolved: ResolvedSpec;
  try {
    if (values.row !== undefined) {
      if (!/^\d+$/.test(values.row)) {
        console.error(`data:validate: --row must be a row number of Table 6 (1–6), got "${values.row}"`);
        return 2;
      }
      resolved = loadRowSpec({ row: Number(values.row), scale, set: values.set });
    } else resolved = loadSpecFile(path.resolve(values.spec as string), { scale, set: values.set });
  } catch (e) {
    console.error(`data:validate: ${e instanceof SpecError ? e.message : (e as Error).message}`);
    return 2;
  }
  const { spec } = resolved;
  const root = values.root ? path.resolve(values.root) : path.resolve(WORKSPACE_ROOT, spec.data.root);
  const options = validateOptionsForSpec(spec, root);
  const { datasets } = options;
  console.log(`data:validate: spec ${spec.name} (scale ${spec.scale}, hash ${resolved.hash.slice(0, 12)}), data ${spec.data.source} at ${root}`);
  console.log(`data:validate: pre-training datasets: ${datasets.pretrain.join(', ') || '(none: no pre-training task)'}; fine-tuning: ${datasets.finetune.join(', ')}`);
  const t0 = performance.now();
  const report = await validateData({
    ...options,
    vocabFile: values.vocab ? path.resolve(values.vocab) : undefined,
    decodeImages: !values['no-decode'],
    log: (l) => console.log(l),
  });
  console.log(formatReport(report));
  console.log(`data:validate: took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`data:validate: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
