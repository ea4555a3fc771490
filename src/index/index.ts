/** Public entry of the vector index: see types.ts for the interface, README.md for numbers. */
export type { IndexExpectation, IndexKind, SearchHit, VectorIndex } from './types.js';
export { FlatIndex, type FlatIndexOptions } from './flat.js';
export {
  DEFAULT_HNSW_PARAMS,
  HnswIndex,
  type HnswLoadOptions,
  type HnswOptions,
  type HnswParams,
  type HnswQuantization,
} from './hnsw.js';
export { StaleIndexError, isStaleIndexError, readIndexHeader } from './index-file.js';
export {
  AUTO_HNSW_MIN_FLOATS,
  type CreateIndexOptions,
  type LoadIndexOptions,
  chooseKind,
  createIndex,
  loadIndex,
  loadOrRebuild,
  type OpenedIndex,
} from './factory.js';
export { wasmSimdAvailable } from './wasm-kernel.js';
