/**
 * Identification splits: who is enrolled (gallery), which photos search the gallery (probes).
 *
 * - An identity can be enrolled when it has at least gallerySize + 1 images: gallerySize of
 *   them (the first ones in natural order, or a seeded random choice) form its gallery entry,
 *   averaged into one template by the scorer; the rest are its mated probes.
 * - Open set: a seeded fraction of those identities (default 10%, at least one, always leaving
 *   two enrolled) is held out and never enrolled; all their images become non-mated probes.
 *   Identities with too few images to enroll are never enrolled either, so their images are
 *   non-mated probes too (on LFW this adds the ~4,000 single-image people, which is what
 *   makes FPIR = 0.1% measurable).
 */
import { ExitCode, FacectlError } from '../errors.js';
import type { FolderDataset } from './datasets.js';
import { createRng, sampleWithoutReplacement } from './rng.js';

export const DEFAULT_GALLERY_SIZE = 1;
export const DEFAULT_OPEN_SET_FRACTION = 0.1;
export const DEFAULT_SPLIT_SEED = 42;

export interface IdentificationSplitOptions {
  /** Images per enrolled identity (--gallery-size), default 1. */
  gallerySize?: number;
  /** 'first': the first images in natural order (default); 'random': a seeded choice. */
  gallerySelection?: 'first' | 'random';
  /** Fraction of enrollable identities held out as never enrolled, default 0.1; 0 disables. */
  openSetFraction?: number;
  seed?: number;
}

export interface GalleryEntry {
  identity: string;
  /** Images averaged into this identity's template. */
  images: string[];
}

export interface Probe {
  identity: string;
  image: string;
}

export interface IdentificationSplit {
  gallery: GalleryEntry[];
  /** Probes whose identity is enrolled. */
  matedProbes: Probe[];
  /** Probes whose identity is not enrolled (held out, or too few images). */
  nonMatedProbes: Probe[];
  heldOutIdentities: string[];
  /** Identities with at most gallerySize images: never enrolled. */
  tooFewImages: string[];
  options: Required<IdentificationSplitOptions>;
  description: string;
}

export function makeIdentificationSplit(dataset: FolderDataset, options: IdentificationSplitOptions = {}): IdentificationSplit {
  const opts: Required<IdentificationSplitOptions> = {
    gallerySize: options.gallerySize ?? DEFAULT_GALLERY_SIZE,
    gallerySelection: options.gallerySelection ?? 'first',
    openSetFraction: options.openSetFraction ?? DEFAULT_OPEN_SET_FRACTION,
    seed: options.seed ?? DEFAULT_SPLIT_SEED,
  };
  const k = opts.gallerySize;
  if (!Number.isInteger(k) || k < 1) throw new FacectlError(ExitCode.USAGE, `--gallery-size must be a positive integer, got ${k}`);
  if (!(opts.openSetFraction >= 0 && opts.openSetFraction < 1)) {
    throw new FacectlError(ExitCode.USAGE, `open-set fraction must be in [0, 1), got ${opts.openSetFraction}`);
  }
  const eligible = dataset.identities.filter((id) => id.images.length > k);
  if (eligible.length < 2) {
    throw new FacectlError(
      ExitCode.USAGE,
      `identification needs at least 2 identities with more than ${k} image(s) (gallery size ${k} + 1 probe); found ${eligible.length}`,
      dataset.root,
    );
  }
  const rng = createRng(opts.seed);
  const holdCount =
    opts.openSetFraction > 0 ? Math.min(Math.max(1, Math.round(opts.openSetFraction * eligible.length)), eligible.length - 2) : 0;
  const heldOut = new Set(sampleWithoutReplacement(eligible, holdCount, rng).map((id) => id.name));

  const gallery: GalleryEntry[] = [];
  const matedProbes: Probe[] = [];
  const nonMatedProbes: Probe[] = [];
  for (const id of dataset.identities) {
    const enrollable = id.images.length > k;
    if (!enrollable || heldOut.has(id.name)) {
      nonMatedProbes.push(...id.images.map((image) => ({ identity: id.name, image })));
      continue;
    }
    const chosen = new Set(
      opts.gallerySelection === 'first' ? id.images.slice(0, k) : sampleWithoutReplacement(id.images, k, rng),
    );
    gallery.push({ identity: id.name, images: id.images.filter((img) => chosen.has(img)) });
    matedProbes.push(...id.images.filter((img) => !chosen.has(img)).map((image) => ({ identity: id.name, image })));
  }

  const tooFewImages = dataset.identities.filter((id) => id.images.length <= k).map((id) => id.name);
  const heldOutIdentities = dataset.identities.filter((id) => heldOut.has(id.name)).map((id) => id.name);
  return {
    gallery,
    matedProbes,
    nonMatedProbes,
    heldOutIdentities,
    tooFewImages,
    options: opts,
    description:
      `${gallery.length} enrolled identities (${k} image(s) each, ${opts.gallerySelection}), ${matedProbes.length} mated probes; ` +
      `${nonMatedProbes.length} non-mated probes from ${heldOutIdentities.length} held-out and ${tooFewImages.length} too-small identities (seed ${opts.seed})`,
  };
}
