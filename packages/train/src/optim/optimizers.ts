// The paper's two optimisers (Sec. 4.2): SGD with momentum for the CNN, AdamW for the Transformer.
// Both follow torch.optim's update rules exactly (checked against trajectories PyTorch made:
// fixtures/optim-golden.json), keep their slots as tfjs variables, skip a parameter that got no
// gradient this step (as torch skips grad None), and give their state out for checkpoints, so a
// resumed run continues with the very moments an uninterrupted one would have.
import * as tf from '@tensorflow/tfjs';

export interface SgdOptions {
  momentum: number;
  /** Coupled L2 weight decay (added to the gradient), as torch.optim.SGD. */
  weightDecay: number;
  /** Parameters exempt from weight decay (by name). */
  noDecay?: (name: string) => boolean;
}

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps?: number;
  /** Decoupled weight decay (p ← p·(1 − lr·wd) before the Adam step), as torch.optim.AdamW. */
  weightDecay: number;
  noDecay?: (name: string) => boolean;
}

/** Optimiser state for a checkpoint: named slot tensors plus per-parameter step counts. */
export interface OptimizerState {
  kind: 'sgd' | 'adamw';
  /** `<param>.<slot>` → tensor (the caller disposes tensors it was given). */
  slots: Map<string, tf.Tensor>;
  /** Updates each parameter has received (AdamW's bias correction counts them). */
  steps: Record<string, number>;
}

export interface ParamOptimizer {
  readonly kind: 'sgd' | 'adamw';
  /** Apply one update with learning rate `lr` from gradients keyed by variable name. */
  step(grads: Readonly<Record<string, tf.Tensor>>, lr: number): void;
  /** Copies of the slots and step counts, for a checkpoint. */
  state(): OptimizerState;
  /** Continue from a checkpoint's state (checked against this optimiser's parameters); it replaces the current state wholly. */
  loadState(state: OptimizerState): void;
  dispose(): void;
}

/**
 * BERT's convention for AdamW (Devlin et al.'s code, Hugging Face's examples): biases and
 * LayerNorm weights are not decayed. The paper does not say; this is what BERT-based models do.
 */
export const bertNoDecay = (name: string): boolean => name.endsWith('.bias') || name.includes('LayerNorm.');

/**
 * Detectron2's default for the CNN (WEIGHT_DECAY_NORM = 0): batch-norm weights and biases are
 * not decayed (torchvision names: `bn1`, `bn2`, …, and `downsample.1` in the shortcut).
 */
export const batchNormNoDecay = (name: string): boolean => /(^|\.)bn\d*\.|downsample\.1\./.test(name);

abstract class SlotOptimizer implements ParamOptimizer {
  abstract readonly kind: 'sgd' | 'adamw';
  protected readonly vars = new Map<string, tf.Variable>();
  protected readonly slots = new Map<string, tf.Variable>();
  protected readonly steps: Record<string, number> = {};

  constructor(
    variables: readonly tf.Variable[],
    protected readonly slotNames: readonly string[],
  ) {
    for (const v of variables) {
      if (this.vars.has(v.name)) throw new Error(`optimizer: two parameters are named ${v.name}`);
      this.vars.set(v.name, v);
      this.steps[v.name] = 0;
    }
  }

  protected slot(param: string, slot: string): tf.Variable {
    const key = `${param}.${slot}`;
    let s = this.slots.get(key);
    if (!s) {
      s = tf.variable(tf.zerosLike(this.vars.get(param)!), false, `optimizer/${key}`);
      this.slots.set(key, s);
    }
    return s;
  }

