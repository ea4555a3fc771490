/** How an embedder is recorded in a gallery, and the check that a gallery and a pipeline agree on it. */
import { ExitCode, FacectlError } from '../errors.js';
import type { GalleryInfo, ModelInfo } from '../gallery/types.js';
import type { ResolvedEmbedder } from '../models/resolve.js';

/** The id users type plus a fingerprint of the weights and the recipe around them (template, flip...). */
export const storeModelInfo = (model: ResolvedEmbedder): ModelInfo => ({
  id: model.spec.id,
  hash: `fp:${model.fingerprint}`,
  dimension: model.spec.dim,
});

/** MODEL_MISMATCH unless the gallery was built with exactly this embedder (or holds no faces yet). */
export function requireSameModel(gallery: Pick<GalleryInfo, 'model' | 'faces'>, model: ResolvedEmbedder): void {
  const stored = gallery.model;
  if (!stored || gallery.faces === 0) return;
  const mine = storeModelInfo(model);
  if (stored.id === mine.id && stored.hash === mine.hash) return;
  // The fingerprint covers the detector too (src/models/registry.ts): same id, other hash is another
  // detector, detection revision or weights.
  const what = stored.id === mine.id ? `${stored.id} with another detector or version (${stored.hash})` : `model ${stored.id}`;
  throw new FacectlError(
    ExitCode.MODEL_MISMATCH,
    `store was built with ${what}; this is ${mine.id} (${mine.hash}): use the --model and --detector it was built with, or run \`facectl index rebuild --reembed\` to switch`,
  );
}
