import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultReportsDir, defaultRunsDir, workspaceRoot } from './paths';

describe('defaultRunsDir: the journal training writes is the one eval and sync read', () => {
  it('takes $PIXEL_BERT_RUNS_DIR first, then tracking/ under $PIXEL_BERT_STATE_DIR, then runs/tracking in the workspace', () => {
    expect(defaultRunsDir({ PIXEL_BERT_RUNS_DIR: 'a/journal', PIXEL_BERT_STATE_DIR: '/s' })).toBe(resolve('a/journal'));
    expect(defaultRunsDir({ PIXEL_BERT_STATE_DIR: '/tmp/state' })).toBe(join('/tmp/state', 'tracking'));
    expect(defaultRunsDir({ PIXEL_BERT_STATE_DIR: '' })).toBe(join(workspaceRoot(), 'runs', 'tracking'));
    expect(defaultRunsDir({})).toBe(join(workspaceRoot(), 'runs', 'tracking'));
  });
});

describe('defaultReportsDir: reports go beside the runs they are built from', () => {
  it('takes reports/ under $PIXEL_BERT_STATE_DIR, then beside $PIXEL_BERT_RUNS_DIR, then runs/reports in the workspace', () => {
    // a sweep in a state folder of its own once overwrote the workspace's runs/reports/table6-small
    expect(defaultReportsDir({ PIXEL_BERT_STATE_DIR: '/tmp/state', PIXEL_BERT_RUNS_DIR: '/elsewhere/journal' })).toBe(join('/tmp/state', 'reports'));
    expect(defaultReportsDir({ PIXEL_BERT_RUNS_DIR: '/x/journal' })).toBe(join('/x', 'reports'));
    expect(defaultReportsDir({ PIXEL_BERT_STATE_DIR: '' })).toBe(join(workspaceRoot(), 'runs', 'reports'));
    expect(defaultReportsDir({})).toBe(join(workspaceRoot(), 'runs', 'reports'));
  });
});
