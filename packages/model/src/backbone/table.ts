/**
 * Every backbone is a row of numbers, as in torchvision's resnet.py: a block type, the number
 * of blocks per stage, the stage widths and strides, and for ResNeXt the cardinality (groups)
 * and width per group. The 2×2 max-pool after the last stage is Pixel-BERT's (Section 3.2).
 */
export type BlockType = 'basic' | 'bottleneck';

export interface BackboneConfig {
  block: BlockType;
  /** Blocks per stage (torchvision `layers`); stage i is `layer{i+1}`. */
  layers: number[];
  /** torchvision `planes` of each stage; a bottleneck outputs 4× this. */
  planes: number[];
  /** Stride of the first block of each stage (torchvision: 1, 2, 2, 2). */
  strides: number[];
  /** ResNeXt cardinality: 3×3 convolutions in `groups` groups (1 for ResNet). */
  groups: number;
  /** torchvision `width_per_group` (64 for ResNet; ResNeXt 32x8d: 8). */
  widthPerGroup: number;
  /** Output channels of the stem's 7×7 conv (torchvision: 64). */
  stemWidth: number;
}

/** Total stride of the stem: 7×7 stride-2 conv, then 3×3 stride-2 max-pool (torchvision). */
export const STEM_STRIDE = 4;
/** Pixel-BERT's 2×2 max-pool on the last feature map (Section 3.2): one more factor of 2. */
export const PIXEL_POOL = 2;

const PAPER_PLANES = [64, 128, 256, 512];
const PAPER_STRIDES = [1, 2, 2, 2];

export const BACKBONES = {
  /** ResNet-18 (He et al., 2016): basic blocks, C5 stride 32. */
  resnet18: { block: 'basic', layers: [2, 2, 2, 2], planes: PAPER_PLANES, strides: PAPER_STRIDES, groups: 1, widthPerGroup: 64, stemWidth: 64 },
  /** ResNet-50, the paper's default backbone (Section 4.1). */
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3], planes: PAPER_PLANES, strides: PAPER_STRIDES, groups: 1, widthPerGroup: 64, stemWidth: 64 },
  /** ResNeXt-152 32x8d, the paper's larger backbone (Section 4.1; Detectron's X-152-32x8d). */
  resnext152: { block: 'bottleneck', layers: [3, 8, 36, 3], planes: PAPER_PLANES, strides: PAPER_STRIDES, groups: 32, widthPerGroup: 8, stemWidth: 64 },
  /**
   * CPU stand-ins for the `small` scale: 128 px → stride 8 after three stages → 16×16 C-last map
   * → 8×8 pooled grid (total stride 16). The x-variant is the same family made deeper (2 blocks
   * per stage) and wider (grouped 3×3 width 32 vs 16), as ResNeXt-152 is to ResNet-50.
   */
  'resnet-small': { block: 'bottleneck', layers: [1, 1, 1], planes: [16, 32, 64], strides: [1, 2, 1], groups: 1, widthPerGroup: 64, stemWidth: 16 },
  'resnext-small': { block: 'bottleneck', layers: [2, 2, 2], planes: [16, 32, 64], strides: [1, 2, 1], groups: 4, widthPerGroup: 32, stemWidth: 16 },
  /** `smoke` scale: 64 px → stride 4 (stem only) → 16×16 → 8×8 pooled grid (total stride 8). */
  'resnet-smoke': { block: 'bottleneck', layers: [1, 1], planes: [8, 16], strides: [1, 1], groups: 1, widthPerGroup: 64, stemWidth: 8 },
  'resnext-smoke': { block: 'bottleneck', layers: [1, 2], planes: [8, 16], strides: [1, 1], groups: 4, widthPerGroup: 32, stemWidth: 8 },
} as const satisfies Record<string, BackboneConfig>;

export type BackboneName = keyof typeof BACKBONES;
export const BACKBONE_NAMES = Object.keys(BACKBONES) as BackboneName[];

export function backboneConfig(name: string): BackboneConfig {
  if (!(name in BACKBONES)) {
    throw new Error(`unknown backbone "${name}"; expected one of ${BACKBONE_NAMES.join(', ')}`);
  }
  const c = BACKBONES[name as BackboneName];
  return { ...c, layers: [...c.layers], planes: [...c.planes], strides: [...c.strides] };
}

/** Channels out of a block of `planes` (torchvision `expansion`). */
export function expansion(block: BlockType): number {
  return block === 'bottleneck' ? 4 : 1;
}

/** Width of the 3×3 conv of a bottleneck (torchvision: int(planes · widthPerGroup/64) · groups). */
export function bottleneckWidth(c: BackboneConfig, planes: number): number {
  return Math.floor((planes * c.widthPerGroup) / 64) * c.groups;
}

/** Channels of the last stage's map (2048 for ResNet-50 / ResNeXt-152). */
export function outChannels(c: BackboneConfig): number {
  return c.planes[c.planes.length - 1]! * expansion(c.block);
}

/** Stride of the last stage's map relative to the image (32 for the paper nets). */
export function lastStride(c: BackboneConfig): number {
  return c.strides.reduce((a, s) => a * s, STEM_STRIDE);
}

/** Checks a custom config the way the table's rows are built; throws naming the bad field. */
export function validateConfig(c: BackboneConfig): void {
  const n = c.layers.length;
  if (n === 0) throw new Error('backbone config: layers must name at least one stage');
  for (const [key, arr] of [['planes', c.planes], ['strides', c.strides]] as const) {
    if (arr.length !== n) throw new Error(`backbone config: ${key} has ${arr.length} entries, layers has ${n}`);
  }
  for (const [key, v] of Object.entries({ groups: c.groups, widthPerGroup: c.widthPerGroup, stemWidth: c.stemWidth })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`backbone config: ${key} must be a positive integer, got ${v}`);
  }
  if (c.block === 'basic' && (c.groups !== 1 || c.widthPerGroup !== 64)) {
    throw new Error('backbone config: basic blocks support only groups=1 and widthPerGroup=64 (as torchvision)');
  }
}
