// What train:ablation and train:init share after parsing: run the row, turn its outcome into an exit
// code and a closing message (where the runs are, how to open them, how to resume).
import type { ResolvedSpec } from '@pixel-bert/spec';
import { DEFAULT_EXPERIMENT, runRow } from '../row';
import type { StageKind } from '../runner/types';
import { formatMetrics } from '../runner/runner';
import { cacheDir, checkpointDir, trackingDir } from '../runner/paths';
import { Interrupted, StageFailed } from '../runner/signals';

export async function runRowCli(o: { resolved: ResolvedSpec; experiment?: string; force?: boolean; initOnly?: boolean; until?: StageKind }): Promise<number> {
  const experiment = o.experiment ?? process.env.PIXEL_BERT_EXPERIMENT ?? DEFAULT_EXPERIMENT;
  const t0 = performance.now();
  try {
    const r = await runRow({ resolved: o.resolved, experiment, force: Boolean(o.force), initOnly: Boolean(o.initOnly), ...(o.until ? { until: o.until } : {}) });
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(`\n== ${r.runName}: ${r.alreadyDone ? 'already finished' : `finished in ${secs} s`}`);
    for (const s of r.stages) console.log(`  ${s.kind.padEnd(14)} ${s.reused ? 'reused from the run cache' : `${s.seconds} s`}  (stage ${s.hash})`);
    const finals = Object.fromEntries(Object.entries(r.metrics).filter(([k]) => /\.test\.(score|accuracy|consistency|tr_r1|ir_r1|chance)$|^pretrain\.val\./.test(k)));
    if (Object.keys(finals).length) console.log(`  ${formatMetrics(finals)}`);
    console.log(`runs: experiment '${experiment}', parent run ${r.parentRunId} in the local store ${trackingDir()}`);
    console.log(`run cache: ${cacheDir()}; checkpoints (of unfinished stages): ${checkpointDir()}`);
    const uri = process.env.MLFLOW_TRACKING_URI;
    console.log(
      uri
        ? `MLflow: the runs were sent to ${uri} as they were logged (open it in a browser); anything the server did not take stays in the local journal — deliver it with npx nx run tracking:sync --to=${uri}`
        : `open them in MLflow: tools/mlflow-server start, then npx nx run tracking:sync --to=$(tools/mlflow-server url), and open that URL`,
    );
    return 0;
  } catch (e) {
    const err = e as Error;
    if (e instanceof Interrupted) {
      console.error(`\nstopped by ${e.signal}; the run is marked KILLED and its stage checkpointed. Resume: run the same command again.`);
      return e.signal === 'SIGINT' ? 130 : 143;
    }
    if (e instanceof StageFailed) {
      console.error(`\nerror: ${err.message}\nThe stage's run is marked FAILED; its last checkpoint is kept in ${checkpointDir()}.`);
      return 1;
    }
    if (err.name === 'StageInputError' || err.name === 'SpecError') {
      console.error(`\nerror: ${err.message}`);
      return 2;
    }
    throw e;
  }
}
