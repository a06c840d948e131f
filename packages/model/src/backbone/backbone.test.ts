import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/index';
import { ParamScope, countParams } from '../params';
import { BACKBONE_NAMES, createBackbone, setGroupedConvMode, type Backbone } from './index';

// Backend from TFJS_BACKEND (CI runs this suite once per backend); default: best available.
beforeAll(async () => {
  await initBackend({ quiet: true });
});

function build(arch: string, opts: Parameters<typeof createBackbone>[2] = {}, seed = 0): { root: ParamScope; bb: Backbone } {
  const root = ParamScope.root(seed);
  return { root, bb: createBackbone(root, arch, opts) };
}

function free(root: ParamScope): void {
  for (const v of root.registry.values()) v.dispose();
}

describe('backbone table', () => {
  it('ResNet-50 trunk without the classifier has 23,508,032 parameters (BN running stats are buffers)', () => {
    const { root } = build('resnet50', { init: 'zeros' });
    expect(countParams(root.registry)).toBe(23_508_032);
    // 53 batch-norms' running mean + var are state, not parameters.
    expect(countParams(root.registry, '', { includeBuffers: true })).toBe(23_508_032 + 2 * 26_560);
    free(root);
  });

  it('ResNet-18 trunk matches torchvision (11,689,512 minus the 513,000 of fc)', () => {
    const { root } = build('resnet18', { init: 'zeros' });
    expect(countParams(root.registry)).toBe(11_689_512 - 513_000);
    free(root);
  });

  it('names mirror torchvision', () => {
    const { root } = build('resnet50', { init: 'zeros' });
    for (const n of [
      'conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var',
      'layer1.0.conv1.weight', 'layer1.0.downsample.0.weight', 'layer1.0.downsample.1.running_var',
      'layer3.5.conv3.weight', 'layer4.2.bn3.bias',
    ]) expect(root.registry.has(n), n).toBe(true);
    expect(root.registry.has('layer4.3.conv1.weight')).toBe(false);
    expect(root.registry.get('layer1.0.conv2.weight')!.shape).toEqual([3, 3, 64, 64]);
    free(root);
  });

  it('ResNeXt-152 32x8d: grouped 3×3 convs of width 256·(8/64)·32 … and 2048 output channels', () => {
    const { root, bb } = build('resnext152', { init: 'zeros' });
    expect(bb.outChannels).toBe(2048);
    // layer1: planes 64 → width int(64·8/64)·32 = 256, in 32 groups of 8 channels.
    expect(root.registry.get('layer1.0.conv2.weight')!.shape).toEqual([3, 3, 8, 256]);
    expect(root.registry.has('layer3.35.conv3.weight')).toBe(true);
    const out = bb.forward(tf.zeros([1, 33, 33, 3])); // the smallest image with one pooled pixel
    expect(out.c5.shape).toEqual([1, 2, 2, 2048]);
    expect(out.pooled.shape).toEqual([1, 1, 1, 2048]);
    tf.dispose([out.c5, out.pooled]);
    free(root);
  }, 120_000);

  it('paper nets: C5 at stride 32, pooled at 64; 800×1333 gives a 12×20 pixel grid', () => {
    const { root, bb } = build('resnet50');
    expect(bb.c5Stride).toBe(32);
    expect(bb.gridSize(800, 1333)).toEqual({ c5: [25, 42], pooled: [12, 21] });
    const out = bb.forward(tf.randomNormal([1, 96, 128, 3]));
    expect(out.c5.shape).toEqual([1, 3, 4, 2048]);
    expect(out.pooled.shape).toEqual([1, 1, 2, 2048]);
    tf.dispose([out.c5, out.pooled]);
    free(root);
  }, 60_000);

  it.each([
    ['resnet-small', 128],
    ['resnext-small', 128],
    ['resnet-smoke', 64],
    ['resnext-smoke', 64],
  ])('%s at %i px gives the 8×8 pooled grid the scale expects', (arch, side) => {
    const { root, bb } = build(arch);
    const out = bb.forward(tf.randomNormal([2, side, side, 3]));
    expect(out.pooled.shape).toEqual([2, 8, 8, bb.outChannels]);
    expect(bb.gridSize(side, side).pooled).toEqual([8, 8]);
    tf.dispose([out.c5, out.pooled]);
    free(root);
  });

  it('x-variants are deeper and wider than their r-variants', () => {
    for (const scale of ['small', 'smoke']) {
      const r = build(`resnet-${scale}`);
      const x = build(`resnext-${scale}`);
      expect(countParams(x.root.registry)).toBeGreaterThan(countParams(r.root.registry));
      expect(x.bb.config.layers.reduce((a, b) => a + b)).toBeGreaterThan(r.bb.config.layers.reduce((a, b) => a + b));
      expect(x.root.registry.get('layer1.0.conv2.weight')!.shape[3]).toBeGreaterThan(r.root.registry.get('layer1.0.conv2.weight')!.shape[3]!);
      free(r.root);
      free(x.root);
    }
    expect(BACKBONE_NAMES).toEqual(['resnet18', 'resnet50', 'resnext152', 'resnet-small', 'resnext-small', 'resnet-smoke', 'resnext-smoke']);
  });

  it('unknown names and inconsistent configs are refused', () => {
    expect(() => build('resnet51')).toThrow(/unknown backbone "resnet51"; expected one of resnet18, resnet50/);
    const root = ParamScope.root(0);
    expect(() => createBackbone(root, { block: 'bottleneck', layers: [1, 1], planes: [8], strides: [1, 1], groups: 1, widthPerGroup: 64, stemWidth: 8 })).toThrow(/planes has 1 entries, layers has 2/);
  });
});

