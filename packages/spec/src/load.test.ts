import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  EXPERIMENTS_ROOT,
  ROWS,
  SCALES,
  SpecError,
  canonicalJson,
  loadRowSpec,
  loadSpecFile,
  specHash,
  type Spec,
} from './index';

const BASE = path.join(EXPERIMENTS_ROOT, 'base.yaml');
const tmp = mkdtempSync(path.join(tmpdir(), 'spec-test-'));
let counter = 0;
/** Writes a spec file in a temp dir; `extends` paths are made relative to it. */
function specFile(body: string, name = `spec${counter++}.yaml`): string {
  const file = path.join(tmp, name);
  writeFileSync(file, body.replaceAll('$BASE', path.relative(tmp, BASE)));
  return file;
}
function errorOf(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error('expected a SpecError');
}

/** Leaf key paths where two plain objects differ. */
function diffPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (typeof a === 'object' && a && typeof b === 'object' && b && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      diffPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k),
    );
  }
  return canonicalJson(a ?? null) === canonicalJson(b ?? null) ? [] : [prefix];
}

describe('Table 6 rows', () => {
  it.each(SCALES.flatMap((scale) => ROWS.map((row) => [scale, row] as const)))('row resolves at %s scale, row %i', (scale, row) => {
    const r = loadRowSpec({ row, scale });
    expect(r.spec.row).toBe(row);
    expect(r.spec.scale).toBe(scale);
    expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.sources[0]).toBe('experiments/base.yaml');
    expect(r.sources).toContain(`experiments/scales/${scale}.yaml`);
  });

  it('the six rows differ exactly in the Table 6 toggles', () => {
    for (const scale of SCALES) {
      const rows = ROWS.map((row) => loadRowSpec({ row, scale }).spec);
      const toggles = rows.map((s) => ({
        mlm: s.pretrain.tasks.mlm,
        itm: s.pretrain.tasks.itm,
        sampling: s.pretrain.pixelSampling.enabled,
        backbone: s.model.backbone,
      }));
      expect(toggles).toEqual([
        { mlm: false, itm: false, sampling: false, backbone: 'resnet50' },
        { mlm: true, itm: false, sampling: false, backbone: 'resnet50' },
        { mlm: false, itm: true, sampling: false, backbone: 'resnet50' },
        { mlm: true, itm: true, sampling: false, backbone: 'resnet50' },
        { mlm: true, itm: true, sampling: true, backbone: 'resnet50' },
        { mlm: true, itm: true, sampling: true, backbone: 'resnext152' },
      ]);
      const labels = new Set(['name', 'row']);
      const d = (a: Spec, b: Spec) => diffPaths(a, b).filter((p) => !labels.has(p)).sort();
      expect(d(rows[0]!, rows[1]!)).toEqual(['pretrain.tasks.mlm']);
      expect(d(rows[0]!, rows[2]!)).toEqual(['pretrain.tasks.itm']);
      expect(d(rows[1]!, rows[3]!)).toEqual(['pretrain.tasks.itm']);
      expect(d(rows[3]!, rows[4]!)).toEqual(['pretrain.pixelSampling.enabled']);
      // Row 6 swaps the backbone; what runs in its place follows from the scale's table.
      // (the paper gives ResNeXt-152 smaller images; the small and smoke stand-ins share one size).
      const imageKeys = scale === 'paper' ? ['model.run.image.longEdge', 'model.run.image.shortEdge'] : [];
      expect(d(rows[4]!, rows[5]!)).toEqual(['model.backbone', 'model.run.arch', ...imageKeys, 'model.run.paper']);
    }
  });

  it('records the paper backbone and what actually runs', () => {
    expect(loadRowSpec({ row: 6, scale: 'paper' }).spec.model.run).toEqual({
      paper: 'resnext152',
      arch: 'resnext152',
      image: { shortEdge: 600, longEdge: 1000 },
    });
    const small = loadRowSpec({ row: 6, scale: 'small' }).spec.model.run;
    expect(small).toMatchObject({ paper: 'resnext152', arch: 'resnext-small' });
    expect(loadRowSpec({ row: 4, scale: 'small' }).spec.model.run.arch).toBe('resnet-small');
  });

  it('paper scale keeps the paper values', () => {
    const s = loadRowSpec({ row: 5, scale: 'paper' }).spec;
    expect(s.model.encoder).toMatchObject({ layers: 12, hidden: 768, heads: 12, ffn: 3072 });
    expect(s.pretrain).toMatchObject({ epochs: 40, decayEpochs: [25, 35], mlm: { probability: 0.15 }, pixelSampling: { count: 100 } });
    expect(s.optim.cnn).toMatchObject({ lr: 0.01, weightDecay: 0.0005 });
    expect(s.optim.transformer).toMatchObject({ lr: 0.0001, weightDecay: 0.01 });
    expect(s.finetune.vqa).toMatchObject({ epochs: 18, decayEpochs: [12, 16], batchSize: 256, answerVocabSize: 3129 });
    expect(s.finetune.nlvr2.batchSize).toBe(s.finetune.vqa.batchSize / 2);
    expect(s.finetune.retrieval).toMatchObject({ negatives: 20, hardNegatives: 5, epochs: 10, decayEpochs: [6], finetuneCnn: false });
    expect(s.model.run.image).toEqual({ shortEdge: 800, longEdge: 1333 });
  });
});

