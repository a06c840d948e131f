import { describe, expect, it } from 'vitest';
import { COLOURS, SHAPES, type Scene, type SceneObject } from '@pixel-bert/data';
import { attributeSalience } from './pixel-stream';

// Scenes of one object filling the top-left cell of a 2×2 grid (32 px images), colours and shapes cycling.
const scenes: Scene[] = Array.from({ length: 48 }, (_, i) => ({
  width: 32,
  height: 32,
  background: [200, 200, 200],
  objects: [{ shape: SHAPES[i % 4]!, colour: COLOURS[i % 6]!, size: 'large', texture: 'solid', cx: 8, cy: 8, r: 8, rgb: [0, 0, 0] } as SceneObject],
}));
const labels = scenes.map(() => [0, -1, -1, -1]);

describe('attributeSalience', () => {
  it('reads colour and shape where the features hold them plainly, and misses what a big unrelated direction drowns', () => {
    // depth "plain": the object cell is [colour one-hot (6), shape one-hot (4)]; depth "drowned": the same
    // scaled by 0.01 beside a ±50 direction that sides with colours 0–2 in the training scenes and with
    // colours 3–5 in the test scenes (a faint attribute beside a large direction that misleads)
    const width = 11;
    const make = (scale: number, noise: number) => {
      const data = new Float32Array(scenes.length * 4 * width);
      scenes.forEach((sc, i) => {
        const o = i * 4 * width;
        data[o + COLOURS.indexOf(sc.objects[0]!.colour)] = scale;
        data[o + 6 + SHAPES.indexOf(sc.objects[0]!.shape)] = scale;
        data[o + 10] = noise * (i < 36 ? 1 : -1) * (COLOURS.indexOf(sc.objects[0]!.colour) < 3 ? 1 : -1);
      });
      return { data, width };
    };
    const s = attributeSalience(scenes, { features: { plain: make(1, 0), drowned: make(0.01, 50) }, labels }, 36);
    expect(s.colour.plain).toBe(100);
    expect(s.shape.plain).toBe(100);
    // every test cell is nearest a class mean of the other half of the colours
    expect(s.colour.drowned).toBe(0);
  });
});
