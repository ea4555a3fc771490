/**
 * DotKernel on the WebAssembly SIMD kernel (kernel.wat). Memory layout, in one linear memory:
 *
 *   [queries: MAX_QUERIES rows] [scores: max(MAX_QUERIES×blockRows, STREAM_ROWS) floats] [database rows ...]
 *
 * The database sits last so it can grow with memory.grow() without moving anything. Four
 * spare rows past the capacity let the kernel round a tile up to its 2- or 4-row step.
 * wasm32 memory tops out at 4 GiB (≈ 2M vectors of 512 floats): past that, use 'hnsw'.
 */
import { ExitCode, FacectlError } from '../errors.js';
import {
  type DotKernel,
  MAX_QUERIES,
  STREAM_ROWS,
  blockRowsFor,
  grownCapacity,
  paddedStride,
} from './dot-kernel.js';
import { KERNEL_WASM_BASE64 } from './kernel-wasm.js';

/**
 * The slice of the WebAssembly JS API used here, typed locally: the project compiles
 * against lib ES2022 without DOM, which does not declare WebAssembly.
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}
interface WasmModule {
  readonly __wasmModule?: never;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export interface KernelExports {
  memory: WasmMemory;
  block_scores(qPtr: number, nq: number, dbPtr: number, nRows: number, rowBytes: number, outPtr: number, outStride: number): void;
  row_scores(qPtr: number, dbPtr: number, nRows: number, rowBytes: number, outPtr: number): void;
  gather_scores(qPtr: number, dbPtr: number, idxPtr: number, n: number, rowBytes: number, outPtr: number): void;
  i8_scores(qPtr: number, dbPtr: number, nRows: number, rowBytes: number, codeBytes: number, qScale: number, outPtr: number): void;
}

const PAGE = 65536;
const MAX_PAGES = 65536;
/** Bytes one kernel instance's memory can hold (wasm32: 4 GiB). */
export const MAX_MEMORY_BYTES = MAX_PAGES * PAGE;
const SPARE_ROWS = 4;

let compiled: WasmModule | null | undefined;

/** The compiled kernel, or null when this runtime lacks WebAssembly (SIMD). */
export function wasmKernelModule(): WasmModule | null {
  if (compiled === undefined) {
    const bytes = Buffer.from(KERNEL_WASM_BASE64, 'base64');
    compiled = wasmApi?.validate(bytes) ? new wasmApi.Module(bytes) : null;
  }
  return compiled;
}

export const wasmSimdAvailable = (): boolean => wasmKernelModule() !== null;

/** A fresh kernel instance with its own linear memory. */
export function instantiateKernel(): KernelExports {
  const module = wasmKernelModule();
  if (!module) throw new FacectlError(ExitCode.INTERNAL, 'WebAssembly SIMD is not available in this runtime');
  return new wasmApi!.Instance(module, {}).exports as KernelExports;
}

/** Grows `memory` to at least `bytes` (≤ MAX_MEMORY_BYTES); true when it grew (old views are detached). */
export function growMemory(memory: WasmMemory, bytes: number): boolean {
  const pagesNeeded = Math.ceil(bytes / PAGE);
  const pagesNow = memory.buffer.byteLength / PAGE;
  if (pagesNeeded <= pagesNow) return false;
  memory.grow(pagesNeeded - pagesNow);
  return true;
}

const alignUp = (n: number, to: number): number => Math.ceil(n / to) * to;

export class WasmDotKernel implements DotKernel {
  readonly name = 'wasm-simd';
  readonly stride: number;
  readonly maxQueries = MAX_QUERIES;
  readonly blockRows: number;
  readonly streamRows = STREAM_ROWS;
  count = 0;
  /** Rows the memory holds room for; -1 until the first reserve sizes the memory. */
  private capacity = -1;
  private exports: KernelExports;
  private readonly rowBytes: number;
  private readonly scoresPtr: number;
  /** Floats in the scores area; scoreGathered uses its first half for scores, the second for row numbers. */
  private readonly scoreFloats: number;
  readonly gatherRows: number;
  private readonly dbPtr: number;
  /** Float32 view of the whole memory; rebuilt after every grow (growing detaches it). */
  private heap: Float32Array;

  constructor(readonly dim: number) {
    this.exports = instantiateKernel();
    this.stride = paddedStride(dim);
    this.rowBytes = this.stride * 4;
    this.blockRows = blockRowsFor(this.stride);
    this.scoresPtr = alignUp(MAX_QUERIES * this.rowBytes, 64);
    this.scoreFloats = Math.max(MAX_QUERIES * this.blockRows, STREAM_ROWS);
    this.gatherRows = this.scoreFloats >> 1;
    this.dbPtr = alignUp(this.scoresPtr + this.scoreFloats * 4, 64);
    this.heap = new Float32Array(this.exports.memory.buffer);
    this.reserve(0);
  }

