/**
 * eval:table6 as a function: read row runs, build the tables, render every output in memory, write
 * them at once, and log them as artifacts of a `table6` run.
 */
import { resolve } from 'node:path';
import { TAGS, type Tracker } from '@pixel-bert/tracking';
import { writeFolderAtomic } from '../output';
import { EvalError, listRunArtifacts, openForReading, readRunArtifact, type TrackerChoice } from '../store';
import { buildTables, type ScaleTable } from './build';
import { renderChartSvg, svgToPng } from './chart';
import { RUN_KINDS, RUN_TAGS } from './definitions';
import { renderHtml, type AttentionImage } from './html';
import { renderCsv, renderMarkdown, toJson } from './render';
import { readRowRuns, runLink, type RowRun } from './runs';

export interface Table6Options extends TrackerChoice {
  scale?: string;
  /** Output folder (replaced whole). */
  out: string;
  /** Log the outputs as artifacts of a `table6` run (default true). */
  log?: boolean;
}

export interface Table6Result {
  tables: ScaleTable[];
  markdown: string;
  out: string;
  files: string[];
  /** Id of the `table6` run the outputs were logged to (local store id), and its UI link when known. */
  runId: string | null;
  runLink: string | null;
}

/** Attention grids (`attention/*.png`) logged on the counted row runs, newest runs first, at most one per row and scale. */
async function attentionImages(tracker: Tracker, tables: ScaleTable[]): Promise<AttentionImage[]> {
  const out: AttentionImage[] = [];
  for (const t of tables) {
    for (const r of t.rows) {
      const runs: RowRun[] = [...(r.group?.runs ?? [])].sort((a, b) => b.startTime - a.startTime);
      for (const run of runs) {
        const pngs = (await listRunArtifacts(tracker, run, 'attention')).filter((p) => p.endsWith('.png'));
        if (pngs.length === 0) continue;
        const path = pngs.at(-1)!;
        out.push({ caption: `${run.runName}: ${path}`, png: await readRunArtifact(tracker, run, path), link: run.link });
        break;
      }
    }
  }
  return out;
}

export async function table6(opts: Table6Options): Promise<Table6Result> {
  const { tracker, uri, experiment } = await openForReading(opts);
  const rowRuns = await readRowRuns(tracker, { scale: opts.scale });
  const where = uri ? `the MLflow server ${uri}` : `the local store ${tracker.runsDir}`;
  if (rowRuns.length === 0) {
    throw new EvalError(
      `no row runs found in ${where}, experiment '${experiment}': looked for runs tagged ${RUN_TAGS.kind}=row` +
        `${opts.scale ? ` and ${TAGS.scale}=${opts.scale}` : ''} (docs/runs.md). ` +
        `Train some with npx nx run train:ablation --row=N${opts.scale ? ` --scale=${opts.scale}` : ''}` +
        `${uri ? '' : ', or point at a server with --tracking-uri=URI'}. Nothing was written.`,
    );
  }
  const tables = buildTables(rowRuns);
  const generatedAt = new Date().toISOString();
  const source = `${where}, experiment '${experiment}'${opts.scale ? `, scale ${opts.scale}` : ''}`;
  const markdown = renderMarkdown(tables, { source });
  const svg = await renderChartSvg(tables);
  const png = await svgToPng(svg);
  const attention = await attentionImages(tracker, tables);
  const html = renderHtml({ tables, source, generatedAt, chartPng: png, attention });
  const json = JSON.stringify(toJson(tables, { generatedAt, source, experiment, trackingUri: uri, scale: opts.scale ?? null }), null, 2) + '\n';
  const files: Record<string, string | Uint8Array> = {
    'table6.md': markdown,
    'table6.csv': renderCsv(tables),
    'table6.json': json,
    'table6.svg': svg,
    'table6.png': png,
    'report.html': html,
  };
  const out = resolve(opts.out);
  writeFolderAtomic(out, files);

  let runId: string | null = null;
  let link: string | null = null;
  if (opts.log !== false) {
    const run = tracker.startRun({
      runName: `table6-${opts.scale ?? 'all'}`,
      tags: { [RUN_TAGS.kind]: RUN_KINDS.table6, ...(opts.scale ? { [TAGS.scale]: opts.scale } : {}) },
      params: { source, rowRuns: rowRuns.length },
    });
    for (const [name, data] of Object.entries(files)) run.logArtifact(`table6/${name}`, typeof data === 'string' ? new TextEncoder().encode(data) : data);
    await run.end('FINISHED');
    runId = run.id;
    if (uri && run.remoteRunId) {
      const expId = await tracker.client!.getExperimentIdByName(experiment);
      if (expId) link = runLink(uri, expId, run.remoteRunId);
    }
  }
  await tracker.close();
  return { tables, markdown, out, files: Object.keys(files), runId, runLink: link };
}
