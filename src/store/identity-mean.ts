/**
 * An identity's vector: the L2-normalised mean of its faces' (normalised) embeddings, summed in float64.
 * The one definition used by the files store, the PostgreSQL gallery and enroll's duplicate check, so a
 * duplicate check scores exactly what a login would.
 */

/** Writes the normalised float64 mean of `vectors` into `out` (zeros when they cancel exactly). */
export function identityMean(vectors: Iterable<Float32Array>, dimension: number, out = new Float32Array(dimension)): Float32Array {
  const sum = new Float64Array(dimension);
  for (const v of vectors) for (let d = 0; d < dimension; d++) sum[d]! += v[d]!;
  let norm = 0;
  for (let d = 0; d < dimension; d++) norm += sum[d]! * sum[d]!;
  norm = Math.sqrt(norm);
  // Opposite embeddings can cancel exactly; the zero vector then matches nothing, which is the honest result.
  if (norm > 0) for (let d = 0; d < dimension; d++) out[d] = sum[d]! / norm;
  else out.fill(0);
  return out;
}
