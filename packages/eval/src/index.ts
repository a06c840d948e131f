// Public face of @pixel-bert/eval: metrics now; Table 6 from tracked runs and attention maps build on them.
export * from './metrics';
