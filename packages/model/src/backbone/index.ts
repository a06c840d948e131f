export { Backbone, createBackbone } from './resnet';
export type { BackboneOptions, BackboneOutput } from './resnet';
export {
  BACKBONES,
  BACKBONE_NAMES,
  PIXEL_POOL,
  STEM_STRIDE,
  backboneConfig,
  bottleneckWidth,
  lastStride,
  outChannels,
  validateConfig,
} from './table';
export type { BackboneConfig, BackboneName, BlockType } from './table';
export { BN_MOMENTUM, blockDiagonal, groupedConvMode, setGroupedConvMode } from './layers';
export type { GroupedConvMode } from './layers';
