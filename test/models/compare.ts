/** How closely two outputs agree, as the conversion tests and the bench report it. */

/**
 * Max relative error of a whole tensor: max|a − b| / max|b|. Scaling by the tensor's largest
 * magnitude (rather than per element) keeps near-zero elements from inflating the figure while
 * still catching any element that is off by more than float32 rounding of the big ones.
 */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
    diff = Math.max(diff, Math.abs(a - b));
    scale = Math.max(scale, Math.abs(b));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Cosine similarity of each `dim`-long row of two batches. */
export function rowCosines(actual: Float32Array, expected: Float32Array, dim: number): number[] {
  const rows = expected.length / dim;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      ab += actual[i]! * expected[i]!;
      aa += actual[i]! * actual[i]!;
      bb += expected[i]! * expected[i]!;
    }
    out.push(ab / Math.sqrt(aa * bb));
  }
  return out;
}
