import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTracker, type Tracker } from '@pixel-bert/tracking';
import { hotSpot, logWeights, writeForcedWeights, writeSyntheticImage } from '../testing/attention-fixture';
import { runEvalCli } from '../testing/cli';
import { logRowRun } from '../testing/row-runs';
import { attention } from './attention';
import { gridLayout, renderAttentionGrid, upsample } from './grid';

const TARGET: [number, number] = [2, 5]; // feature cell (row, column): image pixels y 16–23, x 40–47

let dir: string;
let runsDir: string;
let tracker: Tracker;
let rowRunId: string;
let stageRunId: string;
let image: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eval-attention-'));
  runsDir = join(dir, 'runs');
  tracker = await openTracker({ experiment: 'pixel-bert', uri: null, runsDir, handleProcessEvents: false });
  const files = await writeForcedWeights(join(dir, 'model'), TARGET);
  const row = await logRowRun(tracker, {
    row: 4,
    seed: 0,
    metrics: {},
    stages: ['init-text', 'pretrain', 'vqa'],
    onStage: (stage, run) => {
      if (stage === 'pretrain') {
        logWeights(run, files);
        stageRunId = run.id;
      }
    },
  });
  rowRunId = row.id;
  image = join(dir, 'scene.png');
  await writeSyntheticImage(image);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the attention grid', () => {
  it('puts a one-hot attention map on its feature cell, for each word, and leaves the image tile plain', async () => {
    const rgb = new Uint8Array(64 * 64 * 3).fill(128);
    const oneHot = (cell: [number, number]) => {
      const w = new Float32Array(64).fill(0.001);
      w[cell[0] * 8 + cell[1]] = 0.9;
      return w;
    };
    const png = await renderAttentionGrid({ rgb, width: 64, height: 64, grid: [8, 8], stride: 8, title: 'test', maps: [{ word: 'a', weights: oneHot([2, 5]) }, { word: 'b', weights: oneHot([6, 1]) }] });
    const L = gridLayout(2, 64, 64);
    const tile: [number, number] = [L.tileWidth, L.tileHeight];
    const a = await hotSpot(png, L.tileOrigin(1), tile, [64, 64]);
    const b = await hotSpot(png, L.tileOrigin(2), tile, [64, 64]);
    expect(a.x).toBeCloseTo(44, 0); // cell (2, 5)'s centre: x = 5·8 + 4, y = 2·8 + 4
    expect(a.y).toBeCloseTo(20, 0);
    expect(b.x).toBeCloseTo(12, 0);
    expect(b.y).toBeCloseTo(52, 0);
    expect((await hotSpot(png, L.tileOrigin(0), tile, [64, 64])).count).toBe(0);
  });

  it('upsamples bilinearly between cell centres, scaled between the smallest and largest weight; cells not in the sequence count as 0', () => {
    const w = new Float32Array([0, 2, NaN, 1]); // 2×2 grid, stride 2 → 4×4 image
    const up = upsample(w, [2, 2], 2, 4, 4);
    expect(up[0 * 4 + 3]).toBeCloseTo(1, 6); // top-right corner: cell (0, 1), the maximum
    expect(up[3 * 4 + 3]).toBeCloseTo(0.5, 6); // bottom-right: cell (1, 1) = 1/2
    expect(up[3 * 4 + 0]).toBeCloseTo(0, 6); // bottom-left: NaN → 0
    expect(up[1 * 4 + 1]).toBeCloseTo(0.75 * 0.25 * 1 + 0.25 * 0.25 * 0.5 + 0.75 * 0.75 * 0 + 0.25 * 0.75 * 0, 6);
    expect(() => upsample(new Float32Array(3), [2, 2], 2, 4, 4)).toThrow(/3 cells, the grid 2×2 has 4/);
    // Scaled between the smallest and largest weight: an offset changes nothing, a flat map is all 0.
    expect(upsample(new Float32Array([0.5, 2.5, NaN, 1.5]), [2, 2], 2, 4, 4)[3 * 4 + 3]).toBeCloseTo(0.5, 6);
    expect(Math.max(...upsample(new Float32Array(4).fill(0.25), [2, 2], 2, 4, 4))).toBe(0);
  });
});

