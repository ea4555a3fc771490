/**
 * DotKernel in plain JavaScript: the fallback when WebAssembly SIMD is missing, and the
 * baseline the benchmark compares the SIMD kernel against. Straightforward loops on purpose.
 */
import {
  type DotKernel,
  MAX_QUERIES,
  STREAM_ROWS,
  blockRowsFor,
  grownCapacity,
  paddedStride,
} from './dot-kernel.js';

export class JsDotKernel implements DotKernel {
  readonly name = 'js';
  readonly stride: number;
  readonly maxQueries = MAX_QUERIES;
  readonly blockRows: number;
  readonly streamRows = STREAM_ROWS;
  count = 0;
  private data = new Float32Array(0);
  private readonly queries: Float32Array;
  private readonly scores: Float32Array;

  constructor(readonly dim: number) {
    this.stride = paddedStride(dim);
    this.blockRows = blockRowsFor(this.stride);
    this.queries = new Float32Array(MAX_QUERIES * this.stride);
    this.scores = new Float32Array(Math.max(MAX_QUERIES * this.blockRows, STREAM_ROWS));
  }

  private reserve(rows: number): void {
    if (rows * this.stride <= this.data.length) return;
    const grown = new Float32Array(grownCapacity(this.data.length / this.stride, rows) * this.stride);
    grown.set(this.rows());
    this.data = grown;
  }

  append(vectors: Float32Array, n: number): void {
    this.reserve(this.count + n);
    const { dim, stride } = this;
    for (let i = 0; i < n; i++) {
      const at = (this.count + i) * stride;
      this.data.set(vectors.subarray(i * dim, (i + 1) * dim), at);
      this.data.fill(0, at + dim, at + stride);
    }
    this.count += n;
  }

  compact(keep: (row: number) => boolean): void {
    const { stride } = this;
    let kept = 0;
    for (let r = 0; r < this.count; r++) {
      if (!keep(r)) continue;
      if (kept !== r) this.data.copyWithin(kept * stride, r * stride, (r + 1) * stride);
      kept++;
    }
    this.count = kept;
  }

  rows(): Float32Array {
    return this.data.subarray(0, this.count * this.stride);
  }

  fill(n: number, write: (bytes: Uint8Array) => void): void {
    this.count = 0;
    this.reserve(n);
    write(new Uint8Array(this.data.buffer, this.data.byteOffset, n * this.stride * 4));
    this.count = n;
  }

  setQueries(queries: Float32Array, first: number, nq: number): void {
    const { dim, stride } = this;
    this.queries.fill(0);
    for (let i = 0; i < nq; i++) {
      this.queries.set(queries.subarray((first + i) * dim, (first + i + 1) * dim), i * stride);
    }
  }

  scoreBlock(nq: number, start: number, n: number): Float32Array {
    for (let q = 0; q < nq; q++) this.dotRows(q * this.stride, start, n, q * this.blockRows);
    return this.scores.subarray(0, nq * this.blockRows);
  }

  scoreRows(start: number, n: number): Float32Array {
    this.dotRows(0, start, n, 0);
    return this.scores.subarray(0, n);
  }

  get gatherRows(): number {
    return this.scores.length;
  }

  scoreGathered(rows: Int32Array, n: number): Float32Array {
    const { data, queries, scores, dim, stride } = this;
    for (let i = 0; i < n; i++) {
      const rAt = rows[i] * stride;
      let sum = 0;
      for (let j = 0; j < dim; j++) sum += queries[j] * data[rAt + j];
      scores[i] = sum;
    }
    return scores.subarray(0, n);
  }

  /** scores[out + r] = <query at queries[qAt], row start + r> for r < n. */
  private dotRows(qAt: number, start: number, n: number, out: number): void {
    const { data, queries, scores, dim, stride } = this;
    for (let r = 0; r < n; r++) {
      const rAt = (start + r) * stride;
      let sum = 0;
      for (let j = 0; j < dim; j++) sum += queries[qAt + j] * data[rAt + j];
      scores[out + r] = sum;
    }
  }

  dispose(): void {
    this.data = new Float32Array(0);
    this.count = 0;
  }
}
