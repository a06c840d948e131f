import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, Sgd, batchNormNoDecay, bertNoDecay, lrAt, type ParamOptimizer } from './index';

interface Run {
  lrs: number[];
  after_step: Record<string, number[]>[];
}
const golden = JSON.parse(readFileSync(new URL('../../fixtures/optim-golden.json', import.meta.url), 'utf8')) as {
  init: Record<string, number[]>;
  shapes: Record<string, number[]>;
  sgd: Run & { momentum: number; weight_decay: number };
  adamw: Run & { beta1: number; beta2: number; eps: number; weight_decay: number };
};
const K: Record<string, number> = { 'encoder.dense.weight': 1, 'encoder.dense.bias': 2, 'encoder.LayerNorm.weight': 3 };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The fixture's gradient rule, on the current parameter values. */
function grads(vars: tf.Variable[], step: number): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const v of vars) {
    if (v.name === 'encoder.LayerNorm.weight' && step === 2) continue; // no gradient this step
    const p = v.dataSync();
    const g = Array.from(p, (x, i) => Math.sin(i * 0.7 + step * K[v.name]!) * (0.5 + 0.1 * step) + 0.3 * x);
    out[v.name] = tf.tensor(g, v.shape);
  }
  return out;
}

function follow(make: (vars: tf.Variable[]) => ParamOptimizer, run: Run, upTo = 6, from?: { opt: ParamOptimizer; vars: tf.Variable[]; start: number }) {
  const vars = from?.vars ?? Object.entries(golden.init).map(([n, v]) => tf.variable(tf.tensor(v, golden.shapes[n]), true, n));
  const opt = from?.opt ?? make(vars);
  let worst = 0;
  for (let s = (from?.start ?? 0) + 1; s <= upTo; s++) {
    const g = grads(vars, s);
    opt.step(g, run.lrs[s - 1]!);
    tf.dispose(Object.values(g));
    for (const v of vars) {
      const want = run.after_step[s - 1]![v.name]!;
      const got = v.dataSync();
      want.forEach((w, i) => (worst = Math.max(worst, Math.abs(got[i]! - w))));
    }
  }
  return { vars, opt, worst };
}

const sgd = (vars: tf.Variable[]) => new Sgd(vars, { momentum: golden.sgd.momentum, weightDecay: golden.sgd.weight_decay, noDecay: bertNoDecay });
const adamw = (vars: tf.Variable[]) => new AdamW(vars, { beta1: golden.adamw.beta1, beta2: golden.adamw.beta2, eps: golden.adamw.eps, weightDecay: golden.adamw.weight_decay, noDecay: bertNoDecay });