describe('spec hash', () => {
  it('does not depend on key order, names or how a value was reached', () => {
    const viaBase = loadSpecFile(BASE, { scale: 'paper' });
    // The same content written out flat, keys in reverse order, under another name.
    const reversed = (v: unknown): unknown =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)]))
        : v;
    const flat = reversed(parse(readFileSync(BASE, 'utf8'))) as Record<string, unknown>;
    flat.name = 'some-other-name';
    const file = specFile(JSON.stringify(flat)); // JSON is YAML
    expect(loadSpecFile(file, { scale: 'paper' }).hash).toBe(viaBase.hash);
    // An override that sets the value it already had changes nothing.
    expect(loadSpecFile(BASE, { scale: 'paper', set: ['pretrain.epochs=40'] }).hash).toBe(viaBase.hash);
    expect(loadRowSpec({ row: 4, scale: 'small' }).hash).toBe(loadRowSpec({ row: 4, scale: 'small' }).hash);
  });

  it('changes with any real change', () => {
    const base = loadRowSpec({ row: 4, scale: 'small' });
    expect(loadRowSpec({ row: 4, scale: 'small', set: ['pretrain.epochs=9'] }).hash).not.toBe(base.hash);
    expect(loadRowSpec({ row: 4, scale: 'small', seed: 1 }).hash).not.toBe(base.hash);
    expect(loadRowSpec({ row: 4, scale: 'smoke' }).hash).not.toBe(base.hash);
    // Every leaf of the resolved spec (labels aside) moves the hash.
    const leaves: string[][] = [];
    const walk = (v: unknown, p: string[]) => {
      if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
      else leaves.push(p);
    };
    walk(base.spec, []);
    let checked = 0;
    for (const leaf of leaves) {
      if (leaf[0] === 'name' || leaf[0] === 'description') continue;
      const copy = structuredClone(base.spec) as unknown as Record<string, unknown>;
      let node = copy;
      for (const k of leaf.slice(0, -1)) node = node[k] as Record<string, unknown>;
      const last = leaf.at(-1)!;
      const v = node[last];
      node[last] = typeof v === 'number' ? v + 1 : typeof v === 'boolean' ? !v : Array.isArray(v) ? [...v, 99] : `${String(v)}x`;
      expect(specHash(copy as unknown as Spec), leaf.join('.')).not.toBe(base.hash);
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
    // Labels do not.
    expect(specHash({ ...base.spec, name: 'renamed', description: 'words' })).toBe(base.hash);
  });
});

