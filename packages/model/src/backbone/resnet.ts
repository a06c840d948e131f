import * as tf from '@tensorflow/tfjs';
import { ParamScope, type ParamRegistry } from '../params';
import { batchNorm, conv2d, createBatchNorm, createConv, stemMaxPool, type BatchNorm, type Conv } from './layers';
import {
  backboneConfig,
  bottleneckWidth,
  expansion,
  lastStride,
  outChannels,
  PIXEL_POOL,
  validateConfig,
  type BackboneConfig,
} from './table';

/**
 * The CNN of Pixel-BERT (Section 3.2): a ResNet/ResNeXt trunk up to the last stage (C5, stride
 * 32 for the paper nets), then a 2×2 max-pool whose cells are the "pixel features". Parameter
 * names follow torchvision (`conv1.weight`, `layer1.0.downsample.1.running_var`, …) under the
 * scope's prefix, so importing a torchvision state dict is a name-for-name mapping.
 */

export interface BackboneOptions {
  /** Use running statistics in every batch-norm and never train them (Detectron's FrozenBN). */
  frozenBatchNorm?: boolean;
  /**
   * Stages whose weights are not trained: 0 none, 1 the stem (conv1/bn1), k the stem and
   * layer1…layer(k−1) (Detectron's FREEZE_AT convention). Their batch-norms use running stats.
   */
  frozenStages?: number;
  /**
   * 'random' (default): torchvision's initialisation. 'zeros': skip drawing random conv weights,
   * for a model whose weights are imported or loaded right after (drawing ResNeXt-152's 120 M
   * normals takes 20–30 s on CPU) and for shape-only checks.
   */
  init?: 'random' | 'zeros';
}

interface Block {
  conv1: Conv;
  bn1: BatchNorm;
  conv2: Conv;
  bn2: BatchNorm;
  conv3?: Conv;
  bn3?: BatchNorm;
  downsample?: { conv: Conv; bn: BatchNorm };
  /** Index of the stage (1 = layer1): frozen stages use running statistics. */
  stage: number;
}

export interface BackboneOutput {
  /** Last stage's map, [batch, H/s, W/s, C] with s = `lastStride` (32 for the paper nets). */
  c5: tf.Tensor4D;
  /** After Pixel-BERT's 2×2 max-pool: the feature pixels, [batch, ⌊H/s/2⌋, ⌊W/s/2⌋, C]. */
  pooled: tf.Tensor4D;
}

export class Backbone {
  readonly config: BackboneConfig;
  readonly outChannels: number;
  /** Stride of `c5` relative to the input image. */
  readonly c5Stride: number;
  readonly frozenStages: number;
  readonly frozenBatchNorm: boolean;
  private readonly conv1: Conv;
  private readonly bn1: BatchNorm;
  private readonly blocks: Block[] = [];
  private readonly scope: ParamScope;

  constructor(scope: ParamScope, arch: string | BackboneConfig, opts: BackboneOptions = {}) {
    this.config = typeof arch === 'string' ? backboneConfig(arch) : arch;
    validateConfig(this.config);
    const c = this.config;
    this.scope = scope;
    this.outChannels = outChannels(c);
    this.c5Stride = lastStride(c);
    this.frozenStages = opts.frozenStages ?? 0;
    this.frozenBatchNorm = opts.frozenBatchNorm ?? false;
    if (!Number.isInteger(this.frozenStages) || this.frozenStages < 0 || this.frozenStages > c.layers.length + 1) {
      throw new Error(`frozenStages must be an integer in 0..${c.layers.length + 1}, got ${opts.frozenStages}`);
    }

    const rnd = (opts.init ?? 'random') === 'random';
    this.conv1 = createConv(scope, 'conv1', 3, c.stemWidth, 7, 2, 1, rnd);
    this.bn1 = createBatchNorm(scope, 'bn1', c.stemWidth);
    const exp = expansion(c.block);
    let inplanes = c.stemWidth;
    c.layers.forEach((depth, si) => {
      const planes = c.planes[si]!;
      const layer = scope.child(`layer${si + 1}`);
      for (let bi = 0; bi < depth; bi++) {
        const s = layer.child(bi);
        const stride = bi === 0 ? c.strides[si]! : 1;
        const out = planes * exp;
        const block: Block =
          c.block === 'basic'
            ? {
                conv1: createConv(s, 'conv1', inplanes, planes, 3, stride, 1, rnd),
                bn1: createBatchNorm(s, 'bn1', planes),
                conv2: createConv(s, 'conv2', planes, planes, 3, 1, 1, rnd),
                bn2: createBatchNorm(s, 'bn2', planes),
                stage: si + 1,
              }
            : (() => {
                // torchvision (v1.5) puts the stride on the 3×3 conv.
                const width = bottleneckWidth(c, planes);
                return {
                  conv1: createConv(s, 'conv1', inplanes, width, 1, 1, 1, rnd),
                  bn1: createBatchNorm(s, 'bn1', width),
                  conv2: createConv(s, 'conv2', width, width, 3, stride, c.groups, rnd),
                  bn2: createBatchNorm(s, 'bn2', width),
                  conv3: createConv(s, 'conv3', width, out, 1, 1, 1, rnd),
                  bn3: createBatchNorm(s, 'bn3', out),
                  stage: si + 1,
                };
              })();
        if (stride !== 1 || inplanes !== out) {
          const ds = s.child('downsample');
          block.downsample = { conv: createConv(ds, '0', inplanes, out, 1, stride, 1, rnd), bn: createBatchNorm(ds, '1', out) };
        }
        this.blocks.push(block);
        inplanes = out;
      }
    });
    this.applyFreezing();
  }

