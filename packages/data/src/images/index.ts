export { loadImage, decodeRgb, toFloatRgb, targetSize, ImageError, IMAGENET_MEAN, IMAGENET_STD } from './decode';
export type { ResizeSpec, DecodeOptions, DecodedImage } from './decode';
export { collateImages, featureMask } from './batch';
export type { ImageBatch, CollateOptions } from './batch';
export { ImageLoader } from './loader';
export { handoffRoot } from './handoff';
export type { ImageLoaderOptions, LoadedBatch } from './loader';
export { DecodedImageCache } from './cache';
export type { ImageCacheOptions } from './cache';
