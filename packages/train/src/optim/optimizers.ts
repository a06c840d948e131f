// The paper's two optimisers (Sec. 4.2): SGD with momentum for the CNN, AdamW for the Transformer.
// Both follow torch.optim's update rules exactly (checked against trajectories PyTorch made:
// fixtures/optim-golden.json), keep their slots as tfjs variables, skip a parameter that got no
// gradient this step (as torch skips grad None), and give their state out for checkpoints, so a
// resumed run continues with the very moments an uninterrupted one would have.
//
// The update is fused across parameters: when the parameters that have a gradient this step have
// the same step count (every step of a stage, in practice), their gradients and values are
// concatenated into one vector each and the rule runs once on those vectors, its moments kept flat;
// a split hands each parameter its new value. Element for element it is the same chain of float32
// operations as the per-parameter rule (which runs otherwise), so the results are bitwise equal —
// in about a fifth of the kernels (≈ 3 per parameter instead of 6 for SGD, 14 for AdamW).
import * as tf from '@tensorflow/tfjs';

export interface SgdOptions {
  momentum: number;
  /** Run the fused update where it applies (default true); false keeps the per-parameter rule. */
  fused?: boolean;
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
  /** Run the fused update where it applies (default true); false keeps the per-parameter rule. */
  fused?: boolean;
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

/** The parameters laid end to end: their order, sizes and which ones weight decay spares. */
interface FlatLayout {
  names: string[];
  sizes: number[];
  /** true where the element's parameter is decayed; null when all or none are. */
  decayed: tf.Tensor | null;
  decayAll: boolean;
}

abstract class SlotOptimizer implements ParamOptimizer {
  abstract readonly kind: 'sgd' | 'adamw';
  protected readonly vars = new Map<string, tf.Variable>();
  /** Per-parameter slots (the per-parameter rule's); empty while the slots are held flat. */
  protected readonly slots = new Map<string, tf.Variable>();
  /** Flat slots (slot name → one vector over the parameters of `layout`, in its order), for the fused rule. */
  private flat: Map<string, tf.Variable> | null = null;
  private layout: FlatLayout | null = null;
  protected readonly steps: Record<string, number> = {};

  constructor(
    variables: readonly tf.Variable[],
    protected readonly slotNames: readonly string[],
    /** Whether the fused update runs where it applies (a benchmark switches it to compare). */
    public fused: boolean,
    private readonly decays: (name: string) => boolean,
  ) {
    for (const v of variables) {
      if (this.vars.has(v.name)) throw new Error(`optimizer: two parameters are named ${v.name}`);
      this.vars.set(v.name, v);
      this.steps[v.name] = 0;
    }
  }

  protected slot(param: string, slot: string): tf.Variable {
    this.unflatten();
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
    // Fused over the parameters that have a gradient (a stage's set does not change from step to
    // step), when their step counts agree (AdamW's bias correction is one number then).
    const names = [...this.vars.keys()].filter((n) => grads[n]);
    const t0 = names.length ? this.steps[names[0]!]! : 0;
    if (this.fused && names.length > 1 && names.every((n) => this.steps[n] === t0)) {
      for (const n of names) this.steps[n]!++;
      this.fusedStep(names, grads, lr, t0 + 1);
      return;
    }
    for (const [name, v] of this.vars) {
      const g = grads[name];
      if (!g) continue; // no gradient this step: untouched, as torch skips grad None
      this.steps[name]!++;
      const decayed = this.decays(name);
      tf.tidy(() => {
        v.assign(this.rule(v, g, (slot) => this.slot(name, slot), lr, this.steps[name]!, (full, spared) => (decayed ? full() : spared)));
      });
    }
  }

  /** One update of every parameter at once, on flat vectors (the slots stay flat between steps). */
  private fusedStep(names: string[], grads: Readonly<Record<string, tf.Tensor>>, lr: number, t: number): void {
    const layout = this.layoutFor(names);
    this.flatten();
    tf.tidy(() => {
      const g = tf.concat(names.map((n) => grads[n]!.reshape([-1])));
      const p = tf.concat(names.map((n) => this.vars.get(n)!.reshape([-1])));
      const slot = (name: string) => {
        let s = this.flat!.get(name);
        if (!s) this.flat!.set(name, (s = tf.variable(tf.zeros([g.size]), false, `optimizer/flat.${name}`)));
        return s;
      };
      const updated = this.rule(p, g, slot, lr, t, (full, spared) => (layout.decayAll ? full() : layout.decayed ? tf.where(layout.decayed, full(), spared) : spared));
      // assigned inside the tidy, as the per-parameter route does: the variables keep the new
      // values, every intermediate (the pieces and their reshapes included) is disposed
      tf.split(updated, layout.sizes).forEach((piece, i) => {
        const v = this.vars.get(names[i]!)!;
        v.assign(piece.reshape(v.shape));
      });
    });
  }

  /**
   * The update rule, on one parameter or on all of them laid end to end: new values from values `p`
   * and gradients `g`; `slot(name)` is the slot to read and assign (zeros at first); `decay(full,
   * spared)` gives, element by element, `full()` where weight decay applies and `spared` where the
   * parameter is exempt. One rule for both routes keeps them bitwise equal.
   */
  protected abstract rule(p: tf.Tensor, g: tf.Tensor, slot: (name: string) => tf.Variable, lr: number, t: number, decay: (full: () => tf.Tensor, spared: tf.Tensor) => tf.Tensor): tf.Tensor;

