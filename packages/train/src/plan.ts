import type { Spec } from '@pixel-bert/spec';

/** One stage of an ablation row, in the order it runs (DESIGN.md, "Data flow of the main job"). */
export type Stage =
  | { kind: 'pretrain'; tasks: ('mlm' | 'itm')[]; pixelSampling: number | null; epochs: number; decayEpochs: number[]; batchSize: number; freeze: string[] }
  | { kind: 'vqa' | 'nlvr2' | 'retrieval'; epochs: number; decayEpochs: number[]; batchSize: number; finetuneCnn: boolean; freeze: string[] };

/** A stage's schedule as the plan shows it (`<stage>.freeze` absent: nothing frozen). */
function scheduleOf(s: { epochs: number; decayEpochs: number[]; batchSize: number; freeze?: string[] | undefined }) {
  return { epochs: s.epochs, decayEpochs: s.decayEpochs, batchSize: s.batchSize, freeze: s.freeze ?? [] };
}

/** The stages a resolved spec runs. Row 1 (no pre-training task) goes straight to fine-tuning. */
export function planStages(spec: Spec): Stage[] {
  const stages: Stage[] = [];
  const p = spec.pretrain;
  const tasks = (['mlm', 'itm'] as const).filter((t) => p.tasks[t]);
  if (tasks.length > 0) {
    stages.push({
      kind: 'pretrain',
      tasks: [...tasks],
      pixelSampling: p.pixelSampling.enabled ? p.pixelSampling.count : null,
      ...scheduleOf(p),
    });
  }
  const f = spec.finetune;
  stages.push({ kind: 'vqa', ...scheduleOf(f.vqa), finetuneCnn: true });
  stages.push({ kind: 'nlvr2', ...scheduleOf(f.nlvr2), finetuneCnn: true });
  stages.push({ kind: 'retrieval', ...scheduleOf(f.retrieval), finetuneCnn: f.retrieval.finetuneCnn });
  return stages;
}

/** The stage's schedule, and the parts it leaves untrained (`<stage>.freeze`) where there are any. */
function schedule(s: { epochs: number; decayEpochs: number[]; batchSize: number; freeze: string[] }, factor: number): string {
  const decay = s.decayEpochs.length ? `, lr ×${factor} at epoch ${s.decayEpochs.join(', ')}` : '';
  const frozen = s.freeze.length ? `; frozen: ${s.freeze.join(', ')}` : '';
  return `${s.epochs} epoch${s.epochs === 1 ? '' : 's'}${decay}, batch ${s.batchSize}${frozen}`;
}

/** The plan as a person reads it. */
export function describePlan(spec: Spec): string[] {
  const lines: string[] = [];
  const r = spec.model.run;
  const e = spec.model.encoder;
  lines.push(
    `model: ${r.paper}${r.arch !== r.paper ? ` (runs as ${r.arch} at ${spec.scale} scale)` : ''}, images ${r.image.shortEdge}/${r.image.longEdge}, ` +
      `encoder ${e.layers}×${e.hidden} (${e.heads} heads, FFN ${e.ffn})`,
  );
  lines.push(`data: ${spec.data.source} at ${spec.data.root}; backend: ${spec.backend}`);
  const stages = planStages(spec);
  if (stages[0]?.kind !== 'pretrain') lines.push('  0. pre-training: skipped (no pre-training task in this row)');
  stages.forEach((s, i) => {
    const n = i + 1;
    if (s.kind === 'pretrain') {
      const tasks = s.tasks
        .map((t) => (t === 'mlm' ? `MLM (${+(spec.pretrain.mlm.probability * 100).toFixed(2)} % of tokens${spec.pretrain.tasks.itm && spec.pretrain.mlm.fromEpoch ? `, from epoch ${spec.pretrain.mlm.fromEpoch + 1} on (ITM alone before)` : ''})` : `ITM (${spec.pretrain.itm.negativesPerPositive} negative per positive${spec.pretrain.itm.hard ? `, ${+(spec.pretrain.itm.hard.fraction * 100).toFixed(2)} % hard` : ''}${spec.pretrain.itm.replace === 'image' ? ', replacing the image' : ''}${spec.pretrain.tasks.mlm && spec.pretrain.itm.text === 'unmasked' ? ', on whole captions' : ''})`))
        .join(' + ');
      const sampling = s.pixelSampling === null ? 'all pixels' : `${s.pixelSampling} random pixels per image`;
      lines.push(`  ${n}. pre-train on ${spec.pretrain.datasets.join(' + ')} captions: ${tasks}; ${sampling}; ${schedule(s, spec.optim.decayFactor)}`);
    } else if (s.kind === 'vqa') {
      lines.push(`  ${n}. fine-tune + evaluate VQA: ${spec.finetune.vqa.answerVocabSize} answers; ${schedule(s, spec.optim.decayFactor)}`);
    } else if (s.kind === 'nlvr2') {
      lines.push(`  ${n}. fine-tune + evaluate NLVR²: image pairs, 2-way; ${schedule(s, spec.optim.decayFactor)}`);
    } else {
      const rt = spec.finetune.retrieval;
      lines.push(
        `  ${n}. fine-tune + evaluate retrieval: ${rt.negatives} negatives, ${rt.hardNegatives} hardest back-propagated, ` +
          `${s.finetuneCnn ? 'CNN and Transformer' : 'Transformer only'}; ${schedule(s, spec.optim.decayFactor)}`,
      );
    }
  });
  return lines;
}