describe('overrides', () => {
  it('pretrain.itm.replace: caption (the paper, by default) or image; anything else is refused with the choices', () => {
    expect(loadRowSpec({ row: 3, scale: 'smoke' }).spec.pretrain.itm.replace).toBeUndefined();
    expect(loadRowSpec({ row: 3, scale: 'small' }).spec.pretrain.itm.replace).toBe('image'); // small.yaml's lever
    expect(loadRowSpec({ row: 3, scale: 'small', set: ['pretrain.itm.replace=caption'] }).spec.pretrain.itm.replace).toBe('caption');
    expect(errorOf(() => loadRowSpec({ row: 3, scale: 'small', set: ['pretrain.itm.replace=pixels'] })).message).toMatch(/pretrain\.itm\.replace.*"caption"\|"image".*"pixels"/);
  });
  it('pretrain.itm.text (masked by default, or unmasked) and pretrain.mlm.fromEpoch (< epochs) are checked with where and what would be right', () => {
    expect(loadRowSpec({ row: 4, scale: 'smoke' }).spec.pretrain.itm.text).toBeUndefined();
    expect(loadRowSpec({ row: 4, scale: 'smoke', set: ['pretrain.itm.text=unmasked'] }).spec.pretrain.itm.text).toBe('unmasked');
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'smoke', set: ['pretrain.itm.text=whole'] })).message).toMatch(/pretrain\.itm\.text.*"masked"\|"unmasked".*"whole"/);
    expect(loadRowSpec({ row: 4, scale: 'small', set: ['pretrain.mlm.fromEpoch=2'] }).spec.pretrain.mlm.fromEpoch).toBe(2);
    const epochs = loadRowSpec({ row: 4, scale: 'small' }).spec.pretrain.epochs;
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'small', set: [`pretrain.mlm.fromEpoch=${epochs}`] })).message).toMatch(new RegExp(`pretrain\\.mlm\\.fromEpoch.*must be < epochs \\(${epochs}\\)`));
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'small', set: ['pretrain.mlm.fromEpoch=-1'] })).message).toMatch(/pretrain\.mlm\.fromEpoch/);
  });
  it('applies --set with type checking', () => {
    const r = loadRowSpec({ row: 4, scale: 'small', set: ['model.encoder.layers=2', 'pretrain.epochs=4', 'pretrain.decayEpochs=[2, 3]', 'backend=wasm'] });
    expect(r.spec.model.encoder.layers).toBe(2);
    expect(r.spec.pretrain.decayEpochs).toEqual([2, 3]);
    expect(r.spec.backend).toBe('wasm');
    expect(r.sources.at(-1)).toBe('--set');
    const e = errorOf(() => loadRowSpec({ row: 4, scale: 'small', set: ['model.encoder.layers=two'] }));
    expect(e.message).toContain('--set model.encoder.layers');
    expect(e.message).toContain('model.encoder.layers');
    expect(e.message).toContain('"two"');
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'small', set: ['pretrain.epochz=3'] })).message).toMatch(/unknown key "epochz".*epochs/);
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'small', set: ['noequals'] })).message).toContain('key.path=value');
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'small', set: ['seed.x=1'] })).message).toContain('not a mapping');
  });

  it('takes per-stage learning rates and pre-training loss weights, each optional and checked', () => {
    const r = loadRowSpec({ row: 4, scale: 'smoke', set: ['finetune.retrieval.lr.transformer=0.0001', 'pretrain.itm.weight=4'] });
    expect(r.spec.finetune.retrieval.lr).toEqual({ transformer: 0.0001 });
    expect(r.spec.pretrain.itm.weight).toBe(4);
    const plain = loadRowSpec({ row: 4, scale: 'smoke' });
    expect(plain.spec.finetune.vqa.lr).toBeUndefined(); // absent: the optim section's rates
    expect(plain.spec.pretrain.mlm.weight).toBeUndefined(); // absent: 1, the paper's sum
    expect(r.hash).not.toBe(plain.hash);
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'smoke', set: ['pretrain.itm.weight=0'] })).message).toMatch(/itm\.weight must be > 0/);
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'smoke', set: ['finetune.vqa.lr.transformer=-1'] })).message).toMatch(/a learning rate must be > 0/);
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'smoke', set: ['finetune.vqa.lr.adam=1'] })).message).toMatch(/unknown key "adam"/);
  });

  it('takes hard retrieval negatives as {fraction, candidates}, absent by default, and checks both', () => {
    const r = loadRowSpec({ row: 4, scale: 'smoke', set: ['finetune.retrieval.hard={fraction: 0.5, candidates: 16}'] });
    expect(r.spec.finetune.retrieval.hard).toEqual({ fraction: 0.5, candidates: 16 });
    expect(loadRowSpec({ row: 4, scale: 'smoke' }).spec.finetune.retrieval.hard).toBeUndefined();
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'smoke', set: ['finetune.retrieval.hard={fraction: 1.5, candidates: 16}'] })).message).toMatch(/retrieval\.hard\.fraction must be in \[0, 1\]/);
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'smoke', set: ['finetune.retrieval.hard={fraction: 1, candidates: 0}'] })).message).toMatch(/retrieval\.hard\.candidates must be a whole number ≥ 1/);
  });

  it('takes trainer.dataParallel (1 by default) only where it divides optim.accumulation, saying what to set', () => {
    expect(loadRowSpec({ row: 4, scale: 'smoke' }).spec.trainer.dataParallel).toBe(1);
    expect(loadRowSpec({ row: 4, scale: 'smoke', set: ['optim.accumulation=4', 'trainer.dataParallel=2'] }).spec.trainer.dataParallel).toBe(2);
    const e = errorOf(() => loadRowSpec({ row: 4, scale: 'smoke', set: ['trainer.dataParallel=2'] })).message;
    expect(e).toMatch(/trainer\.dataParallel/);
    expect(e).toMatch(/optim\.accumulation \(1\) must be a multiple of it: set optim\.accumulation to 2/);
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'smoke', set: ['trainer.dataParallel=0'] })).message).toMatch(/trainer\.dataParallel must be a whole number ≥ 1/);
  });

  it('takes parts a stage freezes (a list of model parts), absent by default, and names the parts there are', () => {
    const r = loadRowSpec({ row: 4, scale: 'smoke', set: ['finetune.vqa.freeze=[pixel_embeddings, backbone]'] });
    expect(r.spec.finetune.vqa.freeze).toEqual(['pixel_embeddings', 'backbone']);
    expect(loadRowSpec({ row: 4, scale: 'smoke' }).spec.finetune.vqa.freeze).toBeUndefined();
    const e = errorOf(() => loadRowSpec({ row: 4, scale: 'smoke', set: ['finetune.nlvr2.freeze=[pixels]'] })).message;
    expect(e).toMatch(/finetune\.nlvr2\.freeze\.0/);
    expect(e).toMatch(/pixel_embeddings/);
  });

  it('rejects a scale that does not exist', () => {
    expect(errorOf(() => loadRowSpec({ row: 4, scale: 'huge' as never })).message).toContain('smoke, small, paper');
  });
});

