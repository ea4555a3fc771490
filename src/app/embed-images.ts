/**
 * Embed many dataset images through the pipeline, one face per image, with the per-(image sha256, model)
 * embedding cache in front: a rerun, or a second protocol over the same photos, costs only file hashing.
 * A photo's own failures (no face, unreadable image) are results too, cached and reported, never dropped;
 * any other failure (a model that cannot run) stops the embedding and is never cached.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { EmbeddingCache, EmbeddingResult } from '../eval/index.js';
import { isPhotoProblem } from '../errors.js';
import { fileKind } from '../file-kind.js';
import { DETECTION_REVISION } from '../pipeline/detectors/types.js';
import { combineEnsemble } from '../pipeline/ensemble.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { executionRevision } from '../pipeline/runtime.js';
import type { FacePolicy } from '../pipeline/select.js';

/**
 * What a cached embedding depends on besides the photo: the embedder (id + fingerprint of weights,
 * recipe and detector), which face of the photo was taken, the revision of the detection code, and how
 * the models are run (`-x…`: onnxruntime graph rewrites, absent when they are off).
 */
export function embeddingCacheKey(pipeline: Pick<FacePipeline, 'embedderInfo'>, policy: FacePolicy): string {
  const model = pipeline.embedderInfo;
  if (!model) throw new Error('pipeline was loaded without an embedder');
  return `${model.spec.id}-${model.fingerprint}-${policy}-r${DETECTION_REVISION}${executionRevision()}`;
}

/**
 * An ensemble's result for a photo from its members' cached results, when every member has one: the
 * same vector the ensemble embedder computes (same detection, same crop, combineEnsemble), so an ensemble
 * evaluated after its members costs only hashing. A failure of any member is the ensemble's failure.
 */
export function ensembleFromMembers(members: readonly EmbeddingCache[], weights: readonly number[]): (sha256: string) => EmbeddingResult | undefined {
  return (sha256) => {
    const parts = members.map((c) => c.get(sha256));
    if (parts.some((p) => !p)) return undefined;
    const failed = parts.find((p) => !p!.ok);
    if (failed) return failed;
    return { ok: true, embedding: combineEnsemble(parts.map((p) => (p as { embedding: Float32Array }).embedding), weights) };
  };
}

export interface EmbedProgress {
  done: number;
  total: number;
  cached: number;
  failed: number;
  /** Images per second over the images actually embedded (cache hits excluded). */
  imagesPerSecond: number;
}

export interface EmbedImagesResult {
  results: Map<string, EmbeddingResult>;
  cached: number;
  embedded: number;
  seconds: number;
  /** Throughput of the pipeline itself (embedded images / their wall time). */
  imagesPerSecond: number;
}

export async function embedImages(
  pipeline: FacePipeline,
  root: string,
  images: readonly string[],
  options: {
    policy: FacePolicy;
    cache?: EmbeddingCache | null;
    /** A second cache to try (an ensemble's, made from its members' caches); its results count as cached. */
    compose?: ((sha256: string) => EmbeddingResult | undefined) | null;
    onProgress?: (p: EmbedProgress) => void;
  },
): Promise<EmbedImagesResult> {
  const results = new Map<string, EmbeddingResult>();
  let cached = 0, embedded = 0, failed = 0, embedMs = 0;
  const t0 = performance.now();
  for (const rel of images) {
    const file = path.join(root, rel);
    let result: EmbeddingResult;
    let bytes: Buffer | null = null;
    let sha: string | null = null;
    try {
      const read = await readRegularFile(file);
      if (typeof read === 'string') result = { ok: false, reason: `${read}, not a photo file` };
      else {
        bytes = read;
        sha = createHash('sha256').update(bytes).digest('hex');
      }
    } catch (err) {
      result = { ok: false, reason: `unreadable file (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
    }
    const hit = sha ? options.cache?.get(sha) : undefined;
    const composed = sha && !hit ? options.compose?.(sha) : undefined;
    if (hit) {
      result = hit;
      cached++;
    } else if (composed && sha) {
      result = composed;
      cached++;
      options.cache?.put(sha, result);
    } else if (bytes && sha) {
      const t1 = performance.now();
      result = await embedOne(pipeline, bytes, file, options.policy);
      embedMs += performance.now() - t1;
      embedded++;
      options.cache?.put(sha, result);
    }
    if (!result!.ok) failed++;
    results.set(rel, result!);
    options.onProgress?.({ done: results.size, total: images.length, cached, failed, imagesPerSecond: embedded / Math.max(1e-9, embedMs / 1000) });
  }
  options.cache?.flush();
  return {
    results,
    cached,
    embedded,
    seconds: (performance.now() - t0) / 1000,
    imagesPerSecond: embedded ? embedded / (embedMs / 1000) : 0,
  };
}

/**
 * A photo's bytes, or what it is when it is not a regular file (links followed). Opened without blocking and checked
 * on the open file: a FIFO named in a pairs file would hang the reading for ever, a link to /dev/zero would read
 * without end (the folder scan skips both; a pairs file names photos by hand).
 */
async function readRegularFile(file: string): Promise<Buffer | string> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      if (st.isDirectory()) throw Object.assign(new Error('a folder'), { code: 'EISDIR' });
      return fileKind(st);
    }
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

async function embedOne(pipeline: FacePipeline, bytes: Uint8Array, file: string, policy: FacePolicy): Promise<EmbeddingResult> {
  try {
    const image = await pipeline.decodeBytes(bytes, file);
    const [face] = await pipeline.processImage(image, policy, {}, file);
    return { ok: true, embedding: face!.embedding };
  } catch (err) {
    // A model error cached as "no face" would fail this photo in every later eval, whatever was fixed.
    if (isPhotoProblem(err)) return { ok: false, reason: err.message };
    throw err;
  }
}
