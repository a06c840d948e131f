import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MlflowClient, openTracker } from '@pixel-bert/tracking';
import { WORKSPACE_ROOT } from '@pixel-bert/spec';
import { attention } from '../attention/attention';
import { logWeights, writeForcedWeights, writeSyntheticImage } from '../testing/attention-fixture';
import { logRowRun, rowMetrics } from '../testing/row-runs';
import { table6, type Table6Result } from './report';

/**
 * The HTML report in a real browser: Debian's Chromium (apt-get install chromium; .ci/run installs
 * it) driven by playwright-core, which never downloads a browser of its own. Runs go to the real
 * MLflow server; the report's run links are checked against it.
 */
const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = join(WORKSPACE_ROOT, 'packages', 'eval', 'test-output');
const uri = inject('mlflowUri');
const experiment = `eval-report-${Date.now()}-${process.pid}`;
let dir: string;
let browser: Browser;
let result: Table6Result;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's Chromium with apt-get install -y chromium (.ci/run does)`);
  dir = mkdtempSync(join(tmpdir(), 'eval-report-'));
  const tracker = await openTracker({ experiment, uri, runsDir: join(dir, 'runs'), handleProcessEvents: false, log: () => {} });
  const weights = await writeForcedWeights(join(dir, 'model'), [2, 5]);
  const means = { 1: 40, 2: 48, 3: 42, 4: 50, 5: 53, 6: 60 } as const;
  let withWeights = '';
  for (const row of [1, 2, 3, 4, 5, 6] as const) {
    for (const seed of [0, 1]) {
      const run = await logRowRun(tracker, {
        row,
        seed,
        metrics: rowMetrics({ vqa: means[row], tr: means[row] - 20, ir: means[row] - 25, nlvr2: row === 1 || row === 3 ? 50 : 70 }, seed, 0.5),
        stages: row === 4 && seed === 0 ? ['pretrain'] : [],
        onStage: (_stage, r) => logWeights(r, weights),
      });
      if (row === 4 && seed === 0) withWeights = run.id;
    }
  }
  await tracker.close();
  const serverRowRun = tracker.store.readDelivery(withWeights)[uri]!.remoteRunId;
  // The attention grid goes onto the server's row run, and from there into the report.
  const image = join(dir, 'scene.png');
  await writeSyntheticImage(image);
  await attention({ runId: serverRowRun, image, text: 'a red circle', layer: 0, trackingUri: uri, experiment, runsDir: join(dir, 'reader'), env: {} });
  mkdirSync(OUTPUT, { recursive: true });
  result = await table6({ trackingUri: uri, experiment, runsDir: join(dir, 'reader'), out: join(OUTPUT, 'report'), env: {} });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A rendered element is not blank: its screenshot has some spread in some colour channel. */
async function notBlank(png: Buffer): Promise<boolean> {
  const s = await sharp(png).stats();
  return s.channels.slice(0, 3).some((c) => c.stdev > 8);
}

describe('the Table 6 report in Chromium', () => {
  it('loads without console errors, shows six rows, a chart and an attention map that render, and keeps a screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(join(result.out, 'report.html')).href, { waitUntil: 'load' });
    expect(await page.locator('table.table6 tr.table6-row').count()).toBe(6);
    expect(await page.locator('table.table6 tr.table6-row[data-row="3"] td').nth(5).textContent()).toBe('42.25 ± 0.35 (n=2)');
    expect(await page.locator('td.verdict').first().textContent()).toBe('reproduced');
    for (const selector of ['img#chart', 'img.attention']) {
      const img = page.locator(selector).first();
      // (no DOM types in this package's tsconfig: the element is described by what is read of it)
      const size = await img.evaluate((el) => {
        const i = el as unknown as { naturalWidth: number; naturalHeight: number; complete: boolean };
        return { w: i.naturalWidth, h: i.naturalHeight, complete: i.complete };
      });
      expect(size.complete).toBe(true);
      expect(size.w).toBeGreaterThan(100);
      expect(await notBlank(await img.screenshot())).toBe(true);
    }
    expect(await page.locator('figcaption').filter({ hasText: 'attention/a-red-circle-l0-mean.png' }).count()).toBe(1);
    const shot = join(OUTPUT, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    writeFileSync(join(OUTPUT, 'SCREENSHOT'), `${shot}\n`);
    console.log(`[eval] report screenshot: ${shot}`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('every run link resolves against the MLflow server: the UI page opens and the API knows the run', async () => {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(join(result.out, 'report.html')).href);
    const links = await page.locator('a.run-link').evaluateAll((as) => as.map((a) => ({ href: (a as unknown as { href: string }).href, text: a.textContent ?? '' })));
    expect(links).toHaveLength(12);
    const client = new MlflowClient(uri);
    for (const l of links) {
      expect(l.href.startsWith(uri.replace(/\/+$/, '') + '/#/experiments/')).toBe(true);
      const run = await client.getRun(l.href.split('/runs/')[1]!);
      expect(l.text.startsWith(run.info.runName)).toBe(true);
    }
    // Open one in the MLflow UI itself: the page answers and names the run.
    const first = links[0]!;
    const ui = await page.goto(first.href, { waitUntil: 'domcontentloaded' });
    expect(ui?.ok()).toBe(true);
    await page.getByText(first.text.split(' ')[0]!).first().waitFor({ timeout: 90_000 });
    await page.close();
  });
});
