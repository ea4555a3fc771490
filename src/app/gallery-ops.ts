/** `list`, `remove` and `info` as use cases over a Gallery. */
import type { Gallery, GalleryInfo, IdentitySummary } from '../gallery/types.js';
import { findEmbedderSpec } from '../models/resolve.js';
import { validateId } from '../gallery/index.js';
import { effectiveThreshold, type EffectiveThreshold } from './threshold.js';

export const listIdentities = (gallery: Gallery): Promise<IdentitySummary[]> => gallery.identities();

/** Removes every face of `id` in one commit; UNKNOWN_ID when it is not enrolled. */
export async function removeIdentity(gallery: Gallery, id: string): Promise<number> {
  validateId(id);
  return (await gallery.mutate((draft) => draft.removeIdentity(id), { create: false })).result;
}

export interface DescribedGallery extends GalleryInfo {
  /** The threshold `login` applies to this gallery, with where it comes from (null: model unknown here). */
  loginThreshold: EffectiveThreshold | null;
}

/** The gallery's summary, with the same login threshold `login` would use (user-added models included). */
export async function describeGallery(gallery: Gallery): Promise<DescribedGallery> {
  const info = await gallery.info();
  const spec = info.model ? await findEmbedderSpec(info.model.id).catch(() => null) : null;
  return { ...info, loginThreshold: effectiveThreshold(info.threshold, spec) };
}
