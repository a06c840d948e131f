/**
 * What Table 6 is made of: the names docs/runs.md fixes for row runs, the six rows' toggles, the
 * metric columns, and the paper's reference numbers (as data, with their source).
 */

/** Tags of the naming contract (docs/runs.md) that `@pixel-bert/tracking`'s TAGS does not name. */
export const RUN_TAGS = {
  kind: 'pixelbert.kind',
  codeVersion: 'pixelbert.codeVersion',
  stageHash: 'pixelbert.stageHash',
  reusedFrom: 'pixelbert.reusedFrom',
  weightsPath: 'pixelbert.weightsPath',
} as const;

export const RUN_KINDS = { row: 'row', stage: 'stage', table6: 'table6' } as const;

/** The experiment runs go to unless --experiment / $PIXEL_BERT_EXPERIMENT names another (docs/runs.md). */
export const DEFAULT_EXPERIMENT = 'pixel-bert';

/** Params (the flattened resolved spec) that say what a row switches on. */
export const TOGGLE_PARAMS = {
  mlm: 'pretrain.tasks.mlm',
  itm: 'pretrain.tasks.itm',
  sampling: 'pretrain.pixelSampling.enabled',
  backbone: 'model.backbone',
  arch: 'model.run.arch',
} as const;

export interface Toggles {
  mlm: boolean | null;
  itm: boolean | null;
  sampling: boolean | null;
  /** The paper's backbone (resnet50 | resnext152). */
  backbone: string | null;
  /** What ran in its place at this scale (model.run.arch), when recorded. */
  arch: string | null;
}

export const ROW_NUMBERS = [1, 2, 3, 4, 5, 6] as const;
export type RowNumber = (typeof ROW_NUMBERS)[number];

/** Table 6's rows as experiments/table6/row<N>.yaml define them. */
export const CANONICAL_TOGGLES: Record<RowNumber, Omit<Toggles, 'arch'>> = {
  1: { mlm: false, itm: false, sampling: false, backbone: 'resnet50' },
  2: { mlm: true, itm: false, sampling: false, backbone: 'resnet50' },
  3: { mlm: false, itm: true, sampling: false, backbone: 'resnet50' },
  4: { mlm: true, itm: true, sampling: false, backbone: 'resnet50' },
  5: { mlm: true, itm: true, sampling: true, backbone: 'resnet50' },
  6: { mlm: true, itm: true, sampling: true, backbone: 'resnext152' },
};

export interface Column {
  key: string;
  /** Final test metric name (docs/runs.md), in percent. */
  metric: string;
  label: string;
  /** Shown in the printed table (the rest only in CSV / JSON / HTML). */
  main: boolean;
}

export const COLUMNS: readonly Column[] = [
  { key: 'vqa', metric: 'vqa.test.score', label: 'VQA', main: true },
  { key: 'tr_r1', metric: 'retrieval.test.tr_r1', label: 'TR R@1', main: true },
  { key: 'ir_r1', metric: 'retrieval.test.ir_r1', label: 'IR R@1', main: true },
  { key: 'nlvr2', metric: 'nlvr2.test.accuracy', label: 'NLVR²', main: true },
  { key: 'tr_r5', metric: 'retrieval.test.tr_r5', label: 'TR R@5', main: false },
  { key: 'tr_r10', metric: 'retrieval.test.tr_r10', label: 'TR R@10', main: false },
  { key: 'ir_r5', metric: 'retrieval.test.ir_r5', label: 'IR R@5', main: false },
  { key: 'ir_r10', metric: 'retrieval.test.ir_r10', label: 'IR R@10', main: false },
  { key: 'nlvr2_consistency', metric: 'nlvr2.test.consistency', label: 'NLVR² consistency', main: false },
  { key: 'mlm_accuracy', metric: 'pretrain.val.mlm_accuracy', label: 'MLM acc (pre-train val)', main: false },
  { key: 'itm_accuracy', metric: 'pretrain.val.itm_accuracy', label: 'ITM acc (pre-train val)', main: false },
  { key: 'mlm_accuracy_other_image', metric: 'pretrain.val.mlm_accuracy_other_image', label: 'MLM acc, another image (pre-train val)', main: false },
  // How plainly the pixel stream carries colour / shape after the first layer (generated worlds; docs/runs.md)
  { key: 'pixels_colour_layer1', metric: 'pretrain.pixels.colour.layer1', label: 'pixel colour, layer 1 (nearest mean)', main: false },
  { key: 'pixels_shape_layer1', metric: 'pretrain.pixels.shape.layer1', label: 'pixel shape, layer 1 (nearest mean)', main: false },
];

export type ColumnKey = 'vqa' | 'tr_r1' | 'ir_r1' | 'nlvr2';

/** Per-type metrics (docs/runs.md): `<prefix>.<type>`. */
export const PER_TYPE_METRICS = [
  { task: 'VQA', prefix: 'vqa.test.score' },
  { task: 'NLVR²', prefix: 'nlvr2.test.accuracy' },
  { task: 'IR R@1', prefix: 'retrieval.test.ir_r1' },
] as const;

/** Chance level of NLVR² (two classes), docs/runs.md. */
export const NLVR2_CHANCE = 50;

/** Where the reference numbers come from. */
export const PAPER_SOURCE = 'Huang et al. 2020 (arXiv 2004.00849), Tables 2–5';

export interface ReferenceValue {
  column: ColumnKey;
  /** Which split / dataset the number is on. */
  on: string;
  r50: number;
  x152: number;
  source: string;
}

/**
 * The paper's full-model results (Pixel-BERT with ResNet-50 / ResNeXt-152), Huang et al. 2020,
 * arXiv 2004.00849, Tables 2–5. They are the paper's final models, i.e. Table 6's rows 5 and 6
 * at `paper` scale; Table 6's retrieval columns are Flickr30K.
 */
export const PAPER_REFERENCE: readonly ReferenceValue[] = [
  { column: 'vqa', on: 'VQA 2.0 test-dev', r50: 71.35, x152: 74.45, source: 'Huang et al. 2020 (arXiv 2004.00849), Table 2' },
  { column: 'nlvr2', on: 'NLVR² dev', r50: 71.7, x152: 76.5, source: 'Huang et al. 2020 (arXiv 2004.00849), Table 3' },
  { column: 'nlvr2', on: 'NLVR² test-P', r50: 72.4, x152: 77.2, source: 'Huang et al. 2020 (arXiv 2004.00849), Table 3' },
  { column: 'tr_r1', on: 'Flickr30K TR R@1', r50: 75.7, x152: 87.0, source: 'Huang et al. 2020 (arXiv 2004.00849), Table 4' },
  { column: 'ir_r1', on: 'Flickr30K IR R@1', r50: 53.4, x152: 71.5, source: 'Huang et al. 2020 (arXiv 2004.00849), Table 4' },
  { column: 'tr_r1', on: 'MS-COCO 5K TR R@1', r50: 59.8, x152: 63.6, source: 'Huang et al. 2020 (arXiv 2004.00849), Table 5' },
  { column: 'ir_r1', on: 'MS-COCO 5K IR R@1', r50: 41.1, x152: 50.1, source: 'Huang et al. 2020 (arXiv 2004.00849), Table 5' },
];

/** The reference row each Table 6 row at paper scale sits beside (rows 5 and 6 are the full models). */
export const REFERENCE_FOR_ROW: Partial<Record<RowNumber, 'r50' | 'x152'>> = { 5: 'r50', 6: 'x152' };
