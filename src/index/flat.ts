/**
 * Exact inner-product index with FAISS IndexFlatIP semantics: exact top-k, ties broken by
 * insertion order, k > size gives size hits. Scoring runs on the WebAssembly SIMD kernel
 * (plain JS when SIMD is unavailable); top-k selection is a small heap per query in JS.
 *
 * Batched search scores up to 64 queries per pass over the rows, one L2-sized tile of rows
 * at a time, so each row is fetched from memory once per 64 queries instead of once per query.
 */
import { type DotKernel, type KernelName, paddedStride } from './dot-kernel.js';
import { StaleIndexError, encodeIndexFile, openIndexFile, writeFileAtomic } from './index-file.js';
import { JsDotKernel } from './js-kernel.js';
import { TopK } from './topk.js';
import type { IndexExpectation, SearchHit, VectorIndex } from './types.js';
import { checkDim, checkK, checkLabels, rowCount } from './validate.js';
import { WasmDotKernel, wasmSimdAvailable } from './wasm-kernel.js';

export interface FlatIndexOptions {
  /** 'auto' (default): the SIMD kernel when the runtime supports it, else plain JS. */
  kernel?: 'auto' | 'wasm' | 'js';
}

function createKernel(dim: number, choice: FlatIndexOptions['kernel'] = 'auto'): DotKernel {
  if (choice === 'js' || (choice === 'auto' && !wasmSimdAvailable())) return new JsDotKernel(dim);
  return new WasmDotKernel(dim);
}

/** Pushes scores[offset .. offset+n) for rows rowBase.. into the heap. */
function collect(scores: Float32Array, offset: number, n: number, rowBase: number, heap: TopK): void {
  // Rows arrive in increasing order, so a score equal to the threshold loses the tie: `>` suffices.
  let threshold = heap.threshold;
  for (let r = 0; r < n; r++) {
    const score = scores[offset + r];
    if (score > threshold) {
      heap.push(score, rowBase + r);
      threshold = heap.threshold;
    }
  }
}

export class FlatIndex implements VectorIndex {
  readonly kind = 'flat';
  private readonly kernel: DotKernel;
  /** Label of each stored row, in insertion order. */
  private labels: string[] = [];

  constructor(
    readonly dim: number,
    options: FlatIndexOptions = {},
  ) {
    checkDim(dim);
    this.kernel = createKernel(dim, options.kernel);
  }

  get size(): number {
    return this.kernel.count;
  }

  /** Which scoring kernel runs: 'wasm-simd' or 'js'. */
  get kernelName(): KernelName {
    return this.kernel.name;
  }

  add(labels: readonly string[], vectors: Float32Array): void {
    const n = rowCount(vectors, this.dim, 'add');
    checkLabels(labels, n);
    this.kernel.append(vectors, n);
    for (const label of labels) this.labels.push(label);
  }

  search(queries: Float32Array, k: number): SearchHit[] {
    checkK(k);
    const nq = rowCount(queries, this.dim, 'search');
    const keep = Math.min(k, this.size);
    const heaps = Array.from({ length: nq }, () => new TopK(keep));
    if (keep > 0 && nq === 1) this.scanSingle(queries, heaps[0]);
    else if (keep > 0) this.scanBatched(queries, heaps);
    return heaps.map((heap) => {
      const { scores, rows } = heap.sorted();
      return { labels: rows.map((r) => this.labels[r]), scores };
    });
  }

  private scanSingle(query: Float32Array, heap: TopK): void {
    const { kernel } = this;
    kernel.setQueries(query, 0, 1);
    for (let start = 0; start < kernel.count; start += kernel.streamRows) {
      const n = Math.min(kernel.streamRows, kernel.count - start);
      collect(kernel.scoreRows(start, n), 0, n, start, heap);
    }
  }

  private scanBatched(queries: Float32Array, heaps: TopK[]): void {
    const { kernel } = this;
    for (let first = 0; first < heaps.length; first += kernel.maxQueries) {
      const nq = Math.min(kernel.maxQueries, heaps.length - first);
      kernel.setQueries(queries, first, nq);
      for (let start = 0; start < kernel.count; start += kernel.blockRows) {
        const n = Math.min(kernel.blockRows, kernel.count - start);
        const scores = kernel.scoreBlock(nq, start, n);
        for (let q = 0; q < nq; q++) collect(scores, q * kernel.blockRows, n, start, heaps[first + q]);
      }
    }
  }

  remove(labels: readonly string[]): number {
    const drop = new Set(labels);
    const before = this.size;
    const old = this.labels;
    this.kernel.compact((row) => !drop.has(old[row]));
    this.labels = old.filter((label) => !drop.has(label));
    return before - this.size;
  }

  /** Copy of stored vector `row` (insertion order), e.g. to rebuild another index. */
  vector(row: number): Float32Array {
    const at = row * this.kernel.stride;
    return this.kernel.rows().slice(at, at + this.dim);
  }

  /** Label of stored vector `row`. */
  label(row: number): string {
    return this.labels[row];
  }

  save(file: string, fingerprint = ''): void {
    const rows = this.kernel.rows();
    const payload = new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
    const parts = encodeIndexFile(
      { kind: 'flat', dim: this.dim, count: this.size, fingerprint, params: { stride: this.kernel.stride } },
      this.labels,
      payload,
    );
    writeFileAtomic(file, parts);
  }

  /** Loads a flat index saved by save(); throws StaleIndexError when it does not match `expect`. */
  static load(file: string, expect: IndexExpectation = {}, options: FlatIndexOptions = {}): FlatIndex {
    const opened = openIndexFile(file, { ...expect, kind: expect.kind ?? 'flat' });
    try {
      const { header, labels } = opened;
      const stride = paddedStride(header.dim);
      if (header.params.stride !== stride || header.payloadBytes !== header.count * stride * 4) {
        throw new StaleIndexError('row layout does not match the header', file);
      }
      if (labels.length !== header.count || labels.some((l) => typeof l !== 'string')) {
        throw new StaleIndexError('label table does not match the vector count', file);
      }
      const index = new FlatIndex(header.dim, options);
      index.kernel.fill(header.count, (bytes) => opened.readPayload(bytes));
      index.labels = labels as string[];
      return index;
    } finally {
      opened.close();
    }
  }

  dispose(): void {
    this.kernel.dispose();
    this.labels = [];
  }
}
