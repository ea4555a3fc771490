/** Vector helpers shared by the stages that compare embeddings. */

/** Inner product; for L2-normalised embeddings this is the cosine similarity. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Euclidean length: the square root of dot(v, v) (a float64 sum in index order). */
export function norm(v: Float32Array): number {
  return Math.sqrt(dot(v, v));
}

/** Scale to unit length in place (a zero vector is left as it is). */
export function l2normalize(v: Float32Array): Float32Array {
  const n = norm(v);
  if (!(n > 0)) return v;
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}
