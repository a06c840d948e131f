import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/index';
import { createBackbone, type BackboneConfig } from '../backbone/index';
import { ParamScope } from '../params';
import * as fs from 'node:fs';
import { importTorchvisionBackbone, loadSafetensors, torchvisionKeys, type SafetensorsFile } from './index';

/**
 * Golden outputs from PyTorch/torchvision (packages/model/scripts/make_golden_resnet.py, run by
 * hand): random-weight ResNet-18-shaped and ResNeXt-shaped nets with non-trivial BN statistics.
 * The weights go through the importer; outputs, gradients and a train-mode step must match.
 */
const fixture = (name: string, file: string): string => fileURLToPath(new URL(`../../fixtures/${name}/${file}`, import.meta.url));

beforeAll(async () => {
  await initBackend({ quiet: true });
});

function expectClose(got: tf.Tensor, want: { shape: number[]; values: Float32Array | Int32Array }, tol: number, what: string): void {
  expect(got.shape, what).toEqual(want.shape);
  const g = got.dataSync();
  let worst = 0;
  let at = -1;
  for (let i = 0; i < g.length; i++) {
    const w = want.values[i]!;
    const err = Math.abs(g[i]! - w) / Math.max(1, Math.abs(w));
    if (err > worst) [worst, at] = [err, i];
  }
  expect(worst, `${what}: worst relative error at ${at}: got ${g[at]}, want ${want.values[at]}`).toBeLessThan(tol);
}

function setup(name: string, configOverride?: Partial<BackboneConfig>): { root: ParamScope; st: SafetensorsFile; io: SafetensorsFile; build: () => ReturnType<typeof createBackbone> } {
  const st = loadSafetensors(fixture(name, 'weights.safetensors'));
  const io = loadSafetensors(fixture(name, 'io.safetensors'));
  const config = { ...(JSON.parse(st.metadata['config']!) as BackboneConfig), ...configOverride };
  const root = ParamScope.root(0);
  return { root, st, io, build: () => createBackbone(root.child('backbone'), config) };
}

for (const name of ['resnet18-tiny', 'resnext-tiny']) {
  describe(`torchvision golden: ${name}`, () => {
    it('eval-mode C5 and pooled map match PyTorch to 1e-4', () => {
      const { root, st, io, build } = setup(name);
      const bb = build();
      const report = importTorchvisionBackbone(bb, st);
      expect(report.loaded).toBe(root.registry.size);
      // fc (classifier) and num_batches_tracked are in the state dict and skipped on purpose.
      expect(report.ignored).toContain('fc.weight');
      expect(report.ignored.every((k) => k.startsWith('fc.') || k.endsWith('num_batches_tracked'))).toBe(true);
      const x = tf.tensor(io.read('input').values, io.read('input').shape);
      const out = bb.forward(x);
      expectClose(out.c5, io.read('c5'), 1e-4, 'c5');
      expectClose(out.pooled, io.read('pooled'), 1e-4, 'pooled');
      tf.dispose([x, out.c5, out.pooled]);
      for (const v of root.registry.values()) v.dispose();
    });

    it('gradients of a weighted sum of C5 match torch.autograd (conv, grouped conv, BN weights)', () => {
      const { root, st, io, build } = setup(name);
      const bb = build();
      importTorchvisionBackbone(bb, st);
      const names = JSON.parse(io.metadata['grads']!) as string[];
      const vars = names.map((n) => root.registry.get(`backbone.${n}`)!);
      const x = tf.tensor(io.read('input').values, io.read('input').shape);
      const mix = tf.tensor(io.read('loss_mix').values, io.read('loss_mix').shape);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(bb.forward(x).c5, mix)) as tf.Scalar, vars);
      expectClose(value, { shape: [], values: io.read('loss').values }, 1e-4, 'loss');
      names.forEach((n, i) => expectClose(grads[vars[i]!.name]!, io.read(`grad.${n}`), 1e-4, `grad ${n}`));
      tf.dispose([x, mix, value, ...Object.values(grads)]);
      for (const v of root.registry.values()) v.dispose();
    });

    it('train-mode forward (batch statistics) and the running-stat update match PyTorch', () => {
      const { root, st, io, build } = setup(name);
      const bb = build();
      importTorchvisionBackbone(bb, st);
      const x = tf.tensor(io.read('input').values, io.read('input').shape);
      const out = bb.forward(x, { training: true });
      expectClose(out.c5, io.read('c5_train'), 1e-4, 'c5 (train)');
      expectClose(root.registry.get('backbone.bn1.running_mean')!, io.read('bn1.running_mean_after_train_step'), 1e-5, 'running_mean');
      expectClose(root.registry.get('backbone.bn1.running_var')!, io.read('bn1.running_var_after_train_step'), 1e-5, 'running_var');
      tf.dispose([x, out.c5, out.pooled]);
      for (const v of root.registry.values()) v.dispose();
    });
  });
}

