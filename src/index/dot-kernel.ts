/**
 * Row storage + inner-product scoring for the flat index. Two implementations:
 * wasm-kernel.ts (f32x4 SIMD, rows live in WebAssembly memory) and js-kernel.ts
 * (plain loops, the fallback and the benchmark baseline).
 *
 * Rows are stored zero-padded to `stride` floats (dim rounded up to 4) so the SIMD kernel
 * never needs a remainder loop; padding adds exact zeros and does not change any score.
 */
export type KernelName = 'wasm-simd' | 'js';

export interface DotKernel {
  readonly name: KernelName;
  readonly dim: number;
  /** Floats per stored row (dim rounded up to a multiple of 4). */
  readonly stride: number;
  /** Rows stored. */
  readonly count: number;
  /** Most queries one scoreBlock call takes (setQueries accepts at most this many). */
  readonly maxQueries: number;
  /** Most rows one scoreBlock call scores (sized so a tile of rows stays in L2 cache). */
  readonly blockRows: number;
  /** Most rows one scoreRows call scores. */
  readonly streamRows: number;
  /** Appends n rows given row-major with `dim` floats each. */
  append(vectors: Float32Array, n: number): void;
  /** Keeps the rows for which keep(row) is true, in their order. */
  compact(keep: (row: number) => boolean): void;
  /** The first count×stride floats: every stored row. Invalidated by append/compact/fill. */
  rows(): Float32Array;
  /** Replaces all rows: reserves n rows, lets `write` fill their bytes (n×stride×4), sets count. */
  fill(n: number, write: (bytes: Uint8Array) => void): void;
  /** Copies queries [first, first+nq) of a row-major q×dim array into the query buffer. */
  setQueries(queries: Float32Array, first: number, nq: number): void;
  /**
   * Scores of the set queries against rows [start, start+n), n ≤ blockRows:
   * result[q * blockRows + r]. The view is valid until the next call.
   */
  scoreBlock(nq: number, start: number, n: number): Float32Array;
  /** Scores of query 0 against rows [start, start+n), n ≤ streamRows: result[r]. */
  scoreRows(start: number, n: number): Float32Array;
  /** Most rows one scoreGathered call scores. */
  readonly gatherRows: number;
  /**
   * Scores of query 0 against the listed rows (n ≤ gatherRows): result[i] for rows[i], each
   * bit-identical to the score scoreRows/scoreBlock give that row.
   */
  scoreGathered(rows: Int32Array, n: number): Float32Array;
  /** Releases the storage (the kernel is unusable afterwards). */
  dispose(): void;
}

export const paddedStride = (dim: number): number => Math.ceil(dim / 4) * 4;

/** Queries per scoring pass: each pass streams the whole database once. */
export const MAX_QUERIES = 64;
/** Bytes of rows per scoreBlock tile: small enough to be re-read from L2 by every query group. */
export const BLOCK_BYTES = 256 * 1024;
/** Rows per scoreRows call (single-query streaming). */
export const STREAM_ROWS = 4096;

/** Rows per block tile for this stride: a multiple of 4, at least 16. */
export const blockRowsFor = (stride: number): number =>
  Math.max(16, Math.floor(BLOCK_BYTES / (stride * 4) / 4) * 4);

/** Next capacity when `needed` rows do not fit: grow by half again, like a vector. */
export const grownCapacity = (current: number, needed: number): number =>
  Math.max(needed, Math.ceil(current * 1.5), 64);
