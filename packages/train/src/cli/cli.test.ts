import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXPERIMENTS_ROOT, WORKSPACE_ROOT } from '@pixel-bert/spec';

const TSX = path.join(WORKSPACE_ROOT, 'node_modules', '.bin', 'tsx');
function cli(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(TSX, [path.join(WORKSPACE_ROOT, 'packages/train/src/cli', script), ...args], {
    cwd: WORKSPACE_ROOT,
    encoding: 'utf8',
    env: { ...process.env, INIT_CWD: WORKSPACE_ROOT, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('train:ablation', () => {
  it('--dry-run prints the resolved spec, its hash and the plan, and writes nothing', () => {
    const before = readdirSync(WORKSPACE_ROOT).sort();
    const r = cli('ablation.ts', ['--row=4', '--dry-run']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('name: table6-row4');
    expect(r.out).toMatch(/# spec hash: [0-9a-f]{64}/);
    expect(r.out).toMatch(/1\. pre-train .*MLM.*ITM.*all pixels/);
    expect(r.out).toMatch(/fine-tune \+ evaluate VQA: .*batch 32; frozen: backbone\n/); // small.yaml freezes the CNN there
    expect(r.out).toMatch(/fine-tune \+ evaluate NLVR²: .*batch 16; frozen: backbone\n/); // and in NLVR² (small.yaml)
    expect(r.out).toMatch(/retrieval: 7 negatives, 3 hardest .*Transformer only/); // the small scale's
    expect(readdirSync(WORKSPACE_ROOT).sort()).toEqual(before);
  });

  it('row 1 skips pre-training; row 5 samples pixels; --scale, --seed and --set reach the spec', () => {
    expect(cli('ablation.ts', ['--row=1', '--dry-run']).out).toContain('pre-training: skipped');
    expect(cli('ablation.ts', ['--row=5', '--dry-run']).out).toMatch(/7 random pixels per image/);
    const r = cli('ablation.ts', ['--row=6', '--scale=paper', '--seed', '3', '--set', 'pretrain.epochs=2', '--set', 'pretrain.decayEpochs=[1]', '--dry-run']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('seed: 3');
    expect(r.out).toContain('resnext152, images 600/1000');
    expect(r.out).toMatch(/2 epochs, lr ×0.1 at epoch 1/);
    expect(r.out).toMatch(/retrieval: 20 negatives, 5 hardest .*Transformer only/); // the paper's
    expect(r.out).not.toContain('frozen:'); // the paper's scale fine-tunes what it fine-tunes
  });

  it('the plan names the parts a stage freezes', () => {
    const r = cli('ablation.ts', ['--row=4', '--scale=smoke', '--set', 'pretrain.freeze=[backbone, pixel_embeddings]', '--dry-run']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/1\. pre-train .*; frozen: backbone, pixel_embeddings\n/);
    expect(r.out).not.toMatch(/VQA: .*frozen/);
  });

  it.each([
    [['--row=9'], /rows 1–6/],
    [[], /--row is required/],
    [['--row=four'], /expected a whole number/],
    [['--row=4', '--scale=huge'], /smoke, small, paper/],
    [['--row=4', '--bogus'], /Unknown option '--bogus'/],
    [['--row=4', '--set', 'pretrain.mlm.probability=2'], /--set pretrain\.mlm\.probability: pretrain\.mlm\.probability: .*\[0, 1\]; found 2/],
  ])('bad input %j exits 2 with a clear message', (args, message) => {
    const r = cli('ablation.ts', args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
  });

  it('without --dry-run makes and checks the data before any training (and reuses the world afterwards)', () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'ablation-'));
    const root = path.join(tmp, 'world');
    const env = { PIXEL_BERT_STATE_DIR: path.join(tmp, 'state') };
    // An answer vocabulary the world cannot fill stops the row after its data stage, before training.
    const tooMany = ['--set', 'finetune.vqa.answerVocabSize=500'];
    const r = cli('ablation.ts', ['--row=4', '--scale=smoke', '--set', `data.root=${root}`, ...tooMany], env);
    expect(r.code, r.err).toBe(2);
    expect(r.out).toContain(`generating the smoke world (seed 0) into ${root}`);
    expect(r.out).toContain('data:validate: OK');
    expect(existsSync(path.join(root, 'manifest.json'))).toBe(true);
    expect(r.err).toMatch(/answerVocabSize is 500/);
    const again = cli('ablation.ts', ['--row=4', '--scale=smoke', '--set', `data.root=${root}`, ...tooMany], env);
    expect(again.code, again.err).toBe(2);
    expect(again.out).toContain(`reusing the generated world at ${root}`);
    expect(again.out).toMatch(/was checked before with these settings and passed/);
  });

  it('refuses to write the world over a folder that is not one', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ablation-busy-'));
    writeFileSync(path.join(root, 'precious.txt'), 'keep me');
    const r = cli('ablation.ts', ['--row=4', '--scale=smoke', '--set', `data.root=${root}`]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not empty but has no manifest\.json .* it is not overwritten/);
    expect(readdirSync(root)).toEqual(['precious.txt']);
  });
});

describe('train:validate-spec', () => {
  it('validates any spec file and reports its hash', () => {
    const r = cli('validate-spec.ts', ['--file=experiments/table6/row2.yaml', '--quiet']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/valid .*spec hash: [0-9a-f]{64}/);
  });

  it('points at the file, line and key of a bad value', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'validate-'));
    const file = path.join(dir, 'mine.yaml');
    writeFileSync(file, `extends: ${path.relative(dir, path.join(EXPERIMENTS_ROOT, 'base.yaml'))}\nname: mine\noptim:\n  transformer:\n    lr: -1\n`);
    const r = cli('validate-spec.ts', [`--file=${file}`]); // small.yaml sets the learning rate too: the file's own key wins
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/mine\.yaml:5:\d+: optim\.transformer\.lr: a learning rate must be > 0; found -1/);
  });
});
