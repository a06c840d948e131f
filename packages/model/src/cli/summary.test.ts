import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encoderParamCount } from '../encoder/encoder';

const script = fileURLToPath(new URL('./summary.ts', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', env: { ...process.env, TFJS_BACKEND: process.env['TFJS_BACKEND'] ?? 'cpu' } });

describe('model:summary', () => {
  it('prints the parameter count of each part for a backbone and encoder size', () => {
    const r = run('--backbone=resnet-smoke', '--scale=smoke', '--layers=3');
    expect(r.status, r.stderr).toBe(0);
    const encoder = encoderParamCount({ hidden: 64, layers: 3, heads: 2, ffn: 128 });
    expect(r.stdout).toMatch(new RegExp(`encoder\\s+encoder\\.\\*\\s+${encoder.toLocaleString('en-US')}`));
    for (const part of ['backbone', 'pixelEmbedding', 'textEmbedding', 'pooler', 'mlmHead', 'itmHead', 'vqaHead', 'nlvr2Head', 'retrievalHead', 'total']) {
      expect(r.stdout).toMatch(new RegExp(`\\n\\s+${part}\\s`));
    }
  }, 60_000);

  it('exits non-zero naming a bad flag or backbone', () => {
    const bad = run('--backbone=resnet99');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--backbone must be one of resnet18, .*got "resnet99"/);
    const flag = run('--backbone=resnet-smoke', '--layrs=2');
    expect(flag.status).toBe(1);
    expect(flag.stderr).toMatch(/unknown flag --layrs/);
  }, 60_000);
});