  /** The layout of these parameters; a new one first turns the old layout's flat slots back into per-parameter ones. */
  private layoutFor(names: string[]): FlatLayout {
    if (this.layout && this.layout.names.join('\n') === names.join('\n')) return this.layout;
    this.unflatten();
    this.layout?.decayed?.dispose();
    const sizes = names.map((n) => this.vars.get(n)!.size);
    const flags = names.map((n) => this.decays(n));
    const decayAll = flags.every(Boolean);
    const decayed = decayAll || !flags.some(Boolean) ? null : tf.tidy(() => tf.concat(names.map((n, i) => tf.fill([sizes[i]!], flags[i]! ? 1 : 0, 'int32'))).cast('bool'));
    if (decayed) tf.keep(decayed);
    return (this.layout = { names, sizes, decayed, decayAll });
  }

  /** The current layout's per-parameter slots → flat ones (zeros where a parameter has none yet). */
  private flatten(): void {
    if (this.flat) return;
    const layout = this.layout!;
    this.flat = new Map();
    for (const slot of this.slotNames) {
      const parts = layout.names.map((n) => this.slots.get(`${n}.${slot}`));
      if (parts.every((x) => !x)) continue;
      const flat = tf.tidy(() => tf.concat(layout.names.map((n, i) => (parts[i] ? parts[i]!.reshape([-1]) : tf.zeros([layout.sizes[i]!])))));
      this.flat.set(slot, tf.variable(flat, false, `optimizer/flat.${slot}`));
      flat.dispose();
      layout.names.forEach((n, i) => {
        parts[i]?.dispose();
        this.slots.delete(`${n}.${slot}`);
      });
    }
  }

  /** Flat slots → per-parameter ones (the per-parameter rule and loadState work on those). */
  private unflatten(): void {
    if (!this.flat) return;
    const flat = this.flat;
    this.flat = null;
    for (const [slot, f] of flat) {
      for (const [n, piece] of this.splitFlat(f)) this.slots.set(`${n}.${slot}`, tf.variable(piece, false, `optimizer/${n}.${slot}`));
      f.dispose();
    }
  }

  /** A flat slot cut into per-parameter tensors (new tensors; the caller owns them). */
  private splitFlat(f: tf.Tensor): [string, tf.Tensor][] {
    const { names, sizes } = this.layout!;
    return tf.tidy(() => tf.split(f, sizes).map((piece, i): [string, tf.Tensor] => [names[i]!, piece.reshape(this.vars.get(names[i]!)!.shape)]));
  }

  /** Slots every updated parameter has. */
  protected abstract requiredSlots(): readonly string[];

  state(): OptimizerState {
    const slots = new Map<string, tf.Tensor>();
    for (const [k, s] of this.slots) slots.set(k, s.clone());
    if (this.flat) for (const [slot, f] of this.flat) for (const [n, piece] of this.splitFlat(f)) slots.set(`${n}.${slot}`, piece);
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
    this.unflatten();
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
    if (this.flat) for (const f of this.flat.values()) f.dispose();
    this.flat = null;
    this.layout?.decayed?.dispose();
    this.layout = null;
  }
}

/** torch.optim.SGD (dampening 0, no Nesterov): g += wd·p; buf = m·buf + g (buf starts at 0); p -= lr·buf. */
export class Sgd extends SlotOptimizer {
  readonly kind = 'sgd' as const;
  constructor(
    variables: readonly tf.Variable[],
    private readonly opts: SgdOptions,
  ) {
    super(variables, ['momentum_buffer'], opts.fused ?? true, (n) => opts.weightDecay > 0 && !opts.noDecay?.(n));
  }

  protected rule(p: tf.Tensor, g: tf.Tensor, slot: (name: string) => tf.Variable, lr: number, _t: number, decay: (full: () => tf.Tensor, spared: tf.Tensor) => tf.Tensor): tf.Tensor {
    const { momentum, weightDecay } = this.opts;
    let d = weightDecay > 0 ? decay(() => g.add(p.mul(weightDecay)), g) : g;
    if (momentum > 0) {
      const buf = slot('momentum_buffer');
      d = buf.mul(momentum).add(d);
      buf.assign(d);
    }
    return p.sub(d.mul(lr));
  }

  protected requiredSlots(): readonly string[] {
    return this.opts.momentum > 0 ? ['momentum_buffer'] : [];
  }
}

/** torch.optim.AdamW (no amsgrad): p ·= 1 − lr·wd; m, v moving averages; p -= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε). */
export class AdamW extends SlotOptimizer {
  readonly kind = 'adamw' as const;
  constructor(
    variables: readonly tf.Variable[],
    private readonly opts: AdamWOptions,
  ) {
    super(variables, ['exp_avg', 'exp_avg_sq'], opts.fused ?? true, (n) => opts.weightDecay > 0 && !opts.noDecay?.(n));
  }

  protected rule(p: tf.Tensor, g: tf.Tensor, slot: (name: string) => tf.Variable, lr: number, t: number, decay: (full: () => tf.Tensor, spared: tf.Tensor) => tf.Tensor): tf.Tensor {
    const { beta1, beta2, weightDecay } = this.opts;
    const eps = this.opts.eps ?? 1e-8;
    const m = slot('exp_avg');
    const v = slot('exp_avg_sq');
    const decayed = weightDecay > 0 ? decay(() => p.mul(1 - lr * weightDecay), p) : p;
    const m2 = m.mul(beta1).add(g.mul(1 - beta1));
    const v2 = v.mul(beta2).add(g.square().mul(1 - beta2));
    m.assign(m2);
    v.assign(v2);
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    const denom = v2.sqrt().div(Math.sqrt(bc2)).add(eps);
    return decayed.sub(m2.div(denom).mul(lr / bc1));
  }

  protected requiredSlots(): readonly string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }
}
