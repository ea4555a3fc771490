/**
 * i8 codes of the flat index's rows: the prefilter that makes a single exact query read a
 * quarter of the bytes. Each row x is stored as 127-level codes c with its own scale s
 * (x ≈ s·c) in a second kernel instance; a query y becomes i16 codes with scale t (y ≈ t·q).
 * The scan (kernel.wat `i8_scores`) gives A = s·t·<c, q> per row, the integer dot product
 * being exact, and `setQuery` returns a bound E with |A − S| ≤ E for every row, where S is the
 * float32 score the exact kernel gives that row. With x = x̂ + eₓ and y = ŷ + e_y:
 *
 *   <y, x> = <ŷ, x̂> + <ŷ, eₓ> + <e_y, x>,   so  |<y, x> − <ŷ, x̂>| ≤ ‖ŷ‖·max‖eₓ‖ + ‖e_y‖·max‖x‖
 *
 * (Cauchy–Schwarz), plus float32 rounding of S (≤ γ_dim·‖x‖·‖y‖) and of A. flat.ts keeps
 * every row with A ≥ (k-th largest A) − 2E and re-scores those exactly, so the top-k is the
 * one a full float32 scan gives.
 *
 * Memory: [query: 2·codeBytes][scores: STREAM_ROWS floats][rows: codeBytes i8 + f32 scale + pad].
 */
import { ExitCode, FacectlError } from '../errors.js';
import { STREAM_ROWS, grownCapacity } from './dot-kernel.js';
import { type KernelExports, MAX_MEMORY_BYTES, growMemory, instantiateKernel } from './wasm-kernel.js';

const SPARE_ROWS = 4;
const CODE_MAX = 127;
/** Relative slack for float rounding in the bound itself and in A (a few ulps of float32). */
const ROUNDING_SLACK = 1e-6;

export class I8Codes {
  /** Bytes of codes per row: dim rounded up to 32 (the kernel reads 32 codes per step). */
  readonly codeBytes: number;
  /** codeBytes + 16: the f32 scale, padded so rows stay 16-byte aligned. */
  readonly rowBytes: number;
  readonly streamRows = STREAM_ROWS;
  count = 0;
  private capacity = -1;
  private exports: KernelExports;
  private readonly scoresPtr: number;
  private readonly dbPtr: number;
  /** Largest ‖x − x̂‖ and ‖x‖ over the rows coded so far (kept as upper bounds by compact). */
  private maxError = 0;
  private maxNorm = 0;
  private bytes: Int8Array;
  private floats: Float32Array;
  /** Query scale t of the last setQuery. */
  private queryScale = 0;
  /** Largest |i16 query code| that keeps every integer dot product inside int32. */
  private readonly queryMax: number;

  constructor(readonly dim: number) {
    this.exports = instantiateKernel();
    this.codeBytes = Math.ceil(dim / 32) * 32;
    this.rowBytes = this.codeBytes + 16;
    this.scoresPtr = this.codeBytes * 2;
    this.dbPtr = this.scoresPtr + STREAM_ROWS * 4;
    this.queryMax = Math.min(32767, Math.floor((2 ** 31 - 1) / (CODE_MAX * this.codeBytes)));
    this.bytes = new Int8Array(0);
    this.floats = new Float32Array(0);
    this.reserve(0);
  }

  private reserve(rows: number): void {
    if (rows <= this.capacity) return;
    const bytesFor = (cap: number): number => this.dbPtr + (cap + SPARE_ROWS) * this.rowBytes;
    if (bytesFor(rows) > MAX_MEMORY_BYTES) {
      throw new FacectlError(ExitCode.STORE_ERROR, `the i8 prefilter holds at most ${Math.floor(MAX_MEMORY_BYTES / this.rowBytes)} vectors`);
    }
    const grown = grownCapacity(this.capacity, rows);
    this.capacity = bytesFor(grown) <= MAX_MEMORY_BYTES ? grown : rows;
    growMemory(this.exports.memory, bytesFor(this.capacity));
    this.bytes = new Int8Array(this.exports.memory.buffer);
    this.floats = new Float32Array(this.exports.memory.buffer);
  }