  /** Makes room for `rows` rows (+ spares), growing memory if needed. */
  private reserve(rows: number): void {
    if (rows <= this.capacity) return;
    const capacity = grownCapacity(this.capacity, rows);
    const bytesFor = (cap: number): number => this.dbPtr + (cap + SPARE_ROWS) * this.rowBytes;
    const maxBytes = MAX_MEMORY_BYTES;
    if (bytesFor(rows) > maxBytes) {
      throw new FacectlError(
        ExitCode.STORE_ERROR,
        `the exact (flat) index holds at most ${Math.floor((maxBytes - this.dbPtr) / this.rowBytes) - SPARE_ROWS} ` +
          `vectors of dimension ${this.dim} (4 GiB of WebAssembly memory); use the hnsw index for ${rows}`,
      );
    }
    // Near the 4 GiB ceiling take exactly what is needed rather than 1.5×.
    const target = bytesFor(capacity) <= maxBytes ? capacity : rows;
    growMemory(this.exports.memory, bytesFor(target));
    this.capacity = target;
    this.heap = new Float32Array(this.exports.memory.buffer);
  }

  append(vectors: Float32Array, n: number): void {
    this.reserve(this.count + n);
    const { dim, stride } = this;
    const base = this.dbPtr / 4 + this.count * stride;
    if (dim === stride) {
      this.heap.set(vectors.subarray(0, n * dim), base);
    } else {
      for (let i = 0; i < n; i++) {
        const at = base + i * stride;
        this.heap.set(vectors.subarray(i * dim, (i + 1) * dim), at);
        this.heap.fill(0, at + dim, at + stride);
      }
    }
    this.count += n;
  }

  compact(keep: (row: number) => boolean): void {
    const { stride } = this;
    const base = this.dbPtr / 4;
    let kept = 0;
    for (let r = 0; r < this.count; r++) {
      if (!keep(r)) continue;
      if (kept !== r) this.heap.copyWithin(base + kept * stride, base + r * stride, base + (r + 1) * stride);
      kept++;
    }
    this.count = kept;
  }

  rows(): Float32Array {
    return this.heap.subarray(this.dbPtr / 4, this.dbPtr / 4 + this.count * this.stride);
  }

  fill(n: number, write: (bytes: Uint8Array) => void): void {
    this.count = 0;
    this.reserve(n);
    write(new Uint8Array(this.exports.memory.buffer, this.dbPtr, n * this.rowBytes));
    this.count = n;
  }

  setQueries(queries: Float32Array, first: number, nq: number): void {
    const { dim, stride } = this;
    // Zero the whole buffer's used part first: padding lanes and the padding queries of a
    // partial group of 4 then score exact zeros (no stale data, no denormals).
    this.heap.fill(0, 0, Math.ceil(nq / 4) * 4 * stride);
    for (let i = 0; i < nq; i++) {
      this.heap.set(queries.subarray((first + i) * dim, (first + i + 1) * dim), i * stride);
    }
  }

  scoreBlock(nq: number, start: number, n: number): Float32Array {
    const nqPadded = Math.ceil(nq / 4) * 4;
    const nPadded = Math.ceil(n / 2) * 2;
    this.exports.block_scores(0, nqPadded, this.dbPtr + start * this.rowBytes, nPadded, this.rowBytes, this.scoresPtr, this.blockRows);
    return this.heap.subarray(this.scoresPtr / 4, this.scoresPtr / 4 + nq * this.blockRows);
  }

  scoreRows(start: number, n: number): Float32Array {
    const nPadded = Math.ceil(n / 4) * 4;
    this.exports.row_scores(0, this.dbPtr + start * this.rowBytes, nPadded, this.rowBytes, this.scoresPtr);
    return this.heap.subarray(this.scoresPtr / 4, this.scoresPtr / 4 + n);
  }

  scoreGathered(rows: Int32Array, n: number): Float32Array {
    const half = this.scoreFloats >> 1;
    if (n > half) throw new FacectlError(ExitCode.INTERNAL, `scoreGathered: ${n} rows exceed ${half}`);
    const idxPtr = this.scoresPtr + half * 4;
    new Int32Array(this.exports.memory.buffer, idxPtr, n).set(rows.subarray(0, n));
    this.exports.gather_scores(0, this.dbPtr, idxPtr, n, this.rowBytes, this.scoresPtr);
    return this.heap.subarray(this.scoresPtr / 4, this.scoresPtr / 4 + n);
  }

  dispose(): void {
    // A wasm memory cannot shrink; dropping the instance lets the GC reclaim it.
    this.exports = null as unknown as KernelExports;
    this.heap = new Float32Array(0);
    this.count = 0;
    this.capacity = Infinity; // any further use fails loudly on the null exports
  }
}
