import { describe, expect, it } from 'vitest';
import type { Scene, SceneObject } from './world';
import { cellLabels } from './cells';

const object = (o: Partial<SceneObject>): SceneObject => ({ shape: 'square', colour: 'red', size: 'large', texture: 'solid', cx: 0, cy: 0, r: 8, rgb: [215, 35, 35], ...o });
const scene = (objects: SceneObject[]): Scene => ({ width: 64, height: 64, background: [200, 200, 200], objects });

describe('cellLabels', () => {
  it('labels each feature cell with the object covering most of it, background elsewhere', () => {
    // A square filling cell (0, 0) and a circle centred in cell (2, 3) of the 4×4 grid.
    const s = scene([object({ cx: 8, cy: 8, r: 9 }), object({ shape: 'circle', cx: 3 * 16 + 8, cy: 2 * 16 + 8, r: 7 })]);
    const labels = cellLabels(s, 4);
    expect(labels).toHaveLength(16);
    expect(labels[0]).toBe(0);
    expect(labels[2 * 4 + 3]).toBe(1);
    expect(labels.filter((l) => l === -1)).toHaveLength(14);
  });

  it('needs an eighth of the cell covered: a corner clipped by a neighbour stays background', () => {
    // Square of half-extent 9·0.85 ≈ 7.7 px centred at (16, 16): each of the four cells around the
    // corner gets a 7.7 × 7.7 ≈ 59 px quarter, above 256 / 8 = 32; moved to (10, 10) the cells
    // right of and below it get 1.7 × 13.7 ≈ 22 px, below the threshold.
    expect(cellLabels(scene([object({ cx: 16, cy: 16, r: 9 })]), 4).slice(0, 6)).toEqual([0, 0, -1, -1, 0, 0]);
    expect(cellLabels(scene([object({ cx: 10, cy: 10, r: 9 })]), 4).slice(0, 6)).toEqual([0, -1, -1, -1, -1, -1]);
  });
});
