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

/**
 * Number of rows in a row-major array of `dim`-float vectors; throws when the length is not a
 * whole number of rows or a value is NaN/±Infinity (one such vector would poison every search).
 */
export function rowCount(vectors: Float32Array, dim: number, what: string): number {
  if (vectors.length % dim !== 0) {
    throw misuse(`${what}: ${vectors.length} floats is not a multiple of dimension ${dim}`);
  }
  for (let i = 0; i < vectors.length; i++) {
    if (!Number.isFinite(vectors[i])) {
      throw misuse(`${what}: vector ${Math.floor(i / dim)} holds a non-finite value (${vectors[i]})`);
    }
  }
  return vectors.length / dim;
}

export function checkLabels(labels: readonly string[], n: number): void {
  if (labels.length !== n) throw misuse(`add: ${labels.length} labels for ${n} vectors`);
  for (const label of labels) {
    if (typeof label !== 'string') throw misuse(`add: labels must be strings, got ${typeof label}`);
  }
}
