/**
 * The measurements bench:detectors makes: faces found on folders of photos, and LFW accuracy of a
 * (detector, embedder) pair through the pipeline's own detect / align / embed code. Detection runs once
 * per detector and photo; every embedder then embeds the same faces.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { measure, type EvalPlan } from '../../src/app/eval.js';
import type { EmbeddingResult } from '../../src/eval/index.js';
import { resolveEmbedder } from '../../src/models/resolve.js';
import { decodeImageFile } from '../../src/pipeline/decode.js';
import type { FaceDetector } from '../../src/pipeline/detectors/types.js';
import { loadEmbedder } from '../../src/pipeline/pipeline.js';
import { selectFace } from '../../src/pipeline/select.js';
import type { FivePoints } from '../../src/pipeline/types.js';

export interface FolderCount {
  folder: string;
  photos: number;
  faces: number;
  photosWithFace: number;
  msPerPhoto: number;
}

/** Faces found ('thorough', as `facectl detect` does) in each folder, with time per photo. */
export async function countFaces(detector: FaceDetector, root: string, folders: readonly string[]): Promise<FolderCount[]> {
  const rows: FolderCount[] = [];
  for (const folder of folders) {
    const row = { folder, photos: 0, faces: 0, photosWithFace: 0, msPerPhoto: 0 };
    let ms = 0;
    for (const file of readdirSync(path.join(root, folder)).sort()) {
      if (file.endsWith('.md')) continue;
      const image = await decodeImageFile(path.join(root, folder, file)).catch(() => null);
      if (!image) continue;
      const t0 = performance.now();
      const faces = await detector.detect(image, { mode: 'thorough' });
      ms += performance.now() - t0;
      row.photos++;
      row.faces += faces.length;
      if (faces.length) row.photosWithFace++;
    }
    row.msPerPhoto = ms / Math.max(1, row.photos);
    rows.push(row);
  }
  return rows;
}

export interface Detections {
  /** The centre face's five points per image (null: no face), image decoded again when embedding. */
  points: Map<string, FivePoints | null>;
  msPerPhoto: number;
}

/** One face per photo (the one nearest the centre, as eval's default policy), detected once. */
export async function detectCentreFaces(detector: FaceDetector, root: string, images: readonly string[]): Promise<Detections> {
  const points = new Map<string, FivePoints | null>();
  let ms = 0;
  for (const rel of images) {
    const image = await decodeImageFile(path.join(root, rel));
    const t0 = performance.now();
    const face = selectFace(await detector.detect(image, { mode: 'fast' }), image, 'center');
    ms += performance.now() - t0;
    points.set(rel, face ? face.landmarks : null);
  }
  return { points, msPerPhoto: ms / Math.max(1, images.length) };
}

export interface PairResult {
  detector: string;
  embedder: string;
  noFace: number;
  images: number;
  rocAuc: number;
  eer: number;
  /** Held-out 10-fold accuracy when the pairs file has folds (View 2), else the best single threshold's (optimistic). */
  accuracy: number;
  accuracySe: number | null;
  accuracyKind: '10-fold' | 'best threshold';
  dirAtFpir1: number | null;
}

/** Embed the detected faces with `embedderId` and measure the plan (verification + open-set identification). */
export async function embedAndMeasure(plan: EvalPlan, detector: FaceDetector, det: Detections, embedderId: string): Promise<PairResult> {
  const resolved = await resolveEmbedder(embedderId, detector.identity);
  const embedder = await loadEmbedder(resolved);
  const results = new Map<string, EmbeddingResult>();
  let batch: { rel: string; crop: Float32Array }[] = [];
  const flush = async () => {
    const vectors = await embedder.embedCrops(batch.map((b) => b.crop));
    batch.forEach((b, i) => results.set(b.rel, { ok: true, embedding: vectors[i]! }));
    batch = [];
  };
  for (const rel of plan.images) {
    const pts = det.points.get(rel);
    if (!pts) {
      results.set(rel, { ok: false, reason: 'no face found' });
      continue;
    }
    batch.push({ rel, crop: embedder.crop(await decodeImageFile(path.join(plan.root, rel)), pts) });
    if (batch.length === 16) await flush();
  }
  if (batch.length) await flush();
  return summarise(plan, (img) => results.get(img), detector.id, embedderId);
}

export function summarise(plan: EvalPlan, lookup: (img: string) => EmbeddingResult | undefined, detector: string, embedder: string): PairResult {
  const m = measure(plan, lookup, {});
  const v = m.metrics.verification!.allPairs;
  const dir = m.metrics.identification?.openSet?.dirAtFpir.find((d) => d.targetFpir === 0.01)?.dir ?? null;
  const kFold = v.kFold?.mean != null && (plan.protocol?.foldCount ?? 1) > 1;
  return {
    detector,
    embedder,
    noFace: plan.images.filter((img) => !lookup(img)?.ok).length,
    images: plan.images.length,
    rocAuc: v.rocAuc,
    eer: v.eer.rate,
    accuracy: kFold ? v.kFold!.mean! : v.bestThreshold.accuracy,
    accuracySe: kFold ? v.kFold!.standardError : null,
    accuracyKind: kFold ? '10-fold' : 'best threshold',
    dirAtFpir1: dir,
  };
}
