import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultRunsDir, workspaceRoot } from './paths';

describe('defaultRunsDir: the journal training writes is the one eval and sync read', () => {
  it('takes $PIXEL_BERT_RUNS_DIR first, then tracking/ under $PIXEL_BERT_STATE_DIR, then runs/tracking in the workspace', () => {
    expect(defaultRunsDir({ PIXEL_BERT_RUNS_DIR: 'a/journal', PIXEL_BERT_STATE_DIR: '/s' })).toBe(resolve('a/journal'));
    expect(defaultRunsDir({ PIXEL_BERT_STATE_DIR: '/tmp/state' })).toBe(join('/tmp/state', 'tracking'));
    expect(defaultRunsDir({ PIXEL_BERT_STATE_DIR: '' })).toBe(join(workspaceRoot(), 'runs', 'tracking'));
    expect(defaultRunsDir({})).toBe(join(workspaceRoot(), 'runs', 'tracking'));
  });
});
