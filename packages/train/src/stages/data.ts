import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatReport, generateWorld, resolveSynthSizes, validateData, validateOptionsForSpec, type ValidationReport } from '@pixel-bert/data';
import { WORKSPACE_ROOT, type Spec } from '@pixel-bert/spec';

/** The generated world is made once per data root and shared by every row and seed that reads it. */
export const WORLD_SEED = 0;

export interface PreparedData {
  root: string;
  generated: boolean;
  report: ValidationReport;
}

/**
 * The data stage of an ablation row: for generated data, make the world if `data.root` has none
 * yet (the same as `npx nx run data:synth`), then check every dataset the row reads (the same as
 * `npx nx run data:validate`). Real data is only checked, never written.
 */
export async function prepareData(spec: Spec, log: (line: string) => void = console.log, o: { reportCache?: string } = {}): Promise<PreparedData> {
  const root = path.resolve(WORKSPACE_ROOT, spec.data.root);
  let generated = false;
  if (spec.data.source === 'synthetic') {
    const manifest = path.join(root, 'manifest.json');
    if (existsSync(manifest)) {
      const m = JSON.parse(readFileSync(manifest, 'utf8')) as { seed?: number; scale?: string; sizes?: Record<string, unknown> };
      const want = resolveSynthSizes(spec.scale, spec.data.synth, 'data.synth');
      const differ = Object.entries(want).filter(([k, v]) => JSON.stringify(m.sizes?.[k]) !== JSON.stringify(v));
      if (differ.length) {
        throw new Error(
          `data.root ${root} holds a world generated with other sizes than the spec's data.synth (${differ.map(([k, v]) => `${k}: ${JSON.stringify(m.sizes?.[k])} there, ${JSON.stringify(v)} in the spec`).join('; ')}); ` +
            `move it away (it is regenerated) or point data.root elsewhere (--set data.root=DIR)`,
        );
      }
      log(`data: reusing the generated world at ${root} (seed ${m.seed ?? '?'}, scale ${m.scale ?? '?'})`);
    } else {
      if (existsSync(root) && readdirSync(root).length > 0) {
        throw new Error(
          `data.root ${root} is not empty but has no manifest.json from data:synth; ` +
            'move it away or point data.root elsewhere (--set data.root=DIR) — it is not overwritten',
        );
      }
      log(`data: generating the ${spec.scale} world (seed ${WORLD_SEED}) into ${root} …`);
      const sizes = resolveSynthSizes(spec.scale, spec.data.synth, 'data.synth');
      const s = await generateWorld({ seed: WORLD_SEED, sizes, out: root, scale: spec.scale, log });
      log(`data: wrote ${s.files} files (${s.images} images) in ${s.seconds.toFixed(1)} s`);
      generated = true;
    }
  } else if (!existsSync(root)) {
    throw new Error(`data.root ${root} does not exist: put the real datasets there (layout: docs/data-synth.md) or use --scale=small for generated data`);
  }
  // A generated world is checked once per (world, checks): its manifest names it exactly.
  const options = validateOptionsForSpec(spec, root);
  const manifest = path.join(root, 'manifest.json');
  const key = o.reportCache && spec.data.source === 'synthetic' && existsSync(manifest) ? createHash('sha256').update(JSON.stringify(options)).update(readFileSync(manifest)).digest('hex').slice(0, 24) : null;
  const cached = key ? path.join(o.reportCache!, `data-${key}.json`) : null;
  if (cached && existsSync(cached)) {
    const report = JSON.parse(readFileSync(cached, 'utf8')) as ValidationReport;
    if (report.ok) {
      log(`data: ${root} was checked before with these settings and passed (${cached})`);
      return { root, generated, report };
    }
  }
  log(`data: checking ${root} …`);
  const report = await validateData(options);
  log(formatReport(report));
  if (cached && report.ok) {
    mkdirSync(path.dirname(cached), { recursive: true });
    // Rows of a sweep run side by side: write aside and rename, so none reads half a report.
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(report));
    renameSync(tmp, cached);
  }
  return { root, generated, report };
}
