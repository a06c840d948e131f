// The best retrieval R@1 a perfect model could score on a generated world's test split.
//
// Generated captions are often true of more than one image ("The cross is yellow." fits every scene
// whose only cross is yellow), and R@1 counts only the image's own captions as hits. This rebuilds
// each test scene from the world's seed, lists every caption the generator could write of it
// (a caption it can write is true of the scene), and gives the expected R@1 of a model that ranks
// all true pairs first, ties broken at random: text→image (IR) averages 1 / (test images the caption
// is true of); image→text (TR) averages (the image's own captions) / (test captions true of it).
// R@5 and R@10 likewise: the chance that a random order of the tied candidates puts a right one in
// the first K. Beside it, the same figures for a model that knows only how many objects an image
// holds (it ties every image of the caption's image's object count): what counting alone buys.
//
//   npx tsx tools/retrieval-ceiling.ts [--data=data/small]

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CAPTION_TYPES, captionOf, generatedScenes, rngFor } from '@pixel-bert/data';
import { expectedRecallAtK, groupRankerRecall } from '@pixel-bert/eval';

const KS = [1, 5, 10];

interface Sentence { raw: string; type?: string }
interface FlickrImage { imgid: number; split: string; sentences: Sentence[] }

function main(argv: string[]): void {
  const dataArg = argv.find((a) => a.startsWith('--data='));
  const root = path.resolve(dataArg ? dataArg.slice('--data='.length) : 'data/small');
  const manifestPath = path.join(root, 'manifest.json');
  if (!existsSync(manifestPath)) {
    throw new Error(`${manifestPath}: no generated world here; generate it first (npx nx run data:synth --scale=small) or pass --data=<dir>`);
  }
  const sceneOf = generatedScenes(root);
  if (!sceneOf) throw new Error(`${manifestPath}: not a generated world; the ceiling needs the scenes, which only a generated world has`);
  const seed = (JSON.parse(readFileSync(manifestPath, 'utf8')) as { seed: number }).seed;
  const flickr = JSON.parse(readFileSync(path.join(root, 'flickr30k/dataset_flickr30k.json'), 'utf8')) as { images: FlickrImage[] };
  const test = flickr.images.filter((i) => i.split === 'test');
  const norm = (s: string): string => s.toLowerCase().replace(/\s+/g, ' ').trim();

  // Every caption the generator can write of each scene: its choices are few, 400 draws per type exhaust them.
  const possible = test.map((img, k) => {
    const scene = sceneOf('flickr30k', img.imgid);
    const rng = rngFor(seed, 'retrieval-ceiling', k);
    const out = new Set<string>();
    for (let n = 0; n < 400; n++) for (const t of CAPTION_TYPES) {
      const c = captionOf(scene, t, rng);
      if (c !== null) out.add(norm(c));
    }
    return out;
  });
  const caps = test.flatMap((img, k) => img.sentences.map((s) => ({ image: k, raw: norm(s.raw), type: s.type ?? 'untyped' })));
  const missing = caps.filter((c) => !possible[c.image]!.has(c.raw));
  if (missing.length > 0) {
    throw new Error(`${missing.length} of ${caps.length} test captions are not among their scene's possible captions (first: "${missing[0]!.raw}"): the world was written by another generator version than this code`);
  }

  // One pass over every (scene, caption) pair: how many test images each caption is true of, and
  // how many test captions are true of each image.
  const trueOf = caps.map(() => 0);
  const trueCaptions = test.map(() => 0);
  possible.forEach((p, k) =>
    caps.forEach((c, i) => {
      if (!p.has(c.raw)) return;
      trueOf[i]!++;
      trueCaptions[k]!++;
    }),
  );
  const captionImage = caps.map((c) => c.image);
  const ownOf = test.map(() => 0);
  for (const i of captionImage) ownOf[i]!++;
  const perfect = {
    tr: expectedRecallAtK(test.map((_, k) => ({ right: ownOf[k]!, tied: trueCaptions[k]! })), KS),
    ir: expectedRecallAtK(caps.map((_, i) => ({ right: 1, tied: trueOf[i]! })), KS),
  };
  const count = test.map((img) => sceneOf('flickr30k', img.imgid).objects.length);
  const counting = groupRankerRecall(count, captionImage, KS);
  const chance = groupRankerRecall(test.map(() => 0), captionImage, KS);
  const fmt = (r: Record<string, number>) => KS.map((k) => `R@${k} ${(100 * r[`R@${k}`]!).toFixed(1)}`).join(', ');
  console.log(`${root}: ${test.length} test images, ${caps.length} captions (world seed ${seed})`);
  console.log(`perfect-model R@1: image→text (TR) ${(100 * perfect.tr['R@1']!).toFixed(1)} %, text→image (IR) ${(100 * perfect.ir['R@1']!).toFixed(1)} % (chance ${(100 / test.length).toFixed(1)} %)`);
  console.log(`  a perfect model:        TR ${fmt(perfect.tr)}; IR ${fmt(perfect.ir)}`);
  console.log(`  a model that only counts the objects (${count.filter((n) => n === 1).length} test images hold one, ${count.filter((n) => n === 2).length} two, ${count.filter((n) => n > 2).length} more):`);
  console.log(`                          TR ${fmt(counting.tr)}; IR ${fmt(counting.ir)}`);
  console.log(`  chance:                 TR ${fmt(chance.tr)}; IR ${fmt(chance.ir)}`);
  const types = [...new Set(caps.map((c) => c.type))];
  for (const t of types) {
    const ks = trueOf.filter((_, i) => caps[i]!.type === t);
    const mean = ks.reduce((a, b) => a + b, 0) / ks.length;
    const ceil = ks.reduce((a, b) => a + 1 / b, 0) / ks.length;
    console.log(`  ${t.padEnd(9)} ${String(ks.length).padStart(4)} captions, each true of ${mean.toFixed(2)} test images on average; IR R@1 ceiling ${(100 * ceil).toFixed(1)} %`);
  }
}

try {
  main(process.argv.slice(2));
} catch (e) {
  console.error(`retrieval-ceiling: ${(e as Error).message}`);
  process.exit(2);
}
