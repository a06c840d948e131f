// What the pixel stream carries at the end of pre-training, on a generated world: for new scenes of
// the world, how plainly each feature pixel's colour and shape stand apart (nearest class mean,
// eval's nearestMeanAccuracy) at the pixel token and after each Transformer layer. Linear probes read
// both at 95–99 % at every depth of every stage; what pre-training changes is how faint they become
// (docs/results/small-table6.md, "What the pixels carry"). Logged as pretrain.pixels.<attr>.<depth>.
import * as tf from '@tensorflow/tfjs';
import { COLOURS, SHAPES, cellLabels, generatedScenes, renderScene, toFloatRgb, type Scene } from '@pixel-bert/data';
import { nearestMeanAccuracy } from '@pixel-bert/eval';
import { pixelStream, type PixelBert } from '@pixel-bert/model';

export const PIXEL_STREAM_SCENES = { train: 400, test: 200 } as const;

/** The features of every feature pixel of `scenes` at each depth, and the object under each pixel. */
export function pixelStreamOf(model: PixelBert, scenes: readonly Scene[], tokenIds: readonly number[], batch = 50): { features: Record<string, { data: Float32Array; width: number }>; labels: number[][] } {
  const parts: Record<string, Float32Array[]> = {};
  const width: Record<string, number> = {};
  let grid = 0;
  for (let s = 0; s < scenes.length; s += batch) {
    const part = scenes.slice(s, s + batch);
    const S = part[0]!.width;
    const px = new Float32Array(part.length * S * S * 3);
    part.forEach((sc, i) => px.set(toFloatRgb(renderScene(sc)), i * S * S * 3));
    const images = tf.tensor4d(px, [part.length, S, S, 3]);
    const out = pixelStream(model, images, tokenIds);
    images.dispose();
    grid = out.grid[0];
    for (const [d, t] of Object.entries(out.depths)) {
      width[d] = t.shape[1];
      (parts[d] ??= []).push(t.dataSync() as Float32Array);
      t.dispose();
    }
  }
  const features = Object.fromEntries(
    Object.entries(parts).map(([d, ps]) => {
      const data = new Float32Array(ps.reduce((n, p) => n + p.length, 0));
      ps.reduce((o, p) => (data.set(p, o), o + p.length), 0);
      return [d, { data, width: width[d]! }];
    }),
  );
  return { features, labels: scenes.map((sc) => cellLabels(sc, grid)) };
}

/**
 * Nearest-class-mean accuracy (%) of the colour and shape of the object under each feature pixel, at
 * each depth, trained on the first `train` scenes and tested on the rest: `{colour: {token: …}, …}`.
 */
export function attributeSalience(scenes: readonly Scene[], stream: ReturnType<typeof pixelStreamOf>, train: number): Record<'colour' | 'shape', Record<string, number>> {
  const out = { colour: {} as Record<string, number>, shape: {} as Record<string, number> };
  const attrs = { colour: (sc: Scene, o: number) => COLOURS.indexOf(sc.objects[o]!.colour), shape: (sc: Scene, o: number) => SHAPES.indexOf(sc.objects[o]!.shape) };
  const cells = stream.labels[0]?.length ?? 0;
  for (const [d, { data, width }] of Object.entries(stream.features)) {
    for (const [attr, label] of Object.entries(attrs) as ['colour' | 'shape', (sc: Scene, o: number) => number][]) {
      const x: [number[], number[]] = [[], []];
      const y: [number[], number[]] = [[], []];
      scenes.forEach((sc, i) =>
        stream.labels[i]!.forEach((o, c) => {
          if (o < 0) return;
          const part = i < train ? 0 : 1;
          x[part].push(i * cells + c);
          y[part].push(label(sc, o));
        }),
      );
      const pick = (ix: number[]) => {
        const m = new Float32Array(ix.length * width);
        ix.forEach((k, j) => m.set(data.subarray(k * width, (k + 1) * width), j * width));
        return m;
      };
      out[attr][d] = nearestMeanAccuracy(pick(x[0]), y[0], pick(x[1]), y[1], width);
    }
  }
  return out;
}

/**
 * The pre-training stage's pixel-stream metrics on a generated world (none on real data):
 * `pretrain.pixels.{colour,shape}.{token,layer1,…}`, beside an empty caption ([CLS] [SEP]).
 */
export function pixelStreamMetrics(model: PixelBert, root: string, specials: { cls: number; sep: number }): Record<string, number> {
  const sceneOf = generatedScenes(root);
  if (!sceneOf) return {};
  const { train, test } = PIXEL_STREAM_SCENES;
  const scenes = Array.from({ length: train + test }, (_, i) => sceneOf('pixel-stream', i));
  const sal = attributeSalience(scenes, pixelStreamOf(model, scenes, [specials.cls, specials.sep]), train);
  const m: Record<string, number> = {};
  for (const [attr, byDepth] of Object.entries(sal)) {
    for (const [d, v] of Object.entries(byDepth)) if (d !== 'cnn') m[`pretrain.pixels.${attr}.${d.replace(' ', '')}`] = Math.round(v * 100) / 100;
  }
  return m;
}
