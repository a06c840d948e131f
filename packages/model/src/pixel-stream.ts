// The model's view of each feature pixel, depth by depth: what the pixel-stream probes read
// (tools:pixel-probe, and the pre-training stage's `pretrain.pixels.*` metrics).
import * as tf from '@tensorflow/tfjs';
import { backboneFeatures, embedImages, embedTexts, jointForward, type PixelBert } from './pixelbert';

/**
 * Per feature pixel of each image (rows in image-major raster order), in evaluation mode: `cnn` the
 * backbone's pooled C5 feature, `token` the pixel token entering the Transformer, and `layer k` the
 * Transformer's output at that pixel after its k-th layer, beside the caption `tokenIds` (one row,
 * e.g. [CLS] [SEP], given to every image). Tensors of shape (N·h·w, width); the caller disposes them.
 */
export function pixelStream(model: PixelBert, images: tf.Tensor4D, tokenIds: readonly number[]): { grid: [number, number]; depths: Record<string, tf.Tensor2D> } {
  return tf.tidy(() => {
    const N = images.shape[0];
    const { features } = backboneFeatures(model, images, undefined, false);
    const [, h, w, C] = features.shape;
    const { v, mask } = embedImages(model, images, undefined);
    const ids = tf.tensor2d(Array.from({ length: N }, () => [...tokenIds]), [N, tokenIds.length], 'int32');
    const idsMask = tf.onesLike(ids) as tf.Tensor2D;
    const text = embedTexts(model, ids, idsMask);
    const depths: Record<string, tf.Tensor2D> = { cnn: features.reshape([N * h * w, C]), token: v.reshape([N * h * w, v.shape[2]]) };
    model.encoder.layer.forEach((_, i) => {
      const upTo = { ...model, encoder: { ...model.encoder, layer: model.encoder.layer.slice(0, i + 1) } };
      const { hidden } = jointForward(upTo, text, idsMask, v, mask);
      depths[`layer ${i + 1}`] = hidden.slice([0, tokenIds.length, 0], [-1, -1, -1]).reshape([N * h * w, hidden.shape[2]]) as tf.Tensor2D;
    });
    return { grid: [h, w] as [number, number], depths };
  });
}