describe('grouped convolution', () => {
  it('split and block-diagonal give the same outputs and gradients', () => {
    const { root, bb } = build('resnext-smoke');
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 5);
    const run = (mode: 'split' | 'blockDiagonal') => {
      setGroupedConvMode(mode);
      try {
        return tf.tidy(() => {
          const w = root.registry.get('layer1.0.conv2.weight')!;
          const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(bb.forward(x).c5)) as tf.Scalar, [w]);
          return { y: value.dataSync()[0]!, g: Array.from(grads[w.name]!.dataSync()) };
        });
      } finally {
        setGroupedConvMode(undefined);
      }
    };
    const a = run('split');
    const b = run('blockDiagonal');
    expect(Math.abs(a.y - b.y) / Math.abs(a.y)).toBeLessThan(1e-5);
    const worst = Math.max(...a.g.map((v, i) => Math.abs(v - b.g[i]!) / (1 + Math.abs(v))));
    expect(worst).toBeLessThan(1e-4);
    expect(a.g.some((v) => v !== 0)).toBe(true);
    x.dispose();
    free(root);
  });
});

describe('batch norm and freezing', () => {
  it('training mode uses batch statistics and moves the running ones; eval mode does not', () => {
    const { root, bb } = build('resnet-smoke');
    const x = tf.randomNormal([2, 32, 32, 3], 1, 2, 'float32', 3);
    const rm = root.registry.get('bn1.running_mean')!;
    const before = rm.dataSync().slice();
    tf.dispose(Object.values(bb.forward(x)));
    expect(rm.dataSync()).toEqual(before);
    const train = bb.forward(x, { training: true });
    expect(rm.dataSync()).not.toEqual(before);
    const evalOut = bb.forward(x);
    expect(train.c5.shape).toEqual(evalOut.c5.shape);
    expect(tf.max(tf.abs(tf.sub(train.c5, evalOut.c5))).dataSync()[0]).toBeGreaterThan(1e-3);
    tf.dispose([train.c5, train.pooled, evalOut.c5, evalOut.pooled, x]);
    free(root);
  });

  it('frozen batch-norm keeps running stats and BN affine weights fixed', () => {
    const { root, bb } = build('resnet-smoke', { frozenBatchNorm: true });
    const rm = root.registry.get('layer1.0.bn2.running_var')!;
    const before = rm.dataSync().slice();
    tf.dispose(Object.values(bb.forward(tf.randomNormal([2, 32, 32, 3]), { training: true })));
    expect(rm.dataSync()).toEqual(before);
    expect(root.registry.get('layer1.0.bn2.weight')!.trainable).toBe(false);
    expect(root.registry.get('layer1.0.downsample.1.bias')!.trainable).toBe(false);
    expect(root.registry.get('layer1.0.conv2.weight')!.trainable).toBe(true);
    free(root);
  });

  it('frozen stages: 2 freezes the stem and layer1, not layer2', () => {
    const { root } = build('resnet-smoke', { frozenStages: 2 });
    expect(root.registry.get('conv1.weight')!.trainable).toBe(false);
    expect(root.registry.get('bn1.bias')!.trainable).toBe(false);
    expect(root.registry.get('layer1.0.conv3.weight')!.trainable).toBe(false);
    expect(root.registry.get('layer2.0.conv1.weight')!.trainable).toBe(true);
    expect(() => build('resnet-smoke', { frozenStages: 9 })).toThrow(/frozenStages must be an integer in 0\.\.3/);
    free(root);
  });
});

describe('bad input is refused before any kernel runs', () => {
  const { root, bb } = build('resnet50');
  const cases: [string, () => tf.Tensor, RegExp][] = [
    ['rank 3', () => tf.zeros([64, 64, 3]), /expected a rank-4 tensor \[batch, height, width, 3\], got rank 3/],
    ['1 channel', () => tf.zeros([1, 64, 64, 1]), /expected 3 channels \(RGB, channels last\), got 1/],
    ['channels first', () => tf.zeros([1, 3, 64, 64]), /expected 3 channels.*got 64/],
    ['empty batch', () => tf.zeros([0, 64, 64, 3]), /the batch is empty/],
    ['too small', () => tf.zeros([1, 32, 40, 3]), /a 32×40 image is too small for this backbone \(C5 stride 32.*at least 33 px/],
    ['int32', () => tf.zeros([1, 64, 64, 3], 'int32'), /expected float32, got int32/],
  ];
  it.each(cases)('%s', (_label, make, re) => {
    const x = make();
    const before = tf.memory().numTensors;
    expect(() => bb.forward(x)).toThrow(re);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
  it('cleanup', () => free(root));
});

describe('no tensor leaks', () => {
  it('numTensors after 50 training steps (forward + backward + update) equals that after 1', () => {
    const { root, bb } = build('resnext-smoke');
    const x = tf.randomNormal([2, 24, 24, 3]);
    const vars = bb.variables().filter((v) => v.trainable);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(bb.forward(x, { training: true }).pooled)) as tf.Scalar, vars);
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name]!, 1e-3)));
        return value.dataSync()[0]!;
      });
    const first = step();
    const after1 = tf.memory().numTensors;
    let last = first;
    for (let i = 1; i < 50; i++) last = step();
    expect(tf.memory().numTensors).toBe(after1);
    expect(Number.isFinite(last)).toBe(true);
    x.dispose();
    free(root);
  }, 120_000);
});
