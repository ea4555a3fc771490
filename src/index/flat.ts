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
import { quantizeQuery } from './i8-codes.js';
import { TopK } from './topk.js';
import type { IndexExpectation, SearchHit, VectorIndex } from './types.js';
import { checkDim, checkK, checkLabels, rowCount } from './validate.js';
import { WasmDotKernel, wasmSimdAvailable } from './wasm-kernel.js';

export interface FlatIndexOptions {
  /** 'auto' (default): the SIMD kernel when the runtime supports it, else plain JS. */
  kernel?: 'auto' | 'wasm' | 'js';
  /**
   * Single queries: 'i8' (default with the SIMD kernel) scans i8 codes of the rows, then
   * re-scores exactly every row that can still be in the top-k (same result, a quarter of
   * the bytes read, +25% memory); 'none' scans the float32 rows.
   */
  prefilter?: 'i8' | 'none';
}

/** Row numbers and scan scores of the prefilter's candidates (reused between queries). */
interface Candidates {
  rows: Int32Array;
  scores: Float32Array;
  n: number;
}

function createKernel(dim: number, options: FlatIndexOptions): DotKernel {
  const choice = options.kernel ?? 'auto';
  if (choice === 'js' || (choice === 'auto' && !wasmSimdAvailable())) return new JsDotKernel(dim);
  return new WasmDotKernel(dim, { codes: (options.prefilter ?? 'i8') === 'i8' });
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
  private candidates: Candidates = { rows: new Int32Array(1024), scores: new Float32Array(1024), n: 0 };
  /** Rows the last prefiltered query re-scored exactly (for benchmarks). */
  rescoredLastQuery = 0;
  private singleQueries = 0;

  constructor(
    readonly dim: number,
    options: FlatIndexOptions = {},
  ) {
    checkDim(dim);
    this.kernel = createKernel(dim, options);
  }

  /** The kernel when it keeps i8 codes of the rows for the single-query prefilter. */
  private get codes(): WasmDotKernel | null {
    return this.kernel instanceof WasmDotKernel && this.kernel.hasCodes ? this.kernel : null;
  }

  /** Which single-query scan runs: 'i8' (prefilter + exact re-scoring) or 'none'. */
  get prefilter(): 'i8' | 'none' {
    return this.codes ? 'i8' : 'none';
  }

  /** Codes the rows for the prefilter now (else the second single query does), e.g. before serving logins. */
  buildPrefilter(): void {
    this.codes?.updateCodes();
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
    if (keep > 0 && nq === 1) {
      // Codes are built on the second single query, so a one-shot search (load, one login)
      // never pays for quantising the rows; later queries only code the rows added since.
      if (this.codes && (this.codes.codedRows > 0 || this.singleQueries > 0)) this.scanPrefiltered(queries, heaps[0]);
      else this.scanSingle(queries, heaps[0]);
      this.singleQueries++;
    }
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

  /**
   * Single query through the i8 codes: keeps every row whose scan score A can still reach
   * the top-k (A ≥ k-th best A − 2E, see i8-codes.ts), then re-scores those exactly.
   */
  private scanPrefiltered(query: Float32Array, heap: TopK): void {
    const codes = this.codes!;
    const stats = codes.updateCodes();
    const q = quantizeQuery(query, this.dim, stats.codeBytes);
    const twoE = 2 * q.bound(stats);
    codes.setCodeQuery(q.codes);
    const best = new TopK(heap.k);
    let cand = this.candidates;
    cand.n = 0;
    let bestThreshold = -Infinity;
    let cut = -Infinity;
    for (let start = 0; start < codes.count; start += codes.streamRows) {
      const n = Math.min(codes.streamRows, codes.count - start);
      const scores = codes.scoreCodes(q.scale, start, n);
      for (let r = 0; r < n; r++) {
        const a = scores[r];
        if (a < cut) continue;
        if (cand.n === cand.rows.length) cand = this.growCandidates();
        cand.rows[cand.n] = start + r;
        cand.scores[cand.n++] = a;
        if (a > bestThreshold) {
          best.push(a, start + r);
          bestThreshold = best.threshold;
          cut = bestThreshold - twoE;
        }
      }
    }
    // Rows kept before the cut rose: drop those under the final cut, then score exactly.
    let kept = 0;
    for (let i = 0; i < cand.n; i++) if (cand.scores[i] >= cut) cand.rows[kept++] = cand.rows[i];
    this.rescoredLastQuery = kept;
    const { kernel } = this;
    kernel.setQueries(query, 0, 1);
    for (let first = 0; first < kept; first += kernel.gatherRows) {
      const n = Math.min(kernel.gatherRows, kept - first);
      const rows = cand.rows.subarray(first, first + n);
      const exact = kernel.scoreGathered(rows, n);
      for (let i = 0; i < n; i++) heap.push(exact[i], rows[i]);
    }
  }

  private growCandidates(): Candidates {
    const old = this.candidates;
    const rows = new Int32Array(old.rows.length * 2);
    const scores = new Float32Array(old.rows.length * 2);
    rows.set(old.rows);
    scores.set(old.scores);
    this.candidates = { rows, scores, n: old.n };
    return this.candidates;
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
