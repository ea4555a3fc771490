/**
 * The vector index behind login: identity vectors (L2-normalised float32) searched by inner
 * product, FAISS IndexFlatIP style. Two implementations share this interface:
 *   - 'flat' (flat.ts): exact, WebAssembly SIMD kernel, the default;
 *   - 'hnsw' (hnsw.ts): approximate graph search (usearch) for large galleries.
 */

/** The index kinds; each names its file beside a files store (`index.flat`, `index.hnsw`). */
export const INDEX_KINDS = ['flat', 'hnsw'] as const;
export type IndexKind = (typeof INDEX_KINDS)[number];

/** Top-k hits of one query, best first. */
export interface SearchHit {
  labels: string[];
  /** Inner products (= cosine for normalised vectors), same order as labels. */
  scores: number[];
}

export interface VectorIndex {
  readonly kind: IndexKind;
  /** Vector dimension; every added or queried row has exactly this many floats. */
  readonly dim: number;
  /** Number of stored vectors. */
  readonly size: number;
  /**
   * Appends vectors (row-major n×dim) with one label each. A label may repeat (several
   * photos of one person): each vector is a separate hit, and remove() drops them all.
   */
  add(labels: readonly string[], vectors: Float32Array): void;
  /**
   * Top-k by inner product for each of q queries (row-major q×dim). Fewer than k hits when
   * the index holds fewer than k vectors. Flat: exact, ties broken by insertion order.
   */
  search(queries: Float32Array, k: number): SearchHit[];
  /** Removes every vector carrying one of these labels; returns how many were removed. */
  remove?(labels: readonly string[]): number;
  /**
   * Writes the index atomically (temp file + rename). `fingerprint` is the caller's store
   * generation; loadIndex() refuses the file when the caller expects another one.
   */
  save(path: string, fingerprint?: string): void;
  /** Frees native or WebAssembly memory early (the index is unusable afterwards). */
  dispose?(): void;
}

/** What the caller knows about its store; a saved index that disagrees is stale. */
export interface IndexExpectation {
  dim?: number;
  /** Number of vectors the store holds now. */
  count?: number;
  /** Store generation/fingerprint string given to save(). */
  fingerprint?: string;
  kind?: IndexKind;
  /** Verify the payload checksum (default true; reads the whole file once). */
  verifyChecksum?: boolean;
}
