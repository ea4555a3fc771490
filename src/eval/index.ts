/**
 * Evaluation library for `facectl eval`: datasets and protocols, metrics, charts, report,
 * embedding cache. Everything here is pipeline-free: it takes image lists, scores and
 * embeddings (see EmbeddingLookup) and never runs a model.
 */
export * from './datasets.js';
export * from './pairs.js';
export * from './pair-generation.js';
export * from './splits.js';
export * from './rng.js';
export * from './metrics.js';
export * from './scoring.js';
export * from './evaluate-verification.js';
export * from './evaluate-identification.js';
export * from './eval-result.js';
export * from './chart-fonts.js';
export * from './charts.js';
export * from './eval-charts.js';
export * from './report.js';
export * from './report-markdown.js';
export * from './format.js';
export * from './embedding-cache.js';
