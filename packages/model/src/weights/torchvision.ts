import * as tf from '@tensorflow/tfjs';
import type { Backbone } from '../backbone/index';
import { assignAll, compareNames, formatProblems } from './checkpoint';
import { loadSafetensors, type SafetensorsFile } from './safetensors';

export interface TorchvisionImportOptions {
  /** Prefix of the backbone's keys in the state dict (e.g. "backbone." or "module."); default none. */
  keyPrefix?: string;
  /**
   * State-dict keys that are not ours and are allowed to be left out. Default: torchvision's
   * classifier (`fc.*`, Pixel-BERT drops it) and `num_batches_tracked` (PyTorch BN bookkeeping
   * that only matters with momentum=None).
   */
  ignore?: (key: string) => boolean;
}

const defaultIgnore = (key: string): boolean => /(^|\.)fc\.(weight|bias)$/.test(key) || key.endsWith('num_batches_tracked');

/**
 * Loads a torchvision ResNet/ResNeXt state dict (safetensors; e.g. from
 * `safetensors.torch.save_file(model.state_dict(), path)`) into `backbone`. Names map one to one
 * (our parameters are named after torchvision's); conv weights are transposed from PyTorch's
 * [out, in/groups, kh, kw] to tfjs's [kh, kw, in/groups, out]. Every name and shape is checked
 * first; any difference is one error listing them all, and nothing is assigned.
 */
export function importTorchvisionBackbone(
  backbone: Backbone,
  source: string | SafetensorsFile,
  opts: TorchvisionImportOptions = {},
): { loaded: number; ignored: string[] } {
  const st = typeof source === 'string' ? loadSafetensors(source) : source;
  const keyPrefix = opts.keyPrefix ?? '';
  const ignore = opts.ignore ?? defaultIgnore;
  const ourPrefix = backbone.prefix === '' ? '' : `${backbone.prefix}.`;
  const local = (name: string): string => name.slice(ourPrefix.length);
  const mine = new Map([...backbone.registry].filter(([name]) => name.startsWith(ourPrefix)));
  const torchKeys = torchvisionKeys(backbone);
  const expected = new Map(
    [...mine].map(([name, v]) => [
      name,
      { shape: v.shape, dtype: v.dtype, fileName: keyPrefix + local(name), fileShape: torchKeys.get(local(name))! },
    ]),
  );
  const problems = compareNames(st, expected, (k) => !k.startsWith(keyPrefix) || ignore(k.slice(keyPrefix.length)));
  if (problems.length > 0) {
    throw new Error(
      `${st.source}: torchvision state dict does not fit backbone (${describe(backbone)}):\n${formatProblems(problems)}`,
    );
  }
  const loaded = assignAll(mine, st, (name) => keyPrefix + local(name), (t) => (t.rank === 4 ? tf.transpose(t, [2, 3, 1, 0]) : t));
  const used = new Set([...mine.keys()].map((n) => keyPrefix + local(n)));
  return { loaded, ignored: st.names().filter((n) => !used.has(n)) };
}

/**
 * The torchvision state-dict keys (without `fc.*` and `num_batches_tracked`) and PyTorch-layout
 * shapes this backbone corresponds to.
 */
export function torchvisionKeys(backbone: Backbone): Map<string, number[]> {
  const ourPrefix = backbone.prefix === '' ? '' : `${backbone.prefix}.`;
  const out = new Map<string, number[]>();
  for (const [name, v] of backbone.registry) {
    if (name.startsWith(ourPrefix)) out.set(name.slice(ourPrefix.length), torchShape(v.shape));
  }
  return out;
}

/** Shape of our variable in PyTorch's layout. */
function torchShape(shape: number[]): number[] {
  if (shape.length !== 4) return shape;
  const [kh, kw, cin, cout] = shape as [number, number, number, number];
  return [cout, cin, kh, kw];
}

function describe(b: Backbone): string {
  const c = b.config;
  return `${c.block} blocks ${JSON.stringify(c.layers)}, planes ${JSON.stringify(c.planes)}, groups ${c.groups}, width/group ${c.widthPerGroup}`;
}
