/** Argument checks shared by both index kinds: misuse is a bug upstream, reported clearly. */
import { ExitCode, FacectlError } from '../errors.js';

const misuse = (message: string): FacectlError => new FacectlError(ExitCode.INTERNAL, message);

export function checkDim(dim: number): void {
  if (!Number.isInteger(dim) || dim < 1 || dim > 65536) {
    throw misuse(`index dimension must be an integer in 1..65536, got ${dim}`);
  }
}

export function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 0) throw misuse(`k must be a non-negative integer, got ${k}`);
}

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Number of rows in a row-major array of `dim`-float vectors; throws when the length is not a whole number
 * of rows, a value is NaN/±Infinity, or a row is so large that the sum of its squares overflows float32
 * (e.g. [3e38, 3e38]): its products overflow in the float32 kernels too, and an Infinity - Infinity there
 * gives a NaN score, which the top-k drops or misranks. One such vector would poison every search. Rows
 * with ‖v‖² ≤ FLOAT32_MAX cannot overflow a product (|q_i·v_i| ≤ ‖q‖·‖v‖).
 */
export function rowCount(vectors: Float32Array, dim: number, what: string): number {
  if (vectors.length % dim !== 0) {
    throw misuse(`${what}: ${vectors.length} floats is not a multiple of dimension ${dim}`);
  }
  const n = vectors.length / dim;
  for (let row = 0, at = 0; row < n; row++) {
    let squares = 0; // float64: finite for any float32 row of up to 65536 values
    for (const end = at + dim; at < end; at++) squares += vectors[at]! * vectors[at]!;
    if (squares <= FLOAT32_MAX) continue; // false for NaN too
    for (let i = row * dim; i < (row + 1) * dim; i++) {
      if (!Number.isFinite(vectors[i])) throw misuse(`${what}: vector ${row} holds a non-finite value (${vectors[i]})`);
    }
    throw misuse(`${what}: vector ${row} is too large: the sum of its squares (${squares.toPrecision(3)}) overflows float32, and so would its scores`);
  }
  return n;
}

export function checkLabels(labels: readonly string[], n: number): void {
  if (labels.length !== n) throw misuse(`add: ${labels.length} labels for ${n} vectors`);
  for (const label of labels) {
    if (typeof label !== 'string') throw misuse(`add: labels must be strings, got ${typeof label}`);
  }
}
