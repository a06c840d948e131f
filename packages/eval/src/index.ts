// Public face of @pixel-bert/eval: metrics; Table 6 from tracked runs (verdicts, reports); run comparison; attention maps.
export * from './metrics';
export { table6 } from './table6/report';
export type { Table6Options, Table6Result } from './table6/report';
export { buildTable, buildTables } from './table6/build';
export type { ScaleTable, TableRow, RunGroup, PerTypeRow } from './table6/build';
export { FINDINGS, VERDICT_ALPHA, NLVR2_CONVERGED_MARGIN, evaluateFindings } from './table6/findings';
export type { Finding, FindingResult, Verdict } from './table6/findings';
export { COLUMNS, PAPER_REFERENCE, RUN_TAGS, RUN_KINDS, DEFAULT_EXPERIMENT } from './table6/definitions';
export { readRowRuns } from './table6/runs';
export type { RowRun } from './table6/runs';
export { summarize, welch, studentTCdf } from './table6/stats';
