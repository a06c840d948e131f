// The held-out ITM accuracy a perfect model could reach on a generated world, with hard negatives.
//
// Pre-training's hard ITM negative (pretrain.itm.hard) is, of `candidates` captions of other images,
// the one sharing the most words with the positive. Generated captions are often true of more than
// one image, so such a "negative" can be true of the positive's image too: a label no model can get
// right. This draws negatives the way pre-training does (word-set Jaccard over the caption's words,
// the caption itself excluded) for the held-out pairs (COCO val captions, negatives from the same
// pool, as pre-training's validation draws them) and for training (COCO train + restval), and counts
// the negatives that are in fact true of the positive's scene (the generator can write them of it).
// A model that says "match" exactly for true pairs scores 50 % + 50 % × (1 − that fraction).
//
//   npx tsx tools/itm-ceiling.ts [--data=data/small] [--candidates=16] [--draws=4]

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CAPTION_TYPES, captionDifference, captionOf, generatedScenes, rngFor } from '@pixel-bert/data';

interface Sentence { raw: string; type?: string }
interface CocoImage { split: string; cocoid: number; sentences: Sentence[] }
interface Caption { image: number; raw: string; words: Set<string>; type: string }

const norm = (s: string): string => s.toLowerCase().replace(/[.]/g, '').replace(/\s+/g, ' ').trim();
const wordsOf = (s: string): Set<string> => new Set(norm(s).split(' '));

function jaccard(a: Set<string>, b: Set<string>): number {
  let shared = 0;
  for (const w of b) if (a.has(w)) shared++;
  return shared / (a.size + b.size - shared);
}

function main(argv: string[]): void {
  const arg = (name: string, dflt: string): string => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
  const root = path.resolve(arg('data', 'data/small'));
  const candidates = Number(arg('candidates', '16'));
  const draws = Number(arg('draws', '4'));
  if (!Number.isInteger(candidates) || candidates < 1) throw new Error(`--candidates=${arg('candidates', '')}: expected a whole number ≥ 1`);
  if (!Number.isInteger(draws) || draws < 1) throw new Error(`--draws=${arg('draws', '')}: expected a whole number ≥ 1`);
  const manifestPath = path.join(root, 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath}: no generated world here; generate it first (npx nx run data:synth --scale=small) or pass --data=<dir>`);
  const sceneOf = generatedScenes(root);
  if (!sceneOf) throw new Error(`${manifestPath}: not a generated world; the ceiling needs the scenes, which only a generated world has`);
  const seed = (JSON.parse(readFileSync(manifestPath, 'utf8')) as { seed: number }).seed;
  const coco = JSON.parse(readFileSync(path.join(root, 'coco/dataset_coco.json'), 'utf8')) as { images: CocoImage[] };

  // Every caption the generator can write of a scene (400 draws per type exhaust its choices).
  const possibleCache = new Map<number, Set<string>>();
  const possible = (cocoid: number): Set<string> => {
    let out = possibleCache.get(cocoid);
    if (out) return out;
    const scene = sceneOf('coco', (cocoid - 9) / 7);
    const rng = rngFor(seed, 'itm-ceiling', cocoid);
    out = new Set<string>();
    for (let n = 0; n < 400; n++) for (const t of CAPTION_TYPES) {
      const c = captionOf(scene, t, rng);
      if (c !== null) out.add(norm(c));
    }
    possibleCache.set(cocoid, out);
    return out;
  };

  const report = (label: string, splits: string[]): void => {
    const imgs = coco.images.filter((i) => splits.includes(i.split));
    const caps: Caption[] = imgs.flatMap((img) => img.sentences.map((s) => ({ image: img.cocoid, raw: norm(s.raw), words: wordsOf(s.raw), type: s.type ?? 'untyped' })));
    const missing = caps.filter((c) => !possible(c.image).has(c.raw));
    if (missing.length > 0) throw new Error(`${missing.length} of ${caps.length} ${label} captions are not among their scene's possible captions (first: "${missing[0]!.raw}"): the world was written by another generator version than this code`);
    const rng = rngFor(seed, 'itm-ceiling-draw', label);
    let n = 0;
    let trueNeg = 0;
    let trueRandom = 0;
    const byType = new Map<string, { n: number; true: number }>();
    const byKind = new Map<string, { n: number; true: number }>();
    for (let d = 0; d < draws; d++) for (const c of caps) {
      const other = (): Caption => {
        for (;;) {
          const e = caps[rng.int(caps.length)]!;
          if (e.image !== c.image) return e;
        }
      };
      let best: Caption | undefined;
      let bestScore = -1;
      for (let k = 0; k < candidates; k++) {
        const e = other();
        if (e.raw === c.raw) continue;
        const s = jaccard(c.words, e.words);
        if (s > bestScore) [best, bestScore] = [e, s];
      }
      const neg = best ?? other();
      const isTrue = possible(c.image).has(neg.raw);
      n++;
      if (isTrue) trueNeg++;
      if (possible(c.image).has(other().raw)) trueRandom++;
      for (const [map, key] of [[byType, neg.type], [byKind, captionDifference(c.raw.split(' '), neg.raw.split(' '))]] as const) {
        const t = map.get(key) ?? { n: 0, true: 0 };
        t.n++;
        if (isTrue) t.true++;
        map.set(key, t);
      }
    }
    const pct = (x: number): string => (100 * x).toFixed(1);
    console.log(`${label}: ${caps.length} captions of ${imgs.length} images, ${draws} draws each, hard negative = best of ${candidates} by shared words`);
    console.log(`  hard negatives true of the positive's image: ${pct(trueNeg / n)} % → a perfect model's ITM accuracy ${pct(0.5 + 0.5 * (1 - trueNeg / n))} %`);
    console.log(`  random negatives true of it: ${pct(trueRandom / n)} % → ${pct(0.5 + 0.5 * (1 - trueRandom / n))} %`);
    console.log(`  by the negative's caption type: ${[...byType].sort().map(([t, v]) => `${t} ${pct(v.true / v.n)} % true of ${v.n}`).join('; ')}`);
    console.log(`  by what tells the negative from the positive (pretrain.val.itm_accuracy_<kind>): ${[...byKind].sort((a, b) => b[1].n - a[1].n).map(([t, v]) => `${t} ${pct(v.n / n)} % of negatives (${pct(v.true / v.n)} % of them true)`).join('; ')}`);
  };
  report('held-out (COCO val)', ['val']);
  report('training (COCO train + restval)', ['train', 'restval']);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  console.error(`itm-ceiling: ${(e as Error).message}`);
  process.exit(1);
}
