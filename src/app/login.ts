/**
 * Login: embed the face in a photo, search the enrolled identities by inner product, and decide.
 * A face below the threshold is UNKNOWN, however close its nearest enrolled person is: a stranger is
 * never logged in as the nearest neighbour.
 */
import { ExitCode, FacectlError } from '../errors.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import type { EmbeddedFace } from '../pipeline/types.js';
import { dot } from '../pipeline/vector.js';
import { GalleryStore, type StoreSnapshot } from '../store/index.js';
import { openGalleryIndex, type GalleryIndex, type IndexChoice } from './gallery-index.js';
import { requireSameModel } from './store-model.js';

export interface LoginOptions {
  top: number;
  /** Overrides the store's threshold. */
  threshold?: number;
  allFaces: boolean;
  index: IndexChoice;
}

export interface Candidate {
  id: string;
  name: string;
  score: number;
}

export interface FaceDecision {
  face: EmbeddedFace;
  decision: 'ACCEPT' | 'UNKNOWN';
  /** The accepted identity (ACCEPT only). */
  id?: string;
  name?: string;
  score: number;
  candidates: Candidate[];
}

export interface LoginResult {
  image: string;
  threshold: { value: number; source: string };
  decisions: FaceDecision[];
  snapshot: StoreSnapshot;
  index: { kind: string; origin: string };
}

/** The threshold a login applies: --threshold, else the store's (calibrated or set), else the model's default. */
export function effectiveThreshold(snapshot: StoreSnapshot, pipeline: FacePipeline, override?: number): { value: number; source: string } {
  if (override !== undefined) return { value: override, source: '--threshold' };
  const t = snapshot.threshold;
  if (t) {
    const rate = t.basis === 'open-set' ? 'FPIR' : 'FPR';
    return { value: t.value, source: t.source === 'calibrated' ? `calibrated on ${t.dataset ?? '?'} at ${rate} ${t.targetFpr ?? '?'} (${t.date.slice(0, 10)})` : t.source };
  }
  const d = pipeline.embedder.spec.thresholds.login;
  return { value: d.value, source: `model default, ${d.provenance}` };
}

/** A store opened for logins: snapshot, index and threshold, reusable across many photos (benchmarks, services). */
export interface LoginContext {
  snapshot: StoreSnapshot;
  gallery: GalleryIndex;
  threshold: { value: number; source: string };
}

export async function openLoginContext(pipeline: FacePipeline, storeDir: string, options: Pick<LoginOptions, 'threshold' | 'index'>): Promise<LoginContext> {
  const snapshot = await GalleryStore.open(storeDir);
  if (snapshot.faceCount === 0) throw new FacectlError(ExitCode.STORE_ERROR, 'the store is empty: enroll someone first (facectl enroll <id> <photos...>)', storeDir);
  requireSameModel(snapshot, pipeline.embedderInfo!);
  return { snapshot, gallery: openGalleryIndex(snapshot, options.index), threshold: effectiveThreshold(snapshot, pipeline, options.threshold) };
}

/** Embed the photo's face(s) and decide against an opened store. */
export async function identify(pipeline: FacePipeline, ctx: LoginContext, image: string, options: Pick<LoginOptions, 'top' | 'allFaces'>): Promise<FaceDecision[]> {
  const { faces } = await pipeline.processFile(image, options.allFaces ? 'all' : 'largest');
  const { snapshot, threshold } = ctx;
  const dim = snapshot.dimension;
  const queries = new Float32Array(faces.length * dim);
  faces.forEach((f, i) => queries.set(f.embedding, i * dim));
  const hits = await pipeline.timer.time('search', () => ctx.gallery.index.search(queries, Math.max(1, options.top)));
  return faces.map((face, i): FaceDecision => {
    const hit = hits[i]!;
    const candidates = hit.labels.map((id, k) => ({ id, name: snapshot.identity(id)?.name ?? '', score: hit.scores[k]! }));
    // HNSW stores 8-bit vectors (scores off by up to ~0.01): the decision near the threshold uses exact scores.
    if (ctx.gallery.kind === 'hnsw') {
      for (const c of candidates) c.score = dot(face.embedding, snapshot.identity(c.id)!.vector);
      candidates.sort((a, b) => b.score - a.score);
    }
    const best = candidates[0];
    if (best && best.score >= threshold.value) return { face, decision: 'ACCEPT', id: best.id, name: best.name, score: best.score, candidates };
    return { face, decision: 'UNKNOWN', score: best?.score ?? -1, candidates };
  });
}

export async function login(pipeline: FacePipeline, storeDir: string, image: string, options: LoginOptions): Promise<LoginResult> {
  const ctx = await openLoginContext(pipeline, storeDir, options);
  const decisions = await identify(pipeline, ctx, image, options);
  return {
    image,
    threshold: ctx.threshold,
    decisions,
    snapshot: ctx.snapshot,
    index: { kind: ctx.gallery.kind, origin: ctx.gallery.origin },
  };
}
