import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError, intFlag, parseFlags, specOptions, userPath } from './cli';

describe('command-line helpers', () => {
  const saved = process.env.INIT_CWD;
  afterEach(() => {
    if (saved === undefined) delete process.env.INIT_CWD;
    else process.env.INIT_CWD = saved;
    vi.restoreAllMocks();
  });

  it('takes a relative path from where the user stood (INIT_CWD), an existing input from the workspace root only as a fallback', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spec-cli-'));
    try {
      process.env.INIT_CWD = dir;
      expect(userPath('out/x.jsonl')).toBe(path.join(dir, 'out/x.jsonl'));
      // Not where the user stood, but under the root (the cwd Nx runs in): that one, with a note.
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
      expect(userPath('package.json', { mustExist: true })).toBe(path.resolve('package.json'));
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('note: using'));
      // Where the user stood wins when it exists there.
      writeFileSync(path.join(dir, 'package.json'), '{}');
      expect(userPath('package.json', { mustExist: true })).toBe(path.join(dir, 'package.json'));
      // Found nowhere: the user's reading, so the error names the path they meant.
      expect(userPath('nope.yaml', { mustExist: true })).toBe(path.join(dir, 'nope.yaml'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('turns bad flags into usage errors that name the flag and the usage', () => {
    expect(() => parseFlags(['--bogus'], { a: { type: 'string' } }, 'cmd --a=X')).toThrow(UsageError);
    expect(() => parseFlags(['--bogus'], { a: { type: 'string' } }, 'cmd --a=X')).toThrow(/--bogus[\s\S]*usage: cmd --a=X/);
    expect(() => intFlag('seed', '1.5', 'cmd')).toThrow(/--seed=1\.5: expected a whole number/);
    expect(intFlag('niceness', '19', 'cmd', { min: 0, max: 19 })).toBe(19);
    expect(() => intFlag('niceness', '20', 'cmd', { min: 0, max: 19 })).toThrow(/--niceness=20: expected a whole number from 0 to 19/);
    expect(() => intFlag('pairs', '1', 'cmd', { min: 2 })).toThrow(/--pairs=1: expected a whole number from 2 up/);
    expect(specOptions({ scale: 'smoke', seed: '7', set: ['a=1'] }, 'cmd')).toEqual({ scale: 'smoke', seed: 7, set: ['a=1'] });
  });
});
