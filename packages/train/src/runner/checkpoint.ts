// Checkpoints of a stage in training: everything a resume needs — the model's variables (batch-norm
// statistics included), the extra parameters, both optimisers' moments and step counts, and where
// training stands (epoch, step). The random streams need no saving: batches, masks, negatives,
// dropout and pixel samples are functions of (seed, epoch, step). Written atomically
// (temp file + rename): a crash or a full disk leaves the previous checkpoint as it was.
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkpointMetadata, readCheckpoint, saveCheckpoint, type ParamRegistry } from '@pixel-bert/model';
import type { OptimizerState, PaperOptimizers } from '../optim/index';

export interface TrainPosition {
  /** The next (epoch, step) to run. */
  epoch: number;
  step: number;
  /** Optimiser steps done in this stage. */
  globalStep: number;
  /** Wall seconds spent training before this checkpoint (summed over attempts). */
  seconds: number;
  /** Local-store ids of the stage runs of earlier attempts (the curves before a resume are there). */
  runIds: string[];
  /** Validation metrics of the epochs done. */
  val: Record<string, number>[];
}

export const CHECKPOINT_FILE = 'state.safetensors';

export function checkpointFile(dir: string): string {
  return path.join(dir, CHECKPOINT_FILE);
}

export function saveTrainState(
  dir: string,
  stageHash: string,
  model: ParamRegistry,
  extra: ParamRegistry,
  opt: PaperOptimizers,
  pos: TrainPosition,
): void {
  const tensors = new Map<string, tf.Tensor>();
  const owned: tf.Tensor[] = [];
  for (const [k, v] of model) tensors.set(`model/${k}`, v);
  for (const [k, v] of extra) tensors.set(`extra/${k}`, v);
  const steps: Record<string, Record<string, number>> = {};
  for (const [group, o] of Object.entries(opt) as [keyof PaperOptimizers, PaperOptimizers[keyof PaperOptimizers]][]) {
    const st = o.state();
    for (const [k, t] of st.slots) {
      tensors.set(`opt.${group}/${k}`, t);
      owned.push(t);
    }
    steps[group] = st.steps;
  }
  try {
    saveCheckpoint(checkpointFile(dir), tensors as unknown as ParamRegistry, { stageHash, position: JSON.stringify(pos), optimizerSteps: JSON.stringify(steps) });
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * Restores a stage's state from its checkpoint into the given model, extra parameters and
 * optimisers. A file that is truncated, altered, of another stage or of another architecture is an
 * error naming the file — never a silent restart from zero.
 */
export function loadTrainState(dir: string, stageHash: string, model: ParamRegistry, extra: ParamRegistry, opt: PaperOptimizers): TrainPosition {
  const file = checkpointFile(dir);
  const st = readCheckpoint(file);
  const meta = checkpointMetadata(st);
  if (meta.stageHash !== stageHash) throw new Error(`${file}: checkpoint of stage ${meta.stageHash}, not of ${stageHash}; delete the folder ${dir} to start that stage over`);
  const problems: string[] = [];
  const want = [...[...model].map(([k, v]) => [`model/${k}`, v] as const), ...[...extra].map(([k, v]) => [`extra/${k}`, v] as const)];
  for (const [name, v] of want) {
    const e = st.entries.get(name);
    if (!e) problems.push(`missing ${name}`);
    else if (e.shape.join() !== v.shape.join()) problems.push(`${name}: [${e.shape}] in the file, [${v.shape}] in the model`);
  }
  if (problems.length) throw new Error(`${file}: checkpoint does not match this stage's model:\n  ${problems.slice(0, 10).join('\n  ')}${problems.length > 10 ? `\n  … ${problems.length - 10} more` : ''}`);
  let pos: TrainPosition;
  let steps: Record<string, Record<string, number>>;
  try {
    pos = JSON.parse(meta.position ?? '') as TrainPosition;
    steps = JSON.parse(meta.optimizerSteps ?? '') as Record<string, Record<string, number>>;
  } catch {
    throw new Error(`${file}: checkpoint metadata (position, optimizerSteps) is missing or not JSON`);
  }
  for (const [name, v] of want) {
    const { shape, values } = st.read(name, v.dtype === 'int32' ? 'int32' : 'float32');
    tf.tidy(() => v.assign(tf.tensor(values, shape, v.dtype)));
  }
  for (const [group, o] of Object.entries(opt) as [keyof PaperOptimizers, PaperOptimizers[keyof PaperOptimizers]][]) {
    const prefix = `opt.${group}/`;
    const slots = new Map<string, tf.Tensor>();
    for (const name of st.names()) if (name.startsWith(prefix)) slots.set(name.slice(prefix.length), tf.tensor(st.read(name).values, st.read(name).shape));
    const state: OptimizerState = { kind: o.kind, slots, steps: steps[group] ?? {} };
    try {
      o.loadState(state);
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    } finally {
      for (const t of slots.values()) t.dispose();
    }
  }
  return pos;
}

export function hasCheckpoint(dir: string): boolean {
  return existsSync(checkpointFile(dir));
}

export function removeCheckpoints(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Holds a stage's checkpoint folder for this process (`<dir>.lock`, holding the pid): a second
 * process asking for the same stage — a row's helper still checkpointing after its row's process was
 * killed, or the same row started twice — waits until it is free, up to `waitMs`, then gives up
 * with an error naming the holder. A lock whose process is gone is taken over. Returns the release.
 */
export async function lockStage(dir: string, label: string, waitMs = 120_000): Promise<() => void> {
  const lock = `${dir}.lock`;
  mkdirSync(path.dirname(lock), { recursive: true });
  const t0 = performance.now();
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number(readFileSync(lock, 'utf8').trim() || NaN);
    if (!alive(holder)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (performance.now() - t0 > waitMs) {
      throw new Error(`${label}: process ${holder} is running this stage (lock ${lock}); wait for it to end or stop it, then run the command again`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  // one process runs its stages one at a time: a lock with its own pid is a dead process's (pid reused)
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
