/**
 * Choosing, creating and loading an index. 'auto' keeps the exact flat index up to
 * AUTO_HNSW_MIN_FLOATS stored floats (1e6 vectors at 512-d, half its 4 GiB ceiling): there
 * one exact login query still takes well under a second, while an HNSW graph of that size
 * takes about an hour to build on 2 cores and needs a large expansion_search to match the
 * exact answer on hard data (see src/index/README.md). Above it, HNSW.
 */
import { ExitCode, FacectlError } from '../errors.js';
import { FlatIndex, type FlatIndexOptions } from './flat.js';
import { HnswIndex, type HnswLoadOptions, type HnswOptions, type HnswParams } from './hnsw.js';
import { StaleIndexError, readIndexHeader } from './index-file.js';
import { INDEX_KINDS, type IndexExpectation, type IndexKind, type VectorIndex } from './types.js';

/** size × dim at and above which 'auto' picks HNSW (see the bench numbers in src/index/README.md). */
export const AUTO_HNSW_MIN_FLOATS = 5e8;

export interface CreateIndexOptions {
  dim: number;
  /** Vectors the caller is about to add (e.g. the store's count); drives 'auto'. */
  expectedSize: number;
  kind?: 'auto' | IndexKind;
  flat?: FlatIndexOptions;
  hnsw?: Partial<HnswParams> & HnswOptions;
}

/** The kind 'auto' resolves to for a gallery of this size. */
export function chooseKind(dim: number, expectedSize: number, kind: 'auto' | IndexKind = 'auto'): IndexKind {
  // The kind names the index file (index.<kind>): anything else would write a file beside, or outside, the store.
  if (kind !== 'auto' && !INDEX_KINDS.includes(kind)) throw new FacectlError(ExitCode.USAGE, `index kind must be auto, ${INDEX_KINDS.join(' or ')}, got ${JSON.stringify(kind)}`);
  if (kind !== 'auto') return kind;
  return expectedSize * dim >= AUTO_HNSW_MIN_FLOATS ? 'hnsw' : 'flat';
}

export function createIndex(options: CreateIndexOptions): VectorIndex {
  const kind = chooseKind(options.dim, options.expectedSize, options.kind);
  if (kind === 'flat') return new FlatIndex(options.dim, options.flat);
  const { threads, ...params } = options.hnsw ?? {};
  return new HnswIndex(options.dim, params, { threads });
}

export interface LoadIndexOptions {
  flat?: FlatIndexOptions;
  hnsw?: HnswLoadOptions;
}

/**
 * Loads the index saved at `file` by either kind's save(). Throws StaleIndexError (a
 * FacectlError, code STORE_ERROR) when the file is missing, corrupt, or disagrees with
 * `expect` (dim, count, fingerprint, kind): the caller then rebuilds from its store.
 */
export function loadIndex(file: string, expect: IndexExpectation = {}, options: LoadIndexOptions = {}): VectorIndex {
  const { kind } = readIndexHeader(file);
  if (kind === 'flat') return FlatIndex.load(file, expect, options.flat);
  if (kind === 'hnsw') return HnswIndex.load(file, expect, options.hnsw);
  throw new StaleIndexError(`unknown index kind ${String(kind)}`, file);
}

export interface OpenedIndex {
  index: VectorIndex;
  /** True when the saved index was missing or stale and `build` made a new one. */
  rebuilt: boolean;
  /** Why the saved index could not be used, when rebuilt. */
  staleReason?: string;
  /** Whether a rebuilt index was written to `file` (persist may decline, e.g. when the store is busy). */
  saved: boolean;
}

export interface LoadOrRebuildOptions extends LoadIndexOptions {
  /** Skip loading: build anew (`facectl index rebuild`). */
  rebuild?: boolean;
  /**
   * Runs `write` (which saves the new index to `file`) the way the caller's store requires, e.g. under
   * its lock; resolves false when it chose not to write. Default: write now.
   */
  persist?: (write: () => void) => Promise<boolean>;
}

/**
 * The usual way to open the index beside a store: load `file` if it matches the store
 * (`expect`, normally with the store's fingerprint and count); otherwise call `build` to
 * make a fresh index from the store's vectors, save it under the same fingerprint (through
 * `persist`), return it. Only a stale or missing file is rebuilt; other errors propagate.
 */
export async function loadOrRebuild(
  file: string,
  expect: IndexExpectation & { fingerprint: string },
  build: () => VectorIndex,
  options: LoadOrRebuildOptions = {},
): Promise<OpenedIndex> {
  let staleReason = 'rebuild asked for';
  if (!options.rebuild) {
    try {
      return { index: loadIndex(file, expect, options), rebuilt: false, saved: false };
    } catch (e) {
      if (!(e instanceof StaleIndexError)) throw e;
      staleReason = e.reason;
    }
  }
  const index = build();
  const write = () => index.save(file, expect.fingerprint);
  const saved = options.persist ? await options.persist(write) : (write(), true);
  return { index, rebuilt: true, staleReason, saved };
}
