// Which object each cell of a feature grid shows: the labels of the pixel-stream probes (what a
// model's feature pixels say about the objects under them).
import { insideShape, type Scene } from './world';

/**
 * Per cell of a g×g grid over the scene (raster order): the index of the object covering most of it
 * (at least an eighth of the cell's image pixels, counted at their centres), or −1 for background.
 */
export function cellLabels(scene: Scene, grid: number): number[] {
  const cell = scene.width / grid;
  const out: number[] = [];
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      const cover = scene.objects.map((o) => {
        let n = 0;
        for (let y = gy * cell; y < (gy + 1) * cell; y++) {
          for (let x = gx * cell; x < (gx + 1) * cell; x++) if (insideShape(o.shape, (x + 0.5 - o.cx) / o.r, (y + 0.5 - o.cy) / o.r)) n++;
        }
        return n;
      });
      const best = cover.reduce((b, c, i) => (c > cover[b]! ? i : b), 0);
      out.push(cover.length > 0 && cover[best]! >= (cell * cell) / 8 ? best : -1);
    }
  }
  return out;
}
