// The held-out ITM accuracy a perfect model could reach on a generated world, with hard negatives.
//
// Pre-training's hard ITM negative (pretrain.itm.hard) is, of `candidates` captions of other images,
// the one sharing the most words with the positive; with pretrain.itm.replace: image, the positive's
// caption with the image of the batch's most similar caption. Generated captions are often true of more
// than one image, so such a "negative" pair can be true: a label no model can get right. This draws
// the pairs with pre-training's own batch builder (the world's tokenizer, batches of 32) for the
// held-out captions (all COCO val captions, negatives from the same pool; validation uses the first
// trainer.valItems of them)
// and for training (COCO train + restval; pre-training adds Visual Genome's phrases, whose truth this
// cannot check), and counts the negative pairs whose caption the generator can write of their image.
// A model that says "match" exactly for true pairs scores 50 % + 50 % × (1 − that fraction).
//
//   npx tsx tools/itm-ceiling.ts [--data=data/small] [--candidates=16] [--replace=caption|image] [--draws=4]

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CAPTION_TYPES, WordPieceTokenizer, buildPretrainBatch, captionDifference, captionOf, generatedScenes, rngFor, specialIdsOf, type CaptionExample } from '@pixel-bert/data';

interface Sentence { raw: string; type?: string }
interface CocoImage { split: string; cocoid: number; sentences: Sentence[] }

const norm = (s: string): string => s.toLowerCase().replace(/[.]/g, '').replace(/\s+/g, ' ').trim();

function main(argv: string[]): void {
  const arg = (name: string, dflt: string): string => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
  const root = path.resolve(arg('data', 'data/small'));
  const candidates = Number(arg('candidates', '16'));
  const draws = Number(arg('draws', '4'));
  const replace = arg('replace', 'caption');
  if (!Number.isInteger(candidates) || candidates < 1) throw new Error(`--candidates=${arg('candidates', '')}: expected a whole number ≥ 1`);
  if (!Number.isInteger(draws) || draws < 1) throw new Error(`--draws=${arg('draws', '')}: expected a whole number ≥ 1`);
  if (replace !== 'caption' && replace !== 'image') throw new Error(`--replace=${replace}: expected caption or image (pretrain.itm.replace)`);
  const manifestPath = path.join(root, 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath}: no generated world here; generate it first (npx nx run data:synth --scale=small) or pass --data=<dir>`);
  const sceneOf = generatedScenes(root);
  if (!sceneOf) throw new Error(`${manifestPath}: not a generated world; the ceiling needs the scenes, which only a generated world has`);
  const seed = (JSON.parse(readFileSync(manifestPath, 'utf8')) as { seed: number }).seed;
  const coco = JSON.parse(readFileSync(path.join(root, 'coco/dataset_coco.json'), 'utf8')) as { images: CocoImage[] };
  const tok = WordPieceTokenizer.fromFile(path.join(root, 'vocab.txt'));

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
    const caps = coco.images.filter((i) => splits.includes(i.split)).flatMap((img) => img.sentences.map((s) => ({ image: img.cocoid, raw: norm(s.raw), type: s.type ?? 'untyped' })));
    const missing = caps.filter((c) => !possible(c.image).has(c.raw));
    if (missing.length > 0) throw new Error(`${missing.length} of ${caps.length} ${label} captions are not among their scene's possible captions (first: "${missing[0]!.raw}"): the world was written by another generator version than this code`);
    const examples: CaptionExample[] = caps.map((c) => ({ imageIndex: c.image, ids: tok.ids(c.raw) }));
    const pct = (x: number): string => (100 * x).toFixed(1);
    const line = (fraction: number): string => {
      let n = 0;
      let trueNeg = 0;
      const byType = new Map<string, { n: number; true: number }>();
      const byKind = new Map<string, { n: number; true: number }>();
      const opts = { specials: specialIdsOf(tok), maxLength: 64, batchSize: 32, mlm: false, itm: true, vocabSize: tok.vocabSize, itmHard: { fraction, candidates }, itmReplace: replace as 'caption' | 'image' };
      for (let epoch = 0; epoch < draws; epoch++) for (let step = 0; step * opts.batchSize < examples.length; step++) {
        const b = buildPretrainBatch(examples, { seed: 0, epoch, step }, opts);
        b.exampleIndex.forEach((p, k) => {
          const [pos, neg] = [caps[p]!, caps[b.itmNegativeIndex![k]!]!];
          // The negative pair: the positive's image with the other caption, or the positive's caption with the other image.
          const isTrue = replace === 'image' ? possible(neg.image).has(pos.raw) : possible(pos.image).has(neg.raw);
          n++;
          if (isTrue) trueNeg++;
          for (const [map, key] of [[byType, neg.type], [byKind, captionDifference(pos.raw.split(' '), neg.raw.split(' '))]] as const) {
            const t = map.get(key) ?? { n: 0, true: 0 };
            t.n++;
            if (isTrue) t.true++;
            map.set(key, t);
          }
        });
      }
      if (fraction === 0) return `  random negatives true: ${pct(trueNeg / n)} % → ${pct(0.5 + 0.5 * (1 - trueNeg / n))} %`;
      return [
        `  hard negatives true: ${pct(trueNeg / n)} % → a perfect model's ITM accuracy ${pct(0.5 + 0.5 * (1 - trueNeg / n))} %`,
        `  by the other caption's type: ${[...byType].sort().map(([t, v]) => `${t} ${pct(v.true / v.n)} % true of ${v.n}`).join('; ')}`,
        `  by what tells the negative from the positive (pretrain.val.itm_accuracy_<kind>): ${[...byKind].sort((a, b) => b[1].n - a[1].n).map(([t, v]) => `${t} ${pct(v.n / n)} % of negatives (${pct(v.true / v.n)} % of them true)`).join('; ')}`,
      ].join('\n');
    };
    console.log(`${label}: ${caps.length} captions, ${draws} epochs of batches of 32, negatives replace the ${replace}, hard = best of ${candidates} by shared words`);
    console.log(line(1));
    console.log(line(0));
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
