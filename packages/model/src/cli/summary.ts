/**
 * `npx nx run model:summary --backbone=<name> [--scale=smoke|small|paper] [--hidden= --layers= --heads= --ffn=]
 *  [--vocab=] [--max-text=] [--answers=] [--pixel-position]`
 *
 * Builds the model with every task head and prints the parameter count of each
 * part, read from the created variables (not from formulas).
 * Sizes are the scale's spec (experiments/base.yaml sized by experiments/scales/<scale>.yaml:
 * smoke 2×64×2, small 4×128×4, paper BERT-base); explicit flags override them.
 */
import path from 'node:path';
import { EXPERIMENTS_ROOT, defaultVocabSize, loadSpecFile, type Scale } from '@pixel-bert/spec';
import { BACKBONE_NAMES } from '../backbone/table';
import { pixelBertConfigFor } from '../spec-config';

const KNOWN = ['backbone', 'scale', 'hidden', 'layers', 'heads', 'ffn', 'vocab', 'max-text', 'answers', 'pixel-position', 'help'];

function parseArgs(argv: string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unexpected argument "${a}"; flags look like --name=value`);
    if (!KNOWN.includes(m[1]!)) throw new Error(`unknown flag --${m[1]}; known: ${KNOWN.map((k) => `--${k}`).join(' ')}`);
    args.set(m[1]!, m[2] ?? 'true');
  }
  return args;
}

function int(args: Map<string, string>, key: string, fallback: number): number {
  const raw = args.get(key);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${key}=${raw}: expected a positive integer`);
  return v;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has('help')) {
    console.log(`usage: nx run model:summary --backbone=<${BACKBONE_NAMES.join('|')}> [--scale=smoke|small|paper] [--hidden= --layers= --heads= --ffn=] [--vocab= --max-text= --answers=] [--pixel-position]`);
    return;
  }
  const backbone = args.get('backbone');
  if (!backbone || !(BACKBONE_NAMES as string[]).includes(backbone)) {
    throw new Error(`--backbone must be one of ${BACKBONE_NAMES.join(', ')}${backbone ? `, got "${backbone}"` : ''}`);
  }
  // The loader checks the scale's name.
  const { spec } = loadSpecFile(path.join(EXPERIMENTS_ROOT, 'base.yaml'), { scale: (args.get('scale') ?? 'small') as Scale });
  const preset = pixelBertConfigFor(spec.model, {
    vocabSize: defaultVocabSize(spec.data), // the generated world's WordPiece size, or BERT-base uncased's
    taskHeads: ['mlm', 'itm', 'vqa', 'nlvr2', 'retrieval'],
    answerVocabSize: spec.finetune.vqa.answerVocabSize,
  });
  const hidden = int(args, 'hidden', preset.hidden);
  const config = {
    ...preset,
    backbone: { ...preset.backbone, arch: backbone },
    hidden,
    layers: int(args, 'layers', preset.layers),
    heads: int(args, 'heads', preset.heads),
    ffn: int(args, 'ffn', args.has('hidden') ? 4 * hidden : preset.ffn),
    vocabSize: int(args, 'vocab', preset.vocabSize),
    maxTextLength: int(args, 'max-text', preset.maxTextLength),
    pixelPositionEmbedding: args.has('pixel-position') || preset.pixelPositionEmbedding,
    answerVocabSize: int(args, 'answers', preset.answerVocabSize!),
  };
  // tfjs and the model load only once the arguments are known to be good (fast failure).
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../backend/init');
  const { MODEL_PARTS, createPixelBert, disposePixelBert, paramCounts } = await import('../pixelbert');
  await initBackend({ quiet: true });
  const t0 = Date.now();
  const model = createPixelBert(config);
  const counts = paramCounts(model);
  const fmt = (n: number) => n.toLocaleString('en-US');
  console.log(
    `Pixel-BERT: backbone ${backbone}, encoder ${config.layers}×${config.hidden}×${config.heads} heads (ffn ${config.ffn}), ` +
      `vocab ${config.vocabSize}, text ≤ ${config.maxTextLength}, ${config.answerVocabSize} answers` +
      `${config.pixelPositionEmbedding ? ', pixel position embedding' : ''}  [built in ${((Date.now() - t0) / 1000).toFixed(1)} s on ${tf.getBackend()}]`,
  );
  const rows: [string, string, number][] = Object.entries(MODEL_PARTS).map(([part, prefix]) => [part, `${prefix}.*`, counts[part as keyof typeof MODEL_PARTS]]);
  const w0 = Math.max(...rows.map((r) => r[0].length), 5);
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const w2 = Math.max(fmt(counts.total).length, 10);
  for (const [part, prefix, n] of rows) console.log(`  ${part.padEnd(w0)}  ${prefix.padEnd(w1)}  ${fmt(n).padStart(w2)}`);
  console.log(`  ${'total'.padEnd(w0)}  ${''.padEnd(w1)}  ${fmt(counts.total).padStart(w2)}`);
  disposePixelBert(model);
}

main().catch((e: unknown) => {
  console.error(`model:summary: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