describe('torchvision importer refuses what does not fit', () => {
  it('another architecture: lists missing, unexpected and mis-shaped names, and assigns nothing', () => {
    const st = loadSafetensors(fixture('resnext-tiny', 'weights.safetensors'));
    const { root, build } = setup('resnet18-tiny');
    const bb = build();
    const before = root.registry.get('backbone.conv1.weight')!.dataSync().slice();
    let msg = '';
    try {
      importTorchvisionBackbone(bb, st);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/resnext-tiny\/weights\.safetensors: torchvision state dict does not fit backbone \(basic blocks/);
    expect(msg).toMatch(/missing\s+layer1\.1\.conv1\.weight/);
    expect(msg).toMatch(/unexpected\s+layer1\.0\.conv3\.weight/);
    expect(msg).toMatch(/shape\s+layer1\.0\.conv1\.weight: file has \[\d+,\d+,1,1\], model expects \[4,8,3,3\]/);
    expect(root.registry.get('backbone.conv1.weight')!.dataSync()).toEqual(before);
    for (const v of root.registry.values()) v.dispose();
  });

  it('a wider stem is a shape error naming the key', () => {
    const { root, st, build } = setup('resnet18-tiny', { stemWidth: 16 });
    const bb = build();
    expect(() => importTorchvisionBackbone(bb, st)).toThrow(/shape\s+conv1\.weight: file has \[8,3,7,7\], model expects \[16,3,7,7\]/);
    for (const v of root.registry.values()) v.dispose();
  });

  it('a key prefix that is not in the file reports every name missing', () => {
    const { root, st, build } = setup('resnet18-tiny');
    const bb = build();
    expect(() => importTorchvisionBackbone(bb, st, { keyPrefix: 'module.' })).toThrow(/missing\s+module\.bn1\.bias/);
    for (const v of root.registry.values()) v.dispose();
  });
});

describe('names and shapes of the full-size torchvision builders (fixtures/torchvision-names.json)', () => {
  const file = fileURLToPath(new URL('../../fixtures/torchvision-names.json', import.meta.url));
  const dump = JSON.parse(fs.readFileSync(file, 'utf-8')) as {
    models: Record<string, { ours: { arch?: string; config?: BackboneConfig }; keys: [string, number[]][] }>;
  };
  for (const [name, { ours, keys }] of Object.entries(dump.models)) {
    it(`${name}: every state-dict key but fc/num_batches_tracked, with the same shape`, () => {
      const root = ParamScope.root(0);
      const bb = createBackbone(root.child('backbone'), ours.arch ?? ours.config!, { init: 'zeros' });
      const theirs = new Map(keys.filter(([k]) => !k.startsWith('fc.') && !k.endsWith('num_batches_tracked')));
      const mine = torchvisionKeys(bb);
      expect([...mine.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [k, shape] of theirs) expect(mine.get(k), k).toEqual(shape);
      for (const v of root.registry.values()) v.dispose();
    }, 60_000);
  }
});
