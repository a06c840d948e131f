// Rasterises a scene into a raw RGB buffer (row-major, 3 bytes per pixel) and encodes it as PNG
// with sharp. Everything here is integer/float arithmetic on the CPU with no platform-dependent
// calls, so the same scene gives the same pixels everywhere; PNG bytes are then a function of the
// pixels and the (pinned) libvips/zlib build that ships with sharp.

import sharp from 'sharp';
import { insideShape, type Scene } from './world';

/** 2×2 supersampling: enough to anti-alias outlines so shapes are not reduced to blocky masks at 64×64. */
const SUB = [0.25, 0.75] as const;

export function renderScene(scene: Scene): Buffer {
  const { width: W, height: H, background } = scene;
  const px = new Float32Array(W * H * 3);
  // Background: the base colour with a gentle vertical gradient (real photos are never flat).
  for (let y = 0; y < H; y++) {
    const shade = 1 + 0.08 * (y / H - 0.5);
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      px[i] = background[0] * shade;
      px[i + 1] = background[1] * shade;
      px[i + 2] = background[2] * shade;
    }
  }
  // Stripe period ≈ 1/20 of the side (≥ 3 px) so stripes survive the 8×8 pooled grid as texture.
  const period = Math.max(3, Math.round(W / 20));
  for (const o of scene.objects) {
    const x0 = Math.max(0, Math.floor(o.cx - o.r) - 1);
    const x1 = Math.min(W - 1, Math.ceil(o.cx + o.r) + 1);
    const y0 = Math.max(0, Math.floor(o.cy - o.r) - 1);
    const y1 = Math.min(H - 1, Math.ceil(o.cy + o.r) + 1);
    const dark: [number, number, number] = [o.rgb[0] * 0.5, o.rgb[1] * 0.5, o.rgb[2] * 0.5];
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        let cover = 0;
        for (const sy of SUB) {
          for (const sx of SUB) {
            if (insideShape(o.shape, (x + sx - o.cx) / o.r, (y + sy - o.cy) / o.r)) cover++;
          }
        }
        if (cover === 0) continue;
        const a = cover / 4;
        const striped = o.texture === 'striped' && Math.floor((x + y) / period) % 2 === 1;
        const c = striped ? dark : o.rgb;
        const i = (y * W + x) * 3;
        px[i] = (px[i] as number) * (1 - a) + c[0] * a;
        px[i + 1] = (px[i + 1] as number) * (1 - a) + c[1] * a;
        px[i + 2] = (px[i + 2] as number) * (1 - a) + c[2] * a;
      }
    }
  }
  const out = Buffer.alloc(W * H * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(px[i] as number)));
  return out;
}

/** PNG bytes of a raw RGB buffer. No metadata is written, so the bytes depend on the pixels only. */
export async function encodePng(rgb: Buffer, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: false, palette: false })
    .toBuffer();
}
