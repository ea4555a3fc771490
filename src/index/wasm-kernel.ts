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
import { type CodeRegion, newCodeRegion, widenStats } from './i8-codes.js';
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
  quantize_rows(src: number, n: number, rowBytes: number, dst: number, codeBytes: number, codeRowBytes: number): void;
}

const PAGE = 65536;
const MAX_PAGES = 65536;
/** Bytes one kernel instance's memory can hold (wasm32: 4 GiB). */
export const MAX_MEMORY_BYTES = MAX_PAGES * PAGE;
const SPARE_ROWS = 4;
/** Rows per quantize_rows call. */
const QUANTIZE_ROWS = 512;

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
  /** i8 codes of the rows (i8-codes.ts), after the rows; null when disabled or out of room. */
  private codes: CodeRegion | null;
  private readonly codeQueryPtr: number;

  constructor(
    readonly dim: number,
    options: { codes?: boolean } = {},
  ) {
    this.exports = instantiateKernel();
    this.codes = options.codes === false ? null : newCodeRegion(dim);
    this.stride = paddedStride(dim);
    this.rowBytes = this.stride * 4;
    this.blockRows = blockRowsFor(this.stride);
    this.scoresPtr = alignUp(MAX_QUERIES * this.rowBytes, 64);
    this.scoreFloats = Math.max(MAX_QUERIES * this.blockRows, STREAM_ROWS);
    this.gatherRows = this.scoreFloats >> 1;
    this.dbPtr = alignUp(this.scoresPtr + this.scoreFloats * 4, 64);
    // The i16 query of the code scan sits after the 4 float query rows a single query uses.
    this.codeQueryPtr = 4 * this.rowBytes;
    this.heap = new Float32Array(this.exports.memory.buffer);
    this.reserve(0);
  }

  /** Makes room for `rows` rows (+ spares), growing memory if needed. */
  private reserve(rows: number): void {
    if (rows <= this.capacity) return;
    const capacity = grownCapacity(this.capacity, rows);
    const codeRowBytes = (): number => this.codes?.rowBytes ?? 0;
    const bytesFor = (cap: number): number => this.dbPtr + (cap + SPARE_ROWS) * (this.rowBytes + codeRowBytes());
    const maxBytes = MAX_MEMORY_BYTES;
    // Past ~1.6M rows of 512 floats the codes do not fit beside the rows: single queries scan floats.
    if (this.codes && bytesFor(rows) > maxBytes) this.codes = null;
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
    if (this.codes) {
      // The codes follow the rows' capacity: move the coded ones up to their new place.
      const to = this.dbPtr + (target + SPARE_ROWS) * this.rowBytes;
      new Uint8Array(this.exports.memory.buffer).copyWithin(to, this.codes.ptr, this.codes.ptr + this.codes.coded * this.codes.rowBytes);
      this.codes.ptr = to;
    }
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
    const codes = this.codes;
    const bytes = codes ? new Uint8Array(this.exports.memory.buffer) : null;
    let kept = 0;
    let coded = 0;
    for (let r = 0; r < this.count; r++) {
      if (!keep(r)) continue;
      if (kept !== r) this.heap.copyWithin(base + kept * stride, base + r * stride, base + (r + 1) * stride);
      // Coded rows keep their codes; the maxima stay upper bounds for the rows left.
      if (codes && r < codes.coded) {
        const to = codes.ptr + kept * codes.rowBytes;
        if (kept !== r) bytes!.copyWithin(to, codes.ptr + r * codes.rowBytes, codes.ptr + (r + 1) * codes.rowBytes);
        coded++;
      }
      kept++;
    }
    this.count = kept;
    if (codes) codes.coded = coded;
  }

  rows(): Float32Array {
    return this.heap.subarray(this.dbPtr / 4, this.dbPtr / 4 + this.count * this.stride);
  }

  fill(n: number, write: (bytes: Uint8Array) => void): void {
    this.count = 0;
    this.codes &&= newCodeRegion(this.dim, this.codes.ptr);
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

  /** True while the rows have an i8 code region (see i8-codes.ts). */
  get hasCodes(): boolean {
    return this.codes !== null;
  }

  /** Rows coded so far (0 with no code region). */
  get codedRows(): number {
    return this.codes?.coded ?? 0;
  }

  /** Codes the rows added since the last call; returns the code region's bound inputs. */
  updateCodes(): CodeRegion {
    const codes = this.codes!;
    if (codes.coded < this.count) {
      const from = codes.coded;
      const n = this.count - from;
      const at = codes.ptr + from * codes.rowBytes;
      // In slices: a long first call would run entirely in V8's baseline tier (no wasm OSR).
      for (let done = 0; done < n; done += QUANTIZE_ROWS) {
        const m = Math.min(QUANTIZE_ROWS, n - done);
        const src = this.dbPtr + (from + done) * this.rowBytes;
        this.exports.quantize_rows(src, m, this.rowBytes, at + done * codes.rowBytes, codes.codeBytes, codes.rowBytes);
      }
      widenStats(codes, this.heap, at / 4, codes.rowBytes / 4, codes.codeBytes / 4, n);
      codes.coded = this.count;
    }
    return codes;
  }

  /** Sets the i16 query codes (codeBytes values) for scoreCodes. */
  setCodeQuery(query: Int16Array): void {
    new Int16Array(this.exports.memory.buffer, this.codeQueryPtr, this.codes!.codeBytes).set(query);
  }

  /** Scan scores A (i8-codes.ts) of the code query, scale qScale, against rows [start, start+n), n ≤ streamRows. */
  scoreCodes(qScale: number, start: number, n: number): Float32Array {
    const codes = this.codes!;
    const nPadded = Math.ceil(n / 4) * 4;
    const { exports } = this;
    exports.i8_scores(this.codeQueryPtr, codes.ptr + start * codes.rowBytes, nPadded, codes.rowBytes, codes.codeBytes, qScale, this.scoresPtr);
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
