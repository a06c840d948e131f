import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

/** Attributes shared by tfjs's conv2d gradient kernels. */
export type ConvGradAttrs = NamedAttrMap & {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/**
 * Kernels registered by this package are composed from kernels the backend already has.
 * A kernel function receives TensorInfos (not Tensors), runs outside the gradient tape and
 * outside any tidy scope, so it must call other kernels directly (not through tf ops, which
 * would record tape nodes and allocate engine-tracked tensors) and free every intermediate
 * itself. `Ctx` is that bookkeeping: `run` calls a backend kernel, `free` releases a result.
 */
export class Ctx {
  private readonly owned: TensorInfo[] = [];

  constructor(
    readonly backend: KernelBackend,
    readonly backendName: string,
  ) {}

  /** Runs kernel `name` on this backend; the result is freed by `freeAll` unless `keep` is called. */
  run(name: string, inputs: Record<string, TensorInfo> | TensorInfo[], attrs: NamedAttrMap = {}): TensorInfo {
    const fn = tf.getKernel(name, this.backendName)?.kernelFunc;
    if (fn === undefined) throw new Error(`kernel ${name} is not registered on backend ${this.backendName}`);
    const out = fn({ inputs: inputs as Record<string, TensorInfo>, attrs, backend: this.backend });
    const info = Array.isArray(out) ? out[0] : out;
    if (info === undefined) throw new Error(`kernel ${name} returned no output`);
    this.owned.push(info);
    return info;
  }

  /** Hands a result produced outside `run` (e.g. by a saved original kernel) to this context. */
  track(info: TensorInfo): TensorInfo {
    this.owned.push(info);
    return info;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Marks `info` as the kernel's result: `freeAll` leaves it alone. */
  keep(info: TensorInfo): TensorInfo {
    const i = this.owned.indexOf(info);
    if (i >= 0) this.owned.splice(i, 1);
    return info;
  }

  /** Releases every intermediate not kept (reshapes share data by reference count, so this is safe). */
  freeAll(): void {
    for (const info of this.owned) this.backend.disposeData(info.dataId);
    this.owned.length = 0;
  }
}