describe('eval:attention', () => {
  it("takes a row run's pretrain weights, finds the known attention pattern and draws it where it is, logged on the run", async () => {
    const r = await attention({ runId: rowRunId, image, text: 'a red circle', layer: 0, head: 'mean', trackingUri: null, runsDir, env: {} });
    expect(r.weightsRun.runId).toBe(stageRunId);
    expect(r.words).toEqual(['a', 'red', 'circle']);
    expect(r.grid).toEqual([8, 8]);
    for (const m of r.maps) {
      const best = m.weights.indexOf(Math.max(...m.weights));
      expect(best).toBe(TARGET[0] * 8 + TARGET[1]);
      expect(m.weights[best]).toBeGreaterThan(0.9);
    }
    const L = gridLayout(3, 64, 64);
    for (let k = 1; k <= 3; k++) {
      const spot = await hotSpot(r.png, L.tileOrigin(k), [L.tileWidth, L.tileHeight], [64, 64]);
      expect(spot.x).toBeGreaterThanOrEqual(40);
      expect(spot.x).toBeLessThan(48);
      expect(spot.y).toBeGreaterThanOrEqual(16);
      expect(spot.y).toBeLessThan(24);
    }
    expect(r.artifactPath).toBe('attention/a-red-circle-l0-mean.png');
    const logged = tracker.store.readRun(rowRunId);
    expect(logged.tornTail).toBe(false);
    expect(logged.artifacts.map((a) => a.path)).toContain('attention/a-red-circle-l0-mean.png');
    expect(new Uint8Array(readFileSync(tracker.store.artifactFile(rowRunId, r.artifactPath!)))).toEqual(r.png);
    expect(logged.run.status).toBe('FINISHED');
  });

  it('a stage reused from the run cache is followed to the run that computed it; a row without weights says so', async () => {
    const reusing = await logRowRun(tracker, {
      row: 5,
      seed: 0,
      metrics: {},
      stages: ['pretrain', 'vqa'],
      onStage: (stage, run) => {
        if (stage === 'pretrain') run.setTag('pixelbert.reusedFrom', stageRunId);
      },
    });
    const r = await attention({ runId: reusing.id, image, text: 'blue', layer: 0, trackingUri: null, runsDir, env: {}, log: false });
    expect(r.weightsRun.runId).toBe(stageRunId);
    const bare = await logRowRun(tracker, { row: 1, seed: 0, metrics: {}, stages: ['vqa'] });
    await expect(attention({ runId: bare.id, image, text: 'blue', trackingUri: null, runsDir, env: {} })).rejects.toThrow(
      /row run row1-seed0-smoke \([0-9a-f]{32}\) has no stage with weights: looked for model\/weights\.safetensors on its 1 stage run\(s\) \(vqa\)/,
    );
  });

  it('a single head and a word-piece word: the pieces are averaged, [UNK] words are marked', async () => {
    const r = await attention({ runId: stageRunId, image, text: 'red squares zebra', layer: 0, head: 1, trackingUri: null, runsDir, env: {}, log: false });
    expect(r.words).toEqual(['red', 'squares', 'zebra']);
    expect(r.maps.map((m) => m.word)).toEqual(['red', 'squares', 'zebra [UNK]']);
    expect(r.maps[1]!.weights.indexOf(Math.max(...r.maps[1]!.weights))).toBe(TARGET[0] * 8 + TARGET[1]);
    expect(r.artifactPath).toBeNull();
  });

  it('the CLI writes the PNG; bad input exits 2 saying what, where and what would be right, and writes nothing', async () => {
    const env = { PIXEL_BERT_RUNS_DIR: runsDir };
    const out = join(dir, 'cli.png');
    const ok = runEvalCli('attention', [`--run=${rowRunId}`, `--image=${image}`, '--text=blue square', '--layer=0', `--out=${out}`, '--no-log'], env);
    expect(ok.stderr + ok.stdout).toMatch(/wrote /);
    expect(ok.code).toBe(0);
    expect(existsSync(out)).toBe(true);

    const bad = (args: string[]) => runEvalCli('attention', [`--out=${join(dir, 'bad.png')}`, ...args], env);
    const noImage = bad([`--run=${rowRunId}`, `--image=${join(dir, 'missing.png')}`, '--text=a']);
    expect(noImage.code).toBe(2);
    expect(noImage.stderr).toMatch(/--image=.*missing\.png: no such file \(give the path of a JPEG or PNG image\)/);
    const notImage = join(dir, 'notes.png');
    writeFileSync(notImage, 'this is text, not an image');
    const garbage = bad([`--run=${rowRunId}`, `--image=${notImage}`, '--text=a red circle']);
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toMatch(/--image=.*notes\.png: not an image this workbench can read .*give a JPEG or PNG/);
    const unknownWords = bad([`--run=${rowRunId}`, `--image=${image}`, '--text=zebra xylophone']);
    expect(unknownWords.code).toBe(2);
    expect(unknownWords.stderr).toMatch(/none of its words is in the vocabulary of run row4-seed0-smoke\/pretrain .*13 tokens/);
    const unknownRun = bad(['--run=0123456789abcdef0123456789abcdef', `--image=${image}`, '--text=a']);
    expect(unknownRun.code).toBe(2);
    expect(unknownRun.stderr).toMatch(/no run '0123456789abcdef0123456789abcdef' in local store/);
    const badLayer = bad([`--run=${rowRunId}`, `--image=${image}`, '--text=a', '--layer=5']);
    expect(badLayer.code).toBe(2);
    expect(badLayer.stderr).toMatch(/--layer=5: the model has layers 0…1/);
    expect(existsSync(join(dir, 'bad.png'))).toBe(false);
    // Nothing was logged by the failures: the run has only the artifacts of the first test.
    expect(tracker.store.readRun(rowRunId).artifacts.filter((a) => a.path.startsWith('attention/')).map((a) => a.path)).toEqual(['attention/a-red-circle-l0-mean.png']);
  });
});
