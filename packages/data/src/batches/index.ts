// Batch builders: MLM masking, ITM negatives, VQA soft targets, NLVR² pairs, retrieval groups and
// full-ranking evaluation batches; all randomness from (seed, epoch, step).
export * from './text';
export * from './order';
export * from './tasks';
export * from './corpus';
