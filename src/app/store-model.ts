/** How an embedder is recorded in a gallery, and the check that a gallery and a pipeline agree on it. */
import { ExitCode, FacectlError } from '../errors.js';
import type { GalleryInfo, ModelInfo } from '../gallery/types.js';
import type { ResolvedEmbedder } from '../models/resolve.js';

/** Stores without a detector in their model hash were made through BlazeFace (facectl 0.1.0 and the default). */
const LEGACY_DETECTOR = 'blazeface';

/**
 * The id users type plus a fingerprint of the weights and the recipe around them (template, flip,
 * detector...). The detector's id follows an `@` (none for BlazeFace, so older stores read the same),
 * so commands on a store use its detector unless --detector says otherwise.
 */
export const storeModelInfo = (model: ResolvedEmbedder): ModelInfo => ({
  id: model.spec.id,
  hash: `fp:${model.fingerprint}${model.detector === LEGACY_DETECTOR ? '' : `@${model.detector}`}`,
  dimension: model.spec.dim,
});

/** The detector a gallery's faces were found with. */
export const storeDetector = (model: ModelInfo): string => model.hash.split('@')[1] ?? LEGACY_DETECTOR;

/** MODEL_MISMATCH, with the model the gallery holds (a long-lived service words its own advice from it). */
export class ModelMismatchError extends FacectlError {
  constructor(
    readonly stored: ModelInfo,
    message: string,
  ) {
    super(ExitCode.MODEL_MISMATCH, message);
  }
}

/** MODEL_MISMATCH unless the gallery was built with exactly this embedder (or holds no faces yet). */
export function requireSameModel(gallery: Pick<GalleryInfo, 'model' | 'faces'>, model: ResolvedEmbedder): void {
  const stored = gallery.model;
  if (!stored || gallery.faces === 0) return;
  const mine = storeModelInfo(model);
  if (stored.id === mine.id && stored.hash === mine.hash) return;
  // The fingerprint covers the detector too (src/models/registry.ts): same id, other hash is another
  // detector, detection revision, weights or preprocessing (a user model replaced under the same id).
  const what = stored.id === mine.id ? `${stored.id} with other weights, preprocessing or detector, or another version (${stored.hash})` : `model ${stored.id}`;
  throw new ModelMismatchError(
    stored,
    `store was built with ${what}; this is ${mine.id} (${mine.hash}): use the --model and --detector it was built with, or run \`facectl index rebuild --reembed\` to switch`,
  );
}
