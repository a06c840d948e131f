import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { Ctx } from './call';

type Attrs = NamedAttrMap & {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
};

/**
 * dW for conv2d on backends without Conv2DBackpropFilter (wasm; tfjs issue #8474).
 *
 * dW[i, j] = Σ_{b,y,x} x_pad[b, y·s + i, x·s + j, :]ᵀ ⊗ dy[b, y, x, :]
 * For every kernel tap (i, j) the strided window of the padded input is one (Ci × N)·(N × Co)
 * product with N = batch·outH·outW. We compute its transpose dyᵀ (Co × N) · X_ij (N × Ci) so that
 * dyᵀ is materialised once and every product is a plain 2-D one (XNNPACK's fast path); one
 * transpose at the end turns [kh, kw, Co, Ci] into tfjs's [kh, kw, Ci, Co].
 * tfjs-core refuses gradients of dilated convolutions, so dilation is always 1 here.
 */
export const conv2DBackpropFilter: KernelFunc = (args) => {
  const backend = args.backend as KernelBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as Attrs;
  if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter: only NHWC is supported');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inChannels, outChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth, padInfo } = info;
  const ctx = new Ctx(backend, String(tf.getBackend()));
  try {
    const n = batchSize * outHeight * outWidth;
    // Rows of the padded input that any tap reads; padding beyond them is never touched.
    const needH = (outHeight - 1) * strideHeight + filterHeight;
    const needW = (outWidth - 1) * strideWidth + filterWidth;
    const inH = x.shape[1]!;
    const inW = x.shape[2]!;
    const padBottom = Math.max(0, needH - padInfo.top - inH);
    const padRight = Math.max(0, needW - padInfo.left - inW);
    let xp = x;
    if (padInfo.top || padInfo.left || padBottom || padRight) {
      xp = ctx.run('PadV2', { x }, {
        paddings: [[0, 0], [padInfo.top, padBottom], [padInfo.left, padRight], [0, 0]],
        constantValue: 0,
      });
    }
    const dyT = ctx.transpose(ctx.reshape(dy, [n, outChannels]), [1, 0]); // (Co, N)
    const taps: TensorInfo[] = [];
    for (let i = 0; i < filterHeight; i++) {
      for (let j = 0; j < filterWidth; j++) {
        let win: TensorInfo;
        if (filterHeight === 1 && filterWidth === 1 && strideHeight === 1 && strideWidth === 1 && xp.shape[1] === outHeight && xp.shape[2] === outWidth) {
          win = xp; // 1×1 stride-1 convolution: the window is the input itself
        } else {
          win = ctx.run('StridedSlice', { x: xp }, {
            begin: [0, i, j, 0],
            end: [batchSize, i + (outHeight - 1) * strideHeight + 1, j + (outWidth - 1) * strideWidth + 1, inChannels],
            strides: [1, strideHeight, strideWidth, 1],
            beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
          });
        }
        const prod = ctx.run('BatchMatMul', { a: ctx.reshape(dyT, [1, outChannels, n]), b: ctx.reshape(win, [1, n, inChannels]) }, { transposeA: false, transposeB: false });
        taps.push(ctx.reshape(prod, [1, outChannels, inChannels]));
      }
    }
    const stacked = taps.length === 1 ? taps[0]! : ctx.run('Concat', taps, { axis: 0 }); // (kh·kw, Co, Ci)
    const out = ctx.transpose(ctx.reshape(stacked, [filterHeight, filterWidth, outChannels, inChannels]), [0, 1, 3, 2]);
    return ctx.keep(out);
  } finally {
    ctx.freeAll();
  }
};
