// `npx nx run data:synth --scale=small [--seed=S] [--out=DIR]` (run from the workspace root).
// Sizes come from the scale's spec (experiments/scales/<scale>.yaml → data.synth, through
// @pixel-bert/spec), with this package's presets filling the keys the spec does not carry.

import path from 'node:path';
import { parseArgs } from 'node:util';
import { EXPERIMENTS_ROOT, SCALES, WORKSPACE_ROOT, loadSpecFile, type Scale } from '@pixel-bert/spec';
import { generateWorld, resolveSynthSizes } from '../synth/index';

const USAGE = 'usage: npx nx run data:synth --scale=smoke|small|paper [--seed=N] [--out=DIR]';

async function main(): Promise<number> {
  let values: { scale?: string; seed?: string; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { scale: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }));
  } catch (e) {
    console.error(`data:synth: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const scale = (values.scale ?? 'small') as Scale;
  if (!SCALES.includes(scale)) {
    console.error(`data:synth: --scale must be one of ${SCALES.join(', ')}, got "${values.scale}"\n${USAGE}`);
    return 2;
  }
  // The resolved base spec at this scale gives data.root, data.synth and the default seed.
  const base = path.join(EXPERIMENTS_ROOT, 'base.yaml');
  const { spec } = loadSpecFile(base, { scale });
  let seed = spec.seed;
  if (values.seed !== undefined) {
    if (!/^\d+$/.test(values.seed) || Number(values.seed) > 0xffffffff) {
      console.error(`data:synth: --seed must be a non-negative integer below 2^32, got "${values.seed}"`);
      return 2;
    }
    seed = Number(values.seed);
  }
  const sizes = resolveSynthSizes(scale, spec.data.synth, `experiments/scales/${scale}.yaml: data.synth`);
  const out = values.out ? path.resolve(values.out) : path.resolve(WORKSPACE_ROOT, spec.data.root);
  console.log(`data:synth: scale=${scale} seed=${seed} → ${out}`);
  const s = await generateWorld({ seed, sizes, out, scale, log: (l) => console.log(l) });
  console.log(
    `data:synth: wrote ${s.files} files (${s.images} images, ${(s.bytes / 1e6).toFixed(1)} MB) in ${s.seconds.toFixed(1)} s to ${s.out}`,
  );
  for (const [k, v] of Object.entries(s.counts)) console.log(`  ${k.padEnd(28)} ${v}`);
  console.log(`  manifest: ${path.join(s.out, 'manifest.json')}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`data:synth: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
