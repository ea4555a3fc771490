/**
 * From per-image embeddings (or failure reasons) to scores: pair similarities for verification
 * and gallery searches for identification. The face pipeline itself is not called here; the
 * caller supplies a lookup from dataset-relative image path to its result.
 */

export type EmbeddingResult = { ok: true; embedding: Float32Array } | { ok: false; reason: string };
/** Result for a dataset-relative image path; undefined means the image was never processed (a bug). */
export type EmbeddingLookup = (image: string) => EmbeddingResult | undefined;

/**
 * Score given to a pair when either image has no embedding (no face, unreadable...).
 * -1 is the lowest cosine similarity, so such a pair is a non-match at any sensible threshold:
 * the published protocol counts every pair, so failures must cost accuracy, not vanish.
 */
export const FAILED_PAIR_SCORE = -1;

export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`embedding sizes differ: ${a.length} vs ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  if (na === 0 || nb === 0) throw new RangeError('zero-length embedding');
  // Clamp rounding (|cos| may exceed 1 by an ulp) so scores stay in [-1, 1].
  return Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
}

export function lookupOrThrow(lookup: EmbeddingLookup, image: string): EmbeddingResult {
  const r = lookup(image);
  if (r === undefined) throw new Error(`no embedding result for ${image}: every image must be processed before scoring`);
  return r;
}

export interface ImageFailure {
  image: string;
  reason: string;
}

/** Every image among `images` whose embedding failed, with its reason, in the given order. */
export function collectFailures(images: Iterable<string>, lookup: EmbeddingLookup): ImageFailure[] {
  const out: ImageFailure[] = [];
  for (const image of images) {
    const r = lookupOrThrow(lookup, image);
    if (!r.ok) out.push({ image, reason: r.reason });
  }
  return out;
}

/** Mean of the successful embeddings, L2-normalised; null when none succeeded. */
export function averageTemplate(results: readonly EmbeddingResult[]): Float32Array | null {
  const ok = results.filter((r): r is { ok: true; embedding: Float32Array } => r.ok);
  if (ok.length === 0) return null;
  const dim = ok[0]!.embedding.length;
  const sum = new Float64Array(dim);
  for (const r of ok) {
    if (r.embedding.length !== dim) throw new RangeError(`embedding sizes differ: ${dim} vs ${r.embedding.length}`);
    for (let i = 0; i < dim; i++) sum[i]! += r.embedding[i]!;
  }
  const norm = Math.sqrt(sum.reduce((a, v) => a + v * v, 0));
  if (norm === 0) throw new RangeError('gallery embeddings average to the zero vector');
  return Float32Array.from(sum, (v) => v / norm);
}
