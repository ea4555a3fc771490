/**
 * The seed's login scenario, end to end on LFW through the product's own code paths: enroll one photo
 * per person (people with ≥ 2 photos) into a real store, log in with another photo of each, and log in
 * people who were never enrolled (one-photo people) to count false accepts of strangers.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { embedEnrollPhoto, isProblem } from '../../src/app/enroll.js';
import { identify, openLoginContext } from '../../src/app/login.js';
import { storeModelInfo } from '../../src/app/store-model.js';
import { openGallery } from '../../src/gallery/open.js';
import { FacectlError } from '../../src/errors.js';
import type { FacePipeline } from '../../src/pipeline/pipeline.js';
import { GalleryStore, type NewFace } from '../../src/store/index.js';

export interface LfwLoginOptions {
  /** Enrolled people (those with ≥ 2 photos, in name order); default all 1,680. */
  people?: number;
  /** Strangers (people with exactly 1 photo, never enrolled); default as many as enrolled people. */
  strangers?: number;
  threshold?: number;
  onProgress?: (phase: string, done: number, total: number) => void;
}

export interface LfwLoginResult {
  enrolled: number;
  enrollFailures: number;
  probes: number;
  /** Probes whose best match is the right person (threshold ignored). */
  rank1: number;
  /** Probes accepted as the right person (at the threshold). */
  correctAccepts: number;
  /** Probes accepted as someone else. */
  wrongAccepts: number;
  strangers: number;
  strangerAccepts: number;
  probeFailures: number;
  threshold: number;
  thresholdSource: string;
  seconds: number;
}

export async function runLfwLogin(pipeline: FacePipeline, lfwDir: string, storeDir: string, options: LfwLoginOptions = {}): Promise<LfwLoginResult> {
  const t0 = performance.now();
  const all = readdirSync(lfwDir).filter((d) => !d.includes('.')).sort();
  const photos = (p: string) => readdirSync(path.join(lfwDir, p)).filter((f) => f.endsWith('.jpg')).sort();
  const multi = all.filter((p) => photos(p).length >= 2).slice(0, options.people ?? Infinity);
  const singles = all.filter((p) => photos(p).length === 1).slice(0, options.strangers ?? multi.length);

  const faces: NewFace[] = [];
  let enrollFailures = 0;
  for (const [i, p] of multi.entries()) {
    const file = path.join(lfwDir, p, photos(p)[0]!);
    const r = await embedEnrollPhoto(pipeline, file, 'center');
    if (isProblem(r)) enrollFailures++;
    else faces.push({ id: p, name: p.replace(/_/g, ' '), sourcePath: file, imageSha256: r.imageSha256, box: r.face.box, quality: r.face.quality, embedding: r.face.embedding });
    options.onProgress?.('enroll', i + 1, multi.length);
  }
  await GalleryStore.mutate(storeDir, (draft) => void draft.addFaces(storeModelInfo(pipeline.embedderInfo!), faces));

  const ctx = await openLoginContext(pipeline, await openGallery(storeDir, { mustExist: true, search: true }), { index: 'auto', threshold: options.threshold });
  const enrolled = new Set(faces.map((f) => f.id));
  let rank1 = 0, correctAccepts = 0, wrongAccepts = 0, probeFailures = 0, strangerAccepts = 0, probes = 0;
  const login = async (file: string) => {
    try {
      return (await identify(pipeline, ctx, file, { top: 1, allFaces: false }))[0]!;
    } catch (err) {
      if (err instanceof FacectlError) return null;
      throw err;
    }
  };
  for (const [i, p] of multi.entries()) {
    if (!enrolled.has(p)) continue;
    probes++;
    const d = await login(path.join(lfwDir, p, photos(p)[1]!));
    if (!d) probeFailures++;
    else {
      if (d.candidates[0]?.id === p) rank1++;
      if (d.decision === 'ACCEPT') d.id === p ? correctAccepts++ : wrongAccepts++;
    }
    options.onProgress?.('login', i + 1, multi.length);
  }
  for (const [i, p] of singles.entries()) {
    const d = await login(path.join(lfwDir, p, photos(p)[0]!));
    if (d?.decision === 'ACCEPT') strangerAccepts++;
    options.onProgress?.('strangers', i + 1, singles.length);
  }
  return {
    enrolled: faces.length, enrollFailures, probes, rank1, correctAccepts, wrongAccepts,
    strangers: singles.length, strangerAccepts, probeFailures,
    threshold: ctx.threshold.value, thresholdSource: ctx.threshold.source,
    seconds: (performance.now() - t0) / 1000,
  };
}