describe('a spec file and its scale', () => {
  it("the file's own keys outrank the scale's; the scale outranks base.yaml's", () => {
    const file = specFile(`extends: $BASE\nname: mine\noptim:\n  transformer:\n    lr: 0.0005\npretrain:\n  epochs: 5\n  decayEpochs: [4]\n`);
    const small = loadSpecFile(file).spec;
    expect(small.optim.transformer.lr).toBe(0.0005); // small.yaml says 0.001
    expect(small.pretrain.epochs).toBe(5); // small.yaml says 7
    expect(small.pretrain.decayEpochs).toEqual([4]);
    expect(small.pretrain.mlm.fromEpoch).toBe(3); // small.yaml's, kept: the file does not set it
    // Fewer epochs than small.yaml's ITM-first epochs leave MLM nothing: refused, naming small.yaml's line, until the file lowers it too.
    const short = `extends: $BASE\nname: short\npretrain:\n  epochs: 3\n  decayEpochs: [2]\n`;
    expect(errorOf(() => loadSpecFile(specFile(short))).message).toMatch(/small\.yaml:\d+:\d+: pretrain\.mlm\.fromEpoch: mlm\.fromEpoch 3 must be < epochs \(3\)/);
    expect(loadSpecFile(specFile(`${short}  mlm:\n    fromEpoch: 1\n`)).spec.pretrain.mlm).toMatchObject({ fromEpoch: 1, probability: 0.3 });
    expect(small.optim.warmupSteps).toBe(50); // only base.yaml (0) and small.yaml (50) set it
    expect(small.model.encoder.layers).toBe(2);
    expect(loadSpecFile(file, { set: ['optim.transformer.lr=0.002'] }).spec.optim.transformer.lr).toBe(0.002); // --set outranks both
    // the rows set only what they toggle: every scale still sizes them
    expect(loadRowSpec({ row: 4, scale: 'small' }).spec.pretrain.epochs).toBe(7);
  });
});

