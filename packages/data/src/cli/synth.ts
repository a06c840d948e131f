// `npx nx run data:synth --scale=small [--seed=S] [--out=DIR]` (run from the workspace root).
// Sizes come from the scale's spec (experiments/scales/<scale>.yaml → data.synth, through
// @pixel-bert/spec), with this package's presets filling the keys the spec does not carry.

import path from 'node:path';
import { EXPERIMENTS_ROOT, SPEC_FLAGS, UsageError, WORKSPACE_ROOT, loadSpecFile, parseFlags, runCli, userPath, type Scale } from '@pixel-bert/spec';
import { generateWorld, resolveSynthSizes } from '../synth/index';

const USAGE = 'npx nx run data:synth --scale=smoke|small|paper [--seed=N] [--out=DIR]';

await runCli(async () => {
  const flags = parseFlags(process.argv.slice(2), { scale: SPEC_FLAGS.scale, seed: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } }, USAGE);
  if (flags.help) {
    console.log(`usage: ${USAGE}`);
    return 0;
  }
  const scale = flags.scale as Scale;
  // The resolved base spec at this scale (the loader checks the scale's name) gives data.root,
  // data.synth and the default seed.
  const { spec } = loadSpecFile(path.join(EXPERIMENTS_ROOT, 'base.yaml'), { scale });
  let seed = spec.seed;
  if (flags.seed !== undefined) {
    if (!/^\d+$/.test(flags.seed) || Number(flags.seed) > 0xffffffff) throw new UsageError(`--seed must be a non-negative integer below 2^32, got "${flags.seed}"\nusage: ${USAGE}`);
    seed = Number(flags.seed);
  }
  const sizes = resolveSynthSizes(scale, spec.data.synth, `experiments/scales/${scale}.yaml: data.synth`);
  const out = flags.out ? userPath(flags.out) : path.resolve(WORKSPACE_ROOT, spec.data.root);
  console.log(`data:synth: scale=${scale} seed=${seed} → ${out}`);
  const s = await generateWorld({ seed, sizes, out, scale, log: (l) => console.log(l) });
  console.log(`data:synth: wrote ${s.files} files (${s.images} images, ${(s.bytes / 1e6).toFixed(1)} MB) in ${s.seconds.toFixed(1)} s to ${s.out}`);
  for (const [k, v] of Object.entries(s.counts)) console.log(`  ${k.padEnd(28)} ${v}`);
  console.log(`  manifest: ${path.join(s.out, 'manifest.json')}`);
  return 0;
});
