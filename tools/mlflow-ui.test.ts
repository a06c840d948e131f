// The MLflow UI as users see it: the real UI of the test MLflow server in headless Chromium
// (Debian's chromium driven by playwright-core; no browser is downloaded). Two row runs with their
// stage runs are logged through @pixel-bert/tracking as training names them (docs/runs.md); the
// test finds the experiment, checks the parent/child nesting in the runs table, opens the compare
// view of the two rows and checks that the params that differ and the test metrics are shown.
// Screenshots: test-output/mlflow-ui/ (gitignored).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadRowSpec } from '@pixel-bert/spec';
import { openTracker, TAGS } from '@pixel-bert/tracking';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const CHROMIUM = process.env.PIXEL_BERT_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-output', 'mlflow-ui');
// Outside CI a machine without Chromium skips this test (saying so); CI installs it and must run it.
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && !process.env.CI) console.warn(`mlflow-ui.test: skipped, ${CHROMIUM} not found (Debian: apt-get install chromium)`);

let uri = '';
let ownServer = false;
let browser: Browser | undefined;
let runsDir = '';
const experiment = `ui-e2e-${Date.now()}`;
const ROWS = [2, 4] as const; // MLM vs MLM + ITM: they differ in pretrain.tasks.itm
const score = (row: number) => 40 + row; // stand-in test metrics, distinct per row