  /** Codes n rows of `rows` (row-major, `stride` floats apart, the first `dim` used) onto the end. */
  append(rows: Float32Array, stride: number, n: number): void {
    this.reserve(this.count + n);
    const { dim, bytes, floats, rowBytes, codeBytes } = this;
    for (let i = 0; i < n; i++) {
      const x = i * stride;
      let max = 0;
      for (let j = 0; j < dim; j++) max = Math.max(max, Math.abs(rows[x + j]));
      // The kernel multiplies by the float32 scale, so codes and errors use that value.
      const scale = Math.fround(max / CODE_MAX);
      const at = this.dbPtr + (this.count + i) * rowBytes;
      let errSq = 0;
      let normSq = 0;
      for (let j = 0; j < dim; j++) {
        const v = rows[x + j];
        const c = scale > 0 ? Math.max(-CODE_MAX, Math.min(CODE_MAX, Math.round(v / scale))) : 0;
        bytes[at + j] = c;
        const e = v - c * scale;
        errSq += e * e;
        normSq += v * v;
      }
      bytes.fill(0, at + dim, at + codeBytes);
      floats[(at + codeBytes) / 4] = scale;
      this.maxError = Math.max(this.maxError, Math.sqrt(errSq));
      this.maxNorm = Math.max(this.maxNorm, Math.sqrt(normSq));
    }
    this.count += n;
  }

  compact(keep: (row: number) => boolean): void {
    const { bytes, rowBytes, dbPtr } = this;
    let kept = 0;
    for (let r = 0; r < this.count; r++) {
      if (!keep(r)) continue;
      if (kept !== r) bytes.copyWithin(dbPtr + kept * rowBytes, dbPtr + r * rowBytes, dbPtr + (r + 1) * rowBytes);
      kept++;
    }
    this.count = kept;
  }

  /**
   * Codes `query` (dim floats) for the next scan and returns E: |A − S| ≤ E for every row,
   * A its scan score and S its float32 exact score.
   */
  setQuery(query: Float32Array): number {
    const { dim } = this;
    let max = 0;
    for (let j = 0; j < dim; j++) max = Math.max(max, Math.abs(query[j]));
    const scale = Math.fround(max / this.queryMax);
    const codes = new Int16Array(this.exports.memory.buffer, 0, this.codeBytes);
    codes.fill(0);
    let hatSq = 0;
    let errSq = 0;
    let normSq = 0;
    for (let j = 0; j < dim; j++) {
      const v = query[j];
      const c = scale > 0 ? Math.max(-this.queryMax, Math.min(this.queryMax, Math.round(v / scale))) : 0;
      codes[j] = c;
      hatSq += (c * scale) ** 2;
      errSq += (v - c * scale) ** 2;
      normSq += v * v;
    }
    this.queryScale = scale;
    const hat = Math.sqrt(hatSq);
    const norm = Math.sqrt(normSq);
    const quantisation = hat * this.maxError + Math.sqrt(errSq) * this.maxNorm;
    // Float32 dot product of dim terms (4 lanes + horizontal sum): |S − <x, y>| ≤ γ·‖x‖·‖y‖.
    const u = 2 ** -24;
    const gamma = ((dim + 4) * u) / (1 - (dim + 4) * u);
    const rounding = gamma * this.maxNorm * norm + ROUNDING_SLACK * (this.maxNorm + this.maxError) * (norm + hat);
    return (quantisation + rounding) * (1 + ROUNDING_SLACK);
  }

  /** Approximate scores A of the set query against rows [start, start+n), n ≤ streamRows. */
  scoreRows(start: number, n: number): Float32Array {
    const nPadded = Math.ceil(n / 4) * 4;
    this.exports.i8_scores(0, this.dbPtr + start * this.rowBytes, nPadded, this.rowBytes, this.codeBytes, this.queryScale, this.scoresPtr);
    return this.floats.subarray(this.scoresPtr / 4, this.scoresPtr / 4 + n);
  }

  dispose(): void {
    this.exports = null as unknown as KernelExports;
    this.bytes = new Int8Array(0);
    this.floats = new Float32Array(0);
    this.count = 0;
    this.capacity = Infinity;
  }
}
