import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockStage } from './checkpoint';
import type { PlannedStage, StageResult } from './runner';
import { StageFailed } from './signals';
import { errorFrom, runOnLanes, stageWaves } from './stage-process';

const stage = (kind: string, hash: string, from: string[] = []): PlannedStage =>
  ({ def: { kind }, hash, init: from.map((h) => ({ kind: 'stage', stage: 'x', hash: h, weights: '', prefixes: [] })) }) as unknown as PlannedStage;
const result = (p: PlannedStage, lane: string): StageResult => ({ kind: p.def.kind, hash: p.hash, metrics: {}, weights: lane, seconds: 0, reused: false, runId: lane });

describe('stageWaves', () => {
  it('puts each stage after every stage it starts from, keeping the plan order within a wave', () => {
    const plan = [stage('init-backbone', 'b'), stage('init-text', 't'), stage('pretrain', 'p', ['b', 't']), stage('vqa', 'v', ['p']), stage('nlvr2', 'n', ['p']), stage('retrieval', 'r', ['p'])];
    expect(stageWaves(plan).map((w) => w.map((p) => p.hash))).toEqual([['b', 't'], ['p'], ['v', 'n', 'r']]);
    // row 1: no pre-training; a stage starting from files (or from nothing in the plan) is in the first wave
    const row1 = [stage('init-backbone', 'b'), stage('init-text', 't'), stage('vqa', 'v', ['b', 't']), stage('nlvr2', 'n', ['b', 't'])];
    expect(stageWaves(row1).map((w) => w.map((p) => p.hash))).toEqual([['b', 't'], ['v', 'n']]);
    expect(stageWaves([stage('vqa', 'v', ['cached-elsewhere'])]).map((w) => w.length)).toEqual([1]);
  });
});

describe('runOnLanes', () => {
  const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
  it('gives each free lane the next stage and returns the results in the stages’ order', async () => {
    const ss = [stage('vqa', 'v'), stage('nlvr2', 'n'), stage('retrieval', 'r')];
    const cost: Record<string, number> = { v: 60, n: 30, r: 10 };
    const lane = (name: string) => async (p: PlannedStage) => {
      await delay(cost[p.hash]!);
      return result(p, name);
    };
    const out = await runOnLanes(ss, [lane('here'), lane('helper')]);
    expect(out.map((r) => r.hash)).toEqual(['v', 'n', 'r']);
    // the helper takes the first stage, this process the second; whichever is free first (here) takes the third
    expect(out.map((r) => r.runId)).toEqual(['helper', 'here', 'here']);
  });

  it('after a failure starts nothing new, lets the running stage end, then throws the first error', async () => {
    const ss = [stage('vqa', 'v'), stage('nlvr2', 'n'), stage('retrieval', 'r')];
    const ran: string[] = [];
    let helperEnded = false;
    const here = async (p: PlannedStage) => {
      ran.push(p.hash);
      throw new StageFailed(`${p.def.kind}: the loss is NaN`);
    };
    const helper = async (p: PlannedStage) => {
      ran.push(p.hash);
      await delay(30);
      helperEnded = true;
      return result(p, 'helper');
    };
    await expect(runOnLanes(ss, [here, helper])).rejects.toThrow(/nlvr2: the loss is NaN/);
    expect(helperEnded).toBe(true);
    expect(ran.sort()).toEqual(['n', 'v']); // retrieval never started
  });

  it('rebuilds a helper’s error as the class the CLI maps to an exit code', () => {
    expect(errorFrom({ name: 'StageFailed', message: 'm' })).toBeInstanceOf(StageFailed);
    expect(errorFrom({ name: 'Interrupted', message: 'm', signal: 'SIGINT' })).toMatchObject({ name: 'Interrupted', signal: 'SIGINT' });
    expect(errorFrom({ name: 'StageInputError', message: 'bad' })).toMatchObject({ name: 'StageInputError', message: 'bad' });
  });
});

describe('lockStage', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds a stage for one process, waits for a live holder and takes over a dead one’s lock', async () => {
    const ckpt = path.join(dir, 'abc');
    const release = await lockStage(ckpt, 'vqa');
    expect(readFileSync(`${ckpt}.lock`, 'utf8')).toBe(String(process.pid));
    release();
    expect(existsSync(`${ckpt}.lock`)).toBe(false);

    // a live process holds it: wait, then a clear error naming it
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
    try {
      writeFileSync(`${ckpt}.lock`, String(holder.pid));
      await expect(lockStage(ckpt, 'vqa', 500)).rejects.toThrow(new RegExp(`vqa: process ${holder.pid} is running this stage`));
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    // now its holder is gone: taken over at once
    const again = await lockStage(ckpt, 'vqa', 500);
    expect(readFileSync(`${ckpt}.lock`, 'utf8')).toBe(String(process.pid));
    again();
  });
});