  /** The registry entries of this backbone (parameters and buffers), in creation order. */
  variables(): tf.Variable[] {
    return this.scope.variables();
  }

  get registry(): ParamRegistry {
    return this.scope.registry;
  }

  get prefix(): string {
    return this.scope.prefix;
  }

  private isFrozen(stage: number): boolean {
    // stage 0 is the stem; frozenStages = k freezes stages 0..k-1.
    return stage < this.frozenStages;
  }

  private applyFreezing(): void {
    const p = this.scope.prefix === '' ? '' : `${this.scope.prefix}.`;
    for (const [name, v] of this.scope.registry) {
      if (!name.startsWith(p)) continue;
      const local = name.slice(p.length);
      const m = /^layer(\d+)\./.exec(local);
      const stage = m ? Number(m[1]) : 0;
      const isBn = /(^|\.)(bn\d|downsample\.1)\.(weight|bias)$/.test(local);
      if (this.isFrozen(stage) || (this.frozenBatchNorm && isBn)) v.trainable = false;
    }
  }

  /** Spatial size of `c5` and of the pooled grid for an image of h × w (PyTorch floor arithmetic). */
  gridSize(h: number, w: number): { c5: [number, number]; pooled: [number, number] } {
    const size = (n: number): [number, number] => {
      let v = convOut(n, 7, 2, 3); // conv1
      v = convOut(v, 3, 2, 1); // max-pool
      for (const s of this.config.strides) v = convOut(v, 3, s, 1);
      return [v, Math.floor(v / PIXEL_POOL)];
    };
    const [hc, hp] = size(h);
    const [wc, wp] = size(w);
    return { c5: [hc, wc], pooled: [hp, wp] };
  }

  /** Smallest square image side that yields one pooled feature pixel. */
  minImageSize(): number {
    let n = 1;
    while (this.gridSize(n, n).pooled[0] < 1) n++;
    return n;
  }

  /**
   * images: [batch, H, W, 3] float32, normalised as the caller's pipeline does (torchvision:
   * ImageNet mean/std). `training` uses batch statistics in the batch-norms that are not frozen.
   * Checks the input before any kernel runs.
   */
  forward(images: tf.Tensor, opts: { training?: boolean } = {}): BackboneOutput {
    this.checkInput(images);
    const training = opts.training ?? false;
    return tf.tidy(() => {
      const x0 = images as tf.Tensor4D;
      const stemTrain = training && !this.frozenBatchNorm && !this.isFrozen(0);
      let x = tf.relu(batchNorm(conv2d(x0, this.conv1), this.bn1, stemTrain)); // (B, H/2, W/2, stem)
      x = stemMaxPool(x); // (B, H/4, W/4, stem)
      for (const b of this.blocks) x = this.block(x, b, training && !this.frozenBatchNorm && !this.isFrozen(b.stage));
      const c5 = x; // (B, H/s, W/s, C)
      const pooled = tf.maxPool(c5, PIXEL_POOL, PIXEL_POOL, 'valid'); // (B, H/2s, W/2s, C)
      return { c5, pooled };
    });
  }

  private block(x: tf.Tensor4D, b: Block, training: boolean): tf.Tensor4D {
    const identity = b.downsample ? batchNorm(conv2d(x, b.downsample.conv), b.downsample.bn, training) : x;
    let y = tf.relu(batchNorm(conv2d(x, b.conv1), b.bn1, training));
    y = batchNorm(conv2d(y, b.conv2), b.bn2, training);
    if (b.conv3 && b.bn3) y = batchNorm(conv2d(tf.relu(y), b.conv3), b.bn3, training);
    return tf.relu(tf.add(y, identity)) as tf.Tensor4D;
  }

  private checkInput(images: tf.Tensor): void {
    const where = `backbone input (images)`;
    if (images.rank !== 4) {
      throw new Error(`${where}: expected a rank-4 tensor [batch, height, width, 3], got rank ${images.rank} with shape [${images.shape}]`);
    }
    const [b, h, w, ch] = images.shape as [number, number, number, number];
    if (ch !== 3) throw new Error(`${where}: expected 3 channels (RGB, channels last), got ${ch} in shape [${images.shape}]`);
    if (b === 0) throw new Error(`${where}: the batch is empty (shape [${images.shape}])`);
    if (images.dtype !== 'float32') throw new Error(`${where}: expected float32, got ${images.dtype}`);
    const g = this.gridSize(h, w).pooled;
    if (g[0] < 1 || g[1] < 1) {
      throw new Error(
        `${where}: a ${h}×${w} image is too small for this backbone (C5 stride ${this.c5Stride}, then 2×2 max-pool); ` +
          `each side must be at least ${this.minImageSize()} px`,
      );
    }
  }
}

function convOut(n: number, k: number, s: number, p: number): number {
  return Math.floor((n + 2 * p - k) / s) + 1;
}

/** Builds a backbone from the table (or a custom config) in `scope` (e.g. `root.child('backbone')`). */
export function createBackbone(scope: ParamScope, arch: string | BackboneConfig, opts: BackboneOptions = {}): Backbone {
  return new Backbone(scope, arch, opts);
}