  step(grads: Readonly<Record<string, tf.Tensor>>, lr: number): void {
    if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`optimizer: learning rate must be a finite number ≥ 0, got ${lr}`);
    for (const name of Object.keys(grads)) {
      const v = this.vars.get(name);
      if (!v) throw new Error(`optimizer (${this.kind}): gradient for ${name}, which is not one of its parameters`);
      if (grads[name]!.shape.join() !== v.shape.join()) throw new Error(`optimizer (${this.kind}): gradient for ${name} has shape [${grads[name]!.shape}], the parameter [${v.shape}]`);
    }
    for (const [name, v] of this.vars) {
      const g = grads[name];
      if (!g) continue; // no gradient this step: untouched, as torch skips grad None
      this.steps[name]!++;
      tf.tidy(() => this.update(name, v, g, lr, this.steps[name]!));
    }
  }

  protected abstract update(name: string, p: tf.Variable, g: tf.Tensor, lr: number, t: number): void;

  /** Slots every updated parameter has. */
  protected abstract requiredSlots(): readonly string[];

  state(): OptimizerState {
    const slots = new Map<string, tf.Tensor>();
    for (const [k, s] of this.slots) slots.set(k, s.clone());
    return { kind: this.kind, slots, steps: { ...this.steps } };
  }

  loadState(state: OptimizerState): void {
    if (state.kind !== this.kind) throw new Error(`optimizer state is for ${state.kind}, this optimizer is ${this.kind}`);
    const unknown = Object.keys(state.steps).filter((n) => !this.vars.has(n));
    const missing = [...this.vars.keys()].filter((n) => !(n in state.steps));
    if (unknown.length || missing.length) {
      const list = (names: string[]) => `${names.slice(0, 5).join(', ')}${names.length > 5 ? ` (+${names.length - 5})` : ''}`;
      const parts = [unknown.length ? `not parameters here: ${list(unknown)}` : '', missing.length ? `without state: ${list(missing)}` : ''];
      throw new Error(`optimizer state does not match the parameters: ${parts.filter(Boolean).join('; ')}`);
    }
    const slots = [...state.slots].map(([key, t]) => {
      const dot = key.lastIndexOf('.');
      return { key, param: key.slice(0, dot), slot: key.slice(dot + 1), t };
    });
    for (const { key, param, slot, t } of slots) {
      const v = this.vars.get(param);
      if (!v || !this.slotNames.includes(slot)) throw new Error(`optimizer state: unknown slot ${key} (expected <parameter>.${this.slotNames.join('|')})`);
      if (t.shape.join() !== v.shape.join()) throw new Error(`optimizer state: ${key} has shape [${t.shape}], expected [${v.shape}]`);
    }
    // A parameter that has been updated has every slot its rule keeps.
    for (const [name, steps] of Object.entries(state.steps)) {
      if (steps > 0) for (const slot of this.requiredSlots()) if (!state.slots.has(`${name}.${slot}`)) throw new Error(`optimizer state: ${name} has ${steps} update(s) but no ${slot}`);
    }
    // The state replaces this optimiser's wholly: slots it does not carry start again from zero.
    for (const [key, s] of this.slots) {
      if (!state.slots.has(key)) {
        s.dispose();
        this.slots.delete(key);
      }
    }
    for (const { param, slot, t } of slots) this.slot(param, slot).assign(t);
    Object.assign(this.steps, state.steps);
  }

  dispose(): void {
    for (const s of this.slots.values()) s.dispose();
    this.slots.clear();
  }
}

/** torch.optim.SGD (dampening 0, no Nesterov): g += wd·p; buf = m·buf + g (buf starts at 0); p -= lr·buf. */
export class Sgd extends SlotOptimizer {
  readonly kind = 'sgd' as const;
  constructor(
    variables: readonly tf.Variable[],
    private readonly opts: SgdOptions,
  ) {
    super(variables, ['momentum_buffer']);
  }

  protected requiredSlots(): readonly string[] {
    return this.opts.momentum > 0 ? ['momentum_buffer'] : [];
  }

  protected update(name: string, p: tf.Variable, g: tf.Tensor, lr: number): void {
    const { momentum, weightDecay, noDecay } = this.opts;
    let d = weightDecay > 0 && !noDecay?.(name) ? g.add(p.mul(weightDecay)) : g;
    if (momentum > 0) {
      // torch starts the buffer at the first gradient; from zeros, m·0 + g is the same (dampening 0).
      const buf = this.slot(name, 'momentum_buffer');
      d = buf.mul(momentum).add(d);
      buf.assign(d);
    }
    p.assign(p.sub(d.mul(lr)));
  }
}

/** torch.optim.AdamW (no amsgrad): p ·= 1 − lr·wd; m, v moving averages; p -= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε). */
export class AdamW extends SlotOptimizer {
  readonly kind = 'adamw' as const;
  constructor(
    variables: readonly tf.Variable[],
    private readonly opts: AdamWOptions,
  ) {
    super(variables, ['exp_avg', 'exp_avg_sq']);
  }

  protected requiredSlots(): readonly string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  protected update(name: string, p: tf.Variable, g: tf.Tensor, lr: number, t: number): void {
    const { beta1, beta2, weightDecay, noDecay } = this.opts;
    const eps = this.opts.eps ?? 1e-8;
    const m = this.slot(name, 'exp_avg');
    const v = this.slot(name, 'exp_avg_sq');
    const decayed = weightDecay > 0 && !noDecay?.(name) ? p.mul(1 - lr * weightDecay) : p;
    const m2 = m.mul(beta1).add(g.mul(1 - beta1));
    const v2 = v.mul(beta2).add(g.square().mul(1 - beta2));
    m.assign(m2);
    v.assign(v2);
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    const denom = v2.sqrt().div(Math.sqrt(bc2)).add(eps);
    p.assign(decayed.sub(m2.div(denom).mul(lr / bc1)));
  }
}
