/**
 * Login: embed the face in a photo, search the enrolled identities by inner product, and decide.
 * A face below the threshold is UNKNOWN, however close its nearest enrolled person is: a stranger is
 * never logged in as the nearest neighbour.
 */
import { ExitCode, FacectlError } from '../errors.js';
import type { Candidate, Gallery, GalleryInfo, IdentityFaces, IndexChoice } from '../gallery/types.js';
import type { FacePipeline, PhotoInput } from '../pipeline/pipeline.js';
import type { EmbeddedFace } from '../pipeline/types.js';
import { requireSameModel } from './store-model.js';
import { effectiveThreshold, type EffectiveThreshold } from './threshold.js';

export type { Candidate };

export interface LoginOptions {
  top: number;
  /** Overrides the gallery's threshold. */
  threshold?: number;
  allFaces: boolean;
  index: IndexChoice;
}

export interface FaceDecision {
  face: EmbeddedFace;
  decision: 'ACCEPT' | 'UNKNOWN';
  /** The accepted identity (ACCEPT only). */
  id?: string;
  name?: string;
  score: number;
  candidates: Candidate[];
  /** Faces the detector found in the photo; without allFaces the decision is on the largest of them. */
  facesInPhoto: number;
}

export interface LoginResult {
  image: string;
  threshold: EffectiveThreshold;
  decisions: FaceDecision[];
  /** The enrolled faces of each accepted identity, for a check by eye. */
  enrolled: Map<string, IdentityFaces>;
  index: { kind: string; origin: string };
}

/** A gallery opened for logins: its summary, index choice and threshold, reusable across many photos (benchmarks, services). */
export interface LoginContext {
  gallery: Gallery;
  info: GalleryInfo;
  index: IndexChoice;
  threshold: EffectiveThreshold;
  /** The index the last search used. */
  lastIndex?: { kind: string; origin: string };
}

/**
 * An empty gallery opens (a service on it can enroll the first person and answer pings); it is a login
 * into it that fails (`identify`).
 */
export async function openLoginContext(pipeline: FacePipeline, gallery: Gallery, options: Pick<LoginOptions, 'threshold' | 'index'>): Promise<LoginContext> {
  const info = await gallery.info();
  requireSameModel(info, pipeline.embedderInfo!);
  return { gallery, info, index: options.index, threshold: effectiveThreshold(info.threshold, pipeline.embedderInfo!.spec, options.threshold)! };
}

/** Embed the photo's face(s) and decide against an opened gallery. */
export async function identify(pipeline: FacePipeline, ctx: LoginContext, image: PhotoInput, options: Pick<LoginOptions, 'top' | 'allFaces'>): Promise<FaceDecision[]> {
  if (ctx.info.faces === 0) throw new FacectlError(ExitCode.STORE_ERROR, 'the store is empty: enroll someone first (facectl enroll <id> <photos...>)', ctx.gallery.location);
  const { faces, detected } = await pipeline.processPhoto(image, options.allFaces ? 'all' : 'largest');
  const dim = ctx.info.model!.dimension;
  const queries = new Float32Array(faces.length * dim);
  faces.forEach((f, i) => queries.set(f.embedding, i * dim));
  const found = await pipeline.timer.time('search', () => ctx.gallery.search(queries, Math.max(1, options.top), ctx.index));
  ctx.lastIndex = found.index;
  return faces.map((face, i): FaceDecision => {
    const candidates = found.hits[i]!;
    const best = candidates[0];
    if (best && best.score >= ctx.threshold.value) return { face, decision: 'ACCEPT', id: best.id, name: best.name, score: best.score, candidates, facesInPhoto: detected };
    return { face, decision: 'UNKNOWN', score: best?.score ?? -1, candidates, facesInPhoto: detected };
  });
}

export async function login(pipeline: FacePipeline, gallery: Gallery, image: string, options: LoginOptions): Promise<LoginResult> {
  return loginWith(pipeline, await openLoginContext(pipeline, gallery, options), image, options);
}

/** One login against an opened gallery: the decisions, and the enrolled faces of each accepted identity. */
export async function loginWith(pipeline: FacePipeline, ctx: LoginContext, image: PhotoInput, options: Pick<LoginOptions, 'top' | 'allFaces'>): Promise<LoginResult> {
  const decisions = await identify(pipeline, ctx, image, options);
  const enrolled = new Map<string, IdentityFaces>();
  for (const d of decisions) if (d.id && !enrolled.has(d.id)) enrolled.set(d.id, await ctx.gallery.facesOf(d.id));
  const label = typeof image === 'string' ? image : image.label;
  return { image: label, threshold: ctx.threshold, decisions, enrolled, index: ctx.lastIndex ?? { kind: 'none', origin: 'none' } };
}