describe('optimisers against torch.optim', () => {
  const done = (r: { vars: tf.Variable[]; opt: ParamOptimizer }) => {
    r.opt.dispose();
    tf.dispose(r.vars); // variable names are global in tfjs: the next test makes them anew
  };

  it('SGD with momentum and coupled weight decay follows torch.optim.SGD step for step (lr cut, a missing gradient)', () => {
    const r = follow(sgd, golden.sgd);
    expect(r.worst).toBeLessThan(2e-6);
    done(r);
  });

  it('AdamW with decoupled weight decay follows torch.optim.AdamW step for step', () => {
    const r = follow(adamw, golden.adamw);
    expect(r.worst).toBeLessThan(2e-6);
    done(r);
  });

  it('resumes from its state exactly: 3 steps, state out, a fresh optimiser, 3 more = 6 straight', () => {
    for (const [make, run] of [[sgd, golden.sgd], [adamw, golden.adamw]] as const) {
      const first = follow(make, run, 3);
      const state = first.opt.state();
      first.opt.dispose();
      const fresh = make(first.vars);
      fresh.loadState(state);
      tf.dispose([...state.slots.values()]);
      const rest = follow(make, run, 6, { opt: fresh, vars: first.vars, start: 3 });
      expect(rest.worst).toBeLessThan(2e-6);
      done(rest);
    }
  });

  it('refuses mismatched gradients and state, naming them', () => {
    const vars = [tf.variable(tf.zeros([2, 2]), true, 'a.weight'), tf.variable(tf.zeros([2]), true, 'a.bias')];
    const opt = new AdamW(vars, { beta1: 0.9, beta2: 0.999, weightDecay: 0.01 });
    expect(() => opt.step({ 'b.weight': tf.zeros([2, 2]) }, 1e-3)).toThrow(/gradient for b\.weight, which is not one of its parameters/);
    expect(() => opt.step({ 'a.weight': tf.zeros([3]) }, 1e-3)).toThrow(/a\.weight has shape \[3\], the parameter \[2,2\]/);
    expect(() => opt.step({ 'a.weight': tf.zeros([2, 2]) }, Number.NaN)).toThrow(/learning rate must be a finite number/);
    expect(() => opt.loadState({ kind: 'sgd', slots: new Map(), steps: {} })).toThrow(/state is for sgd, this optimizer is adamw/);
    expect(() => opt.loadState({ kind: 'adamw', slots: new Map(), steps: { 'a.weight': 1 } })).toThrow(/without state: a\.bias/);
    expect(() => opt.loadState({ kind: 'adamw', slots: new Map([['a.weight.velocity', tf.zeros([2, 2])]]), steps: { 'a.weight': 1, 'a.bias': 1 } })).toThrow(/unknown slot a\.weight\.velocity/);
    expect(() => opt.loadState({ kind: 'adamw', slots: new Map([['a.weight.exp_avg', tf.zeros([2, 2])]]), steps: { 'a.weight': 1, 'a.bias': 0 } })).toThrow(/a\.weight has 1 update\(s\) but no exp_avg_sq/);
    expect(() => opt.loadState({ kind: 'adamw', slots: new Map([['a.bias.exp_avg', tf.zeros([3])]]), steps: { 'a.weight': 0, 'a.bias': 0 } })).toThrow(/a\.bias\.exp_avg has shape \[3\], expected \[2\]/);
    // A state from step 0 replaces one that has moved on: the moments start again from zero.
    opt.step({ 'a.weight': tf.ones([2, 2]) }, 1e-3);
    opt.loadState({ kind: 'adamw', slots: new Map(), steps: { 'a.weight': 0, 'a.bias': 0 } });
    expect(opt.state().slots.size).toBe(0);
    expect(() => new Sgd([vars[0]!, vars[0]!], { momentum: 0.9, weightDecay: 0 })).toThrow(/two parameters are named a\.weight/);
    opt.dispose();
    tf.dispose(vars);
  });
});

