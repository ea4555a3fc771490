/**
 * i8 codes of the flat index's rows: the prefilter that lets a single exact query read a
 * quarter of the bytes. Row x is stored as codes c ∈ [−127, 127] with its own scale s
 * (x̂ = s·c, kernel.wat `quantize_rows`, in the same wasm memory after the float rows);
 * a query y becomes i16 codes q with scale t (ŷ = t·q, `quantizeQuery`). The scan
 * (`i8_scores`) gives A = s·t·<c, q> per row, the integer dot product being exact, and
 * `QueryCodes.bound` is an E with |A − S| ≤ E for every row, S being the float32 score the
 * exact kernel gives that row. With x = x̂ + eₓ and y = ŷ + e_y:
 *
 *   <y, x> = <ŷ, x̂> + <ŷ, eₓ> + <e_y, x>,   so  |<y, x> − <ŷ, x̂>| ≤ ‖ŷ‖·max‖eₓ‖ + ‖e_y‖·max‖x‖
 *
 * (Cauchy–Schwarz), plus float32 rounding of S (≤ γ_dim·‖x‖·‖y‖) and of A. flat.ts keeps every
 * row with A ≥ (k-th largest A) − 2E and re-scores those exactly, so its top-k is the one a
 * full float32 scan gives, ties included.
 */

const U = 2 ** -24;
/** Relative slack for float rounding in A and in the bound's own arithmetic (≫ a few ulps). */
const ROUNDING_SLACK = 1e-6;
/** Largest |code| of a row (symmetric, so i8 products fit i16 pairs in the kernel). */
const CODE_MAX = 127;

/** Where a kernel keeps its codes, and the largest ‖eₓ‖, ‖x‖ over the coded rows. */
export interface CodeStats {
  maxError: number;
  maxNorm: number;
}
export interface CodeRegion extends CodeStats {
  /** Bytes of codes per row: dim rounded up to 32 (the scan reads 32 codes per step). */
  codeBytes: number;
  /** codeBytes + 16: f32 scale, f32 ‖eₓ‖, f32 ‖x‖, pad. */
  rowBytes: number;
  /** Byte offset of row 0's codes in the wasm memory. */
  ptr: number;
  /** Rows coded so far (rows [coded, count) are coded on the next single query). */
  coded: number;
}

export function newCodeRegion(dim: number, ptr = 0): CodeRegion {
  const codeBytes = Math.ceil(dim / 32) * 32;
  return { codeBytes, rowBytes: codeBytes + 16, ptr, coded: 0, maxError: 0, maxNorm: 0 };
}

/**
 * Folds the ‖eₓ‖ and ‖x‖ that quantize_rows stored (float32 sums of dim/4 squares per lane)
 * for n rows at floats[at], `rowFloats` apart, into the region's maxima, widened so they bound
 * the exact values: relative (dim + 8)·u per sum and sqrt, u·‖x‖ for the rounding of x − s·c.
 */
export function widenStats(region: CodeRegion, floats: Float32Array, at: number, rowFloats: number, codeFloats: number, n: number): void {
  const dim = region.codeBytes;
  const relative = 1 + 4 * (dim + 8) * U;
  let maxError = region.maxError;
  let maxNorm = region.maxNorm;
  for (let r = 0, p = at + codeFloats; r < n; r++, p += rowFloats) {
    const norm = floats[p + 2] * relative;
    maxError = Math.max(maxError, floats[p + 1] * relative + 4 * U * norm);
    maxNorm = Math.max(maxNorm, norm);
  }
  region.maxError = maxError;
  region.maxNorm = maxNorm;
}

/** A query's i16 codes, scale and what the bound needs. */
export interface QueryCodes {
  codes: Int16Array;
  scale: number;
  /** E for rows with these stats: |A − S| ≤ E. */
  bound(stats: CodeStats): number;
}

/** Largest |i16 query code| that keeps every integer dot product of codeBytes terms inside int32. */
export const queryCodeMax = (codeBytes: number): number => Math.min(32767, Math.floor((2 ** 31 - 1) / (CODE_MAX * codeBytes)));

/** Codes a query (its first dim floats) for the code scan. */
export function quantizeQuery(query: Float32Array, dim: number, codeBytes: number): QueryCodes {
  const qMax = queryCodeMax(codeBytes);
  let max = 0;
  for (let j = 0; j < dim; j++) max = Math.max(max, Math.abs(query[j]));
  // The kernel multiplies by the float32 scale, so codes and errors use that value.
  const scale = Math.fround(max / qMax);
  const codes = new Int16Array(codeBytes);
  let hatSq = 0;
  let errSq = 0;
  let normSq = 0;
  for (let j = 0; j < dim; j++) {
    const v = query[j];
    const c = scale > 0 ? Math.max(-qMax, Math.min(qMax, Math.round(v / scale))) : 0;
    codes[j] = c;
    hatSq += (c * scale) ** 2;
    errSq += (v - c * scale) ** 2;
    normSq += v * v;
  }
  const hat = Math.sqrt(hatSq);
  const err = Math.sqrt(errSq);
  const norm = Math.sqrt(normSq);
  const gamma = ((dim + 4) * U) / (1 - (dim + 4) * U);
  return {
    codes,
    scale,
    bound: ({ maxError, maxNorm }: CodeStats): number => {
      const quantisation = hat * maxError + err * maxNorm;
      // Float32 dot product of dim terms (4 lanes + horizontal sum): |S − <x, y>| ≤ γ·‖x‖·‖y‖;
      // A: the integer → float conversion and two products, a few ulps of |<x̂, ŷ>|.
      const rounding = gamma * maxNorm * norm + ROUNDING_SLACK * (maxNorm + maxError) * (norm + hat);
      const e = (quantisation + rounding) * (1 + ROUNDING_SLACK);
      // A row whose norm overflows float32 makes maxError ∞, and a zero query 0·∞ = NaN: no row would pass
      // the cut. No bound is then +∞: every row is re-scored exactly.
      return Number.isNaN(e) ? Infinity : e;
    },
  };
}