describe('bad input', () => {
  it('names the file, line, key path, what was found and what is expected', () => {
    const file = specFile(`extends: $BASE\nname: bad\npretrain:\n  mlm:\n    probability: 1.5\n`);
    const e = errorOf(() => loadSpecFile(file)); // small scale: it sets pretrain.mlm.probability too, but the file's own key wins
    expect(e.problems).toHaveLength(1);
    const p = e.problems[0]!;
    expect(p.source).toContain(path.basename(file));
    expect(p.line).toBe(5);
    expect(p.path).toBe('pretrain.mlm.probability');
    expect(p.message).toContain('1.5');
    expect(p.message).toContain('[0, 1]');
  });

  it.each([
    ['unknown key', 'model:\n  encoder:\n    layerz: 3\n', 'model.encoder.layerz', /unknown key "layerz"; expected one of: layers/],
    ['wrong type', 'seed: "zero"\n', 'seed', /expected number.*"zero"/],
    ['negative lr', 'optim:\n  cnn:\n    lr: -0.1\n', 'optim.cnn.lr', /learning rate must be > 0.*-0.1/],
    ['sampling count < 1', 'pretrain:\n  pixelSampling:\n    count: 0\n', 'pretrain.pixelSampling.count', /≥ 1.*found 0/],
    ['decay after the end', 'finetune:\n  vqa:\n    decayEpochs: [12, 30]\n', 'finetune.vqa.decayEpochs.1', /must be < epochs/],
    ['heads do not divide hidden', 'model:\n  encoder:\n    heads: 7\n', 'model.encoder.heads', /divisible/],
  ])('%s', (_what, body, keyPath, message) => {
    const e = errorOf(() => loadSpecFile(specFile(`extends: $BASE\nname: bad\n${body}`), { scale: 'paper' }));
    const p = e.problems.find((x) => x.path === keyPath);
    expect(p, e.message).toBeDefined();
    expect(p!.message).toMatch(message);
    expect(p!.source).toMatch(/spec\d+\.yaml$/);
    expect(p!.line).toBeGreaterThan(2);
  });

  it('reports YAML syntax errors with line and column', () => {
    const e = errorOf(() => loadSpecFile(specFile('name: x\nmodel:\n  encoder: {layers: 2\n')));
    expect(e.problems[0]!.line).toBeGreaterThanOrEqual(3);
    expect(e.problems[0]!.column).toBeGreaterThan(0);
    expect(e.message).toMatch(/YAML/);
  });

  it('says rows 1–6 exist', () => {
    expect(errorOf(() => loadRowSpec({ row: 9 })).message).toContain('rows 1–6');
    expect(errorOf(() => loadRowSpec({ row: 0 })).message).toContain('rows 1–6');
  });

  it('names an extends cycle, a missing file and a path outside experiments/', () => {
    // A cycle can only be built inside experiments/: use a scratch folder there (git-ignored, removed after).
    const scratch = mkdtempSync(path.join(EXPERIMENTS_ROOT, '.test-'));
    try {
      writeFileSync(path.join(scratch, 'a.yaml'), 'extends: b.yaml\n');
      writeFileSync(path.join(scratch, 'b.yaml'), 'extends: a.yaml\n');
      const e = errorOf(() => loadSpecFile(path.join(scratch, 'a.yaml')));
      expect(e.message).toMatch(/extends cycle: .*a\.yaml → .*b\.yaml → .*a\.yaml/);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    // Outside experiments/ the chain is refused before any cycle could form.
    specFile('extends: cyc-b.yaml\n', 'cyc-a.yaml');
    expect(errorOf(() => loadSpecFile(path.join(tmp, 'cyc-a.yaml'))).message).toMatch(/outside experiments/);
    expect(errorOf(() => loadSpecFile(specFile('extends: ../nowhere.yaml\n'))).message).toMatch(/outside experiments/);
    const missing = path.relative(tmp, path.join(EXPERIMENTS_ROOT, 'nope.yaml'));
    expect(errorOf(() => loadSpecFile(specFile(`extends: ${missing}\n`))).message).toMatch(/does not exist/);
    expect(errorOf(() => loadSpecFile(specFile('extends: /etc/passwd\n'))).message).toMatch(/absolute/);
    expect(errorOf(() => loadSpecFile(path.join(tmp, 'absent.yaml'))).message).toMatch(/file not found/);
  });

  it('refuses YAML tags and alias bombs without executing or expanding them', () => {
    const tag = errorOf(() => loadSpecFile(specFile('name: !!js/function "function(){ process.exit(7) }"\n')));
    expect(tag.message).toMatch(/YAML/);
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      bomb.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    const e = errorOf(() => loadSpecFile(specFile(`${bomb.join('\n')}\n`)));
    expect(e.message).toMatch(/alias/i);
    const big = errorOf(() => loadSpecFile(specFile(`name: x\n# ${'y'.repeat(300_000)}\n`)));
    expect(big.message).toMatch(/limited to/);
  });
});