describe('the fused update (all parameters as one vector)', () => {
  /** Parameters of mixed shapes, decayed and exempt; `tag` keeps tfjs's global variable names apart. */
  function params(tag: string): tf.Variable[] {
    // 'pooler.weight' never gets a gradient (as a head a stage does not use)
    const shapes: [string, number[]][] = [['a.weight', [3, 4]], ['a.bias', [4]], ['b.LayerNorm.weight', [4]], ['c.weight', [2, 2, 3]], ['pooler.weight', [2]]];
    return shapes.map(([n, shape], k) => tf.variable(tf.tensor(Array.from({ length: shape.reduce((x, y) => x * y, 1) }, (_, i) => Math.cos(i * 1.3 + k)), shape), true, n.replace(/^/, `${tag}/`)));
  }
  const plain = (name: string) => name.replace(/^[^/]+\//, '');
  const gradsFor = (vars: tf.Variable[], step: number, skip?: string) =>
    Object.fromEntries(vars.filter((v) => plain(v.name) !== skip && plain(v.name) !== 'pooler.weight').map((v, k) => [v.name, tf.tensor(Array.from({ length: v.size }, (_, i) => Math.sin(i * 0.9 + step * (k + 1)) * 0.5), v.shape)]));

  it('is bitwise equal to the per-parameter rule, through a step without a gradient and a state round trip', () => {
    for (const kind of ['sgd', 'adamw'] as const) {
      const make = (vars: tf.Variable[], fused: boolean): ParamOptimizer =>
        kind === 'sgd'
          ? new Sgd(vars, { momentum: 0.9, weightDecay: 1e-2, noDecay: (n) => bertNoDecay(plain(n)), fused })
          : new AdamW(vars, { beta1: 0.9, beta2: 0.999, weightDecay: 1e-2, noDecay: (n) => bertNoDecay(plain(n)), fused });
      const va = params(`${kind}-fused`);
      const vb = params(`${kind}-plain`);
      let a = make(va, true);
      const b = make(vb, false);
      for (let s = 1; s <= 7; s++) {
        // a step where one more parameter gets no gradient: the step counts differ from then on, so
        // steps 1–5 run fused, 6 and 7 per parameter
        const skip = s === 6 ? 'a.bias' : undefined;
        const ga = gradsFor(va, s, skip);
        const gb = gradsFor(vb, s, skip);
        a.step(ga, 1e-2 / s);
        b.step(gb, 1e-2 / s);
        tf.dispose([...Object.values(ga), ...Object.values(gb)]);
        if (s === 3) {
          // a checkpoint's state out of the fused optimiser and into a fresh one
          const st = a.state();
          a.dispose();
          a = make(va, true);
          a.loadState(st);
          tf.dispose([...st.slots.values()]);
        }
        va.forEach((v, i) => expect(Array.from(v.dataSync()), `${kind} ${v.name} after step ${s}`).toEqual(Array.from(vb[i]!.dataSync())));
      }
      // no tensor is left behind by a fused step (every step of a stage takes this route): the
      // parameters with a gradient (all but a.bias) agree on their step counts again, so fused
      let before = 0;
      for (let s = 8; s <= 11; s++) {
        const ga = gradsFor(va, s, 'a.bias');
        a.step(ga, 1e-3);
        tf.dispose(Object.values(ga));
        if (s === 8) before = tf.memory().numTensors; // after the first, which lays the slots out anew
      }
      expect(tf.memory().numTensors).toBe(before);
      for (let s = 8; s <= 11; s++) {
        const gb = gradsFor(vb, s, 'a.bias');
        b.step(gb, 1e-3);
        tf.dispose(Object.values(gb));
      }
      const sa = a.state();
      const sb = b.state();
      expect(sa.steps).toEqual(Object.fromEntries(Object.entries(sb.steps).map(([k, v]) => [k.replace('-plain/', '-fused/'), v])));
      expect(sa.slots.size).toBe(sb.slots.size);
      for (const [k, t] of sb.slots) expect(Array.from(sa.slots.get(k.replace('-plain/', '-fused/'))!.dataSync()), k).toEqual(Array.from(t.dataSync()));
      tf.dispose([...sa.slots.values(), ...sb.slots.values()]);
      a.dispose();
      b.dispose();
      tf.dispose([...va, ...vb]);
    }
  });
});

describe('weight-decay exemptions and the schedule', () => {
  it('exempts biases and LayerNorm for AdamW, batch norm for the CNN', () => {
    expect(['encoder.layer.0.output.LayerNorm.weight', 'pooler.dense.bias', 'embeddings.LayerNorm.bias'].every(bertNoDecay)).toBe(true);
    expect(['encoder.layer.0.output.dense.weight', 'embeddings.word_embeddings.weight', 'pixel_embeddings.s_v'].some(bertNoDecay)).toBe(false);
    expect(['backbone.bn1.weight', 'backbone.layer1.0.bn2.bias', 'backbone.layer2.0.downsample.1.weight'].every(batchNormNoDecay)).toBe(true);
    expect(['backbone.conv1.weight', 'backbone.layer2.0.downsample.0.weight', 'backbone.layer1.0.conv2.weight'].some(batchNormNoDecay)).toBe(false);
  });

  it('cuts the rate by the factor at each decay epoch (pre-training: 40 epochs, decay at 25 and 35)', () => {
    const s = { base: 1e-4, decayEpochs: [25, 35], factor: 0.1 };
    expect([0, 24, 25, 34, 35, 39].map((e) => lrAt(s, e))).toEqual([1e-4, 1e-4, 1e-4 * 0.1, 1e-4 * 0.1, 1e-4 * 0.1 * 0.1, 1e-4 * 0.1 * 0.1]);
    expect(() => lrAt(s, -1)).toThrow(/epoch must be a whole number ≥ 0/);
  });
});