beforeAll(async () => {
  if (!haveChromium && !process.env.CI) return;
  uri = process.env.PIXEL_BERT_TEST_MLFLOW_URI ?? '';
  if (!uri) {
    const { stdout } = await exec(path.join(ROOT, 'tools', 'mlflow-server'), ['start', '--name', 'vitest-ui'], { maxBuffer: 1 << 20 });
    uri = stdout.trim().split('\n').pop()!;
    ownServer = true;
  }
  // Two row runs, each with its six stage runs, named and tagged as docs/runs.md says.
  runsDir = mkdtempSync(path.join(tmpdir(), 'pixel-bert-ui-runs-'));
  const tracker = await openTracker({ experiment, uri, runsDir, handleProcessEvents: false });
  for (const row of ROWS) {
    const r = loadRowSpec({ row, scale: 'smoke', seed: 0 });
    const name = `row${row}-seed0-smoke`;
    const tags = { [TAGS.row]: String(row), [TAGS.seed]: '0', [TAGS.scale]: 'smoke', [TAGS.specHash]: r.hash, [TAGS.backend]: 'cpu' };
    const parent = tracker.startRun({ runName: name, tags: { ...tags, 'pixelbert.kind': 'row' } });
    parent.logSpec(r.spec, r.yaml);
    const finals: Record<string, number> = {};
    for (const stage of ['init-backbone', 'init-text', 'pretrain', 'vqa', 'nlvr2', 'retrieval']) {
      const child = tracker.startRun({ runName: `${name}/${stage}`, parentRunId: parent.id, tags: { ...tags, 'pixelbert.kind': 'stage', [TAGS.stage]: stage } });
      for (let step = 0; step < 3; step++) child.logMetric('train.loss', 2 / (step + 1), step);
      const test: Record<string, number> =
        stage === 'vqa' ? { 'vqa.test.score': score(row), 'vqa.test.score_se': 1.5 } : stage === 'nlvr2' ? { 'nlvr2.test.accuracy': 50 + row } : stage === 'retrieval' ? { 'retrieval.test.ir_r1': 10 + row } : {};
      child.logMetrics(test, 0);
      Object.assign(finals, test);
      await child.end();
    }
    parent.logMetrics(finals, 0);
    await parent.end();
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (runsDir) rmSync(runsDir, { recursive: true, force: true });
  if (ownServer && process.env.PIXEL_BERT_TEST_KEEP_SERVERS !== '1') await exec(path.join(ROOT, 'tools', 'mlflow-server'), ['stop', '--name', 'vitest-ui']).catch(() => {});
});

describe.runIf(haveChromium || process.env.CI)('the MLflow UI (headless Chromium)', () => {
  it('finds the experiment, nests stage runs under row runs, and compares two rows: differing params and test metrics', async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    const page: Page = await browser!.newPage({ viewport: { width: 1600, height: 1000 } });
    page.setDefaultTimeout(30_000);
    const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
    try {
      // The experiments list; "Model training" is the UI's view of training runs (its default is GenAI).
      await page.goto(`${uri}/#/experiments`);
      await page.getByText('Model training', { exact: true }).click();
      // The assistant side panel opens by itself; close it as a user would, for the screenshots.
      await page.getByRole('button', { name: /close/i }).first().click({ timeout: 5000 }).catch(() => {});
      await page.getByPlaceholder('Search experiments').fill(experiment);
      await page.keyboard.press('Enter');
      await shot('1-experiments');
      await page.getByRole('link', { name: experiment, exact: true }).click();

      // The runs table: the row runs at the top level, their stage runs folded under them.
      const parentName = (row: number) => `row${row}-seed0-smoke`;
      await page.getByText(parentName(4), { exact: true }).waitFor();
      await page.getByText(parentName(2), { exact: true }).waitFor();
      const vqaChild = page.getByText(`${parentName(2)}/vqa`, { exact: true });
      expect(await vqaChild.count()).toBe(0); // folded
      const runNameCell = (name: string) => page.locator('[role=gridcell][col-id="attributes.`Run Name`"]', { has: page.getByText(name, { exact: true }) });
      const expander = runNameCell(parentName(2)).getByRole('button').first();
      await expander.click();
      for (const stage of ['init-backbone', 'init-text', 'pretrain', 'vqa', 'nlvr2', 'retrieval']) await page.getByText(`${parentName(2)}/${stage}`, { exact: true }).waitFor();
      expect(await page.getByText(`${parentName(4)}/vqa`, { exact: true }).count()).toBe(0); // only the opened row shows its stages
      await shot('2-runs-nested');
      await expander.click(); // fold again: selecting an open row also selects its stage runs
      await vqaChild.waitFor({ state: 'hidden' });

      // Select both row runs and compare them.
      for (const row of ROWS) {
        const index = await page.locator('.ag-row', { has: page.getByText(parentName(row), { exact: true }) }).first().getAttribute('row-index');
        await page.locator(`.ag-pinned-left-cols-container .ag-row[row-index="${index}"] input.ag-checkbox-input`).check();
      }
      await shot('3-runs-selected');
      await page.getByRole('button', { name: 'Compare', exact: true }).click();
      await page.waitForURL(/#\/compare-runs\?/);
      await page.getByText('Run details').waitFor();

      // Params: with "Show diff only" on, just what makes row 2 and row 4 differ.
      await page.getByRole('switch').first().click(); // the Parameters section's "Show diff only"
      // The compare view lays keys and values out in separate grids: read a line as the eye does,
      // the texts right of the key on the same height, left to right.
      const line = async (key: ReturnType<Page['getByText']>) => {
        await key.scrollIntoViewIfNeeded();
        // Runs in the page; typed loosely, as this package compiles without the DOM's types.
        return key.evaluate((k: any): string[] => {
          const box = k.getBoundingClientRect();
          const mid = box.top + box.height / 2;
          const leaves: any[] = [...(globalThis as any).document.querySelectorAll('body *')].filter((e: any) => e.children.length === 0 && e.innerText?.trim());
          return leaves
            .map((e) => ({ text: e.innerText.trim() as string, r: e.getBoundingClientRect() }))
            .filter(({ r }) => r.left >= box.right && Math.abs(r.top + r.height / 2 - mid) < 4)
            .sort((a, b) => a.r.left - b.r.left)
            .map(({ text }) => text);
        });
      };
      // Columns are the two row runs, in the order the page shows them.
      let columns: string[] = [];
      await expect.poll(async () => (columns = await line(page.getByText('Run Name:', { exact: true })))).toHaveLength(2);
      expect([...columns].sort()).toEqual([parentName(2), parentName(4)]);
      const byColumn = (values: Record<number, string | number>) => columns.map((c) => String(values[Number(/^row(\d)/.exec(c)![1])]));
      const param = (key: string) => page.getByText(key, { exact: true }).last(); // the plots' pickers name params first
      const metric = (key: string) => page.getByRole('link', { name: key, exact: true });
      await expect.poll(() => line(param('pretrain.tasks.itm'))).toEqual(byColumn({ 2: 'false', 4: 'true' }));
      await expect.poll(() => line(param('name'))).toEqual(byColumn({ 2: 'table6-row2', 4: 'table6-row4' }));
      expect(await page.getByText('model.encoder.hidden', { exact: true }).count()).toBe(0); // equal params are hidden
      // Metrics: the test metrics of both rows.
      for (const [key, a, b] of [['vqa.test.score', score(2), score(4)], ['nlvr2.test.accuracy', 52, 54], ['retrieval.test.ir_r1', 12, 14]] as const) {
        await expect.poll(() => line(metric(key))).toEqual(byColumn({ 2: a, 4: b }));
      }
      await shot('4-compare');
    } catch (e) {
      await shot('failure').catch(() => {});
      throw e;
    } finally {
      await page.close();
    }
  }, 180_000);
});
