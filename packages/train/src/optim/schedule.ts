// Learning-rate schedule of the paper (Sec. 4.2–4.4): constant, then multiplied by the decay
// factor (0.1) at each decay epoch — torch's MultiStepLR stepped once per epoch.

export interface StepDecay {
  /** Learning rate of epoch 0. */
  base: number;
  /** Epochs (0-based) from which one more factor applies, e.g. [25, 35] of 40 for pre-training. */
  decayEpochs: readonly number[];
  /** Multiplier per decay (paper: 0.1). */
  factor: number;
}

/** Learning rate during epoch `epoch` (0-based): base · factor^(number of decay epochs ≤ epoch). */
export function lrAt(s: StepDecay, epoch: number): number {
  if (!(Number.isInteger(epoch) && epoch >= 0)) throw new RangeError(`lrAt: epoch must be a whole number ≥ 0, got ${epoch}`);
  let lr = s.base;
  for (const e of s.decayEpochs) if (epoch >= e) lr *= s.factor;
  return lr;
}
