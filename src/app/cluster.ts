/**
 * `facectl cluster`: who is in this pile of photos, without enrolling anyone. Every face of every photo
 * that enroll's quality gates would accept is embedded, then grouped (src/cluster/chinese-whispers.ts)
 * at a cosine threshold; the others are listed as left out, with the reason.
 *
 * The default threshold is the model's 1:N login one, not its 1:1 verify one: among n faces each face
 * has n − 1 chances of a false link, as a login photo has one per enrolled person, and a single false
 * link can chain two people together. On LFW View 1 (README: Clustering) the verify threshold chained
 * 2,131 people into 391 groups (BCubed precision 24 %); the login threshold was within a point of the
 * best of a sweep.
 */
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { clusterVectors } from '../cluster/chinese-whispers.js';
import { ExitCode, FacectlError, isPhotoProblem } from '../errors.js';
import { isObviousNonImage, naturalCompare } from '../eval/datasets.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { ENROLL_QUALITY, qualityProblem } from '../pipeline/quality.js';
import type { Box } from '../pipeline/types.js';
import type { PhotoProblem } from './enroll.js';
import { uniqueName } from './unique-name.js';

export interface ClusteredFace {
  file: string;
  /** The face's number in its photo (1 = the first found). */
  face: number;
  box: Box;
  score: number;
}

export interface ClusterResult {
  threshold: { value: number; source: string };
  /** Groups of faces, largest first; a face linked to no other is a group of one. */
  groups: ClusteredFace[][];
  /** Faces not grouped because `enroll` would refuse them too (too small, too uncertain, turned too far). */
  leftOut: (ClusteredFace & { reason: string })[];
  /** Photos that gave no face (unreadable, no face found). */
  skipped: PhotoProblem[];
}

/**
 * The photos under `paths` (files, or folders walked recursively), in natural order; documents and dotfiles
 * skipped. Each file and folder is taken once by its real path, so a symbolic link loop ends and a photo
 * reached twice (through `--link-to` folders of an earlier run) counts once. A dangling link inside a folder
 * is kept, to be listed as a photo that could not be read; a path given that does not exist is NOT_FOUND.
 */
export function listPhotos(paths: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (p: string, explicit: boolean) => {
    let info;
    try {
      info = statSync(p);
    } catch {
      if (explicit) throw new FacectlError(ExitCode.NOT_FOUND, 'no such file or folder', p);
      if (!isObviousNonImage(path.basename(p))) out.push(p); // a dangling link: reported when it cannot be read
      return;
    }
    const real = realpathSync(p);
    if (seen.has(real)) return;
    seen.add(real);
    if (info.isDirectory()) {
      const names = readdirSync(p).sort(naturalCompare);
      for (const name of names) if (!name.startsWith('.')) walk(path.join(p, name), false);
    } else if (explicit || !isObviousNonImage(path.basename(p))) out.push(p);
  };
  for (const p of paths) walk(p, true);
  return out;
}

export async function clusterPhotos(
  pipeline: FacePipeline,
  files: readonly string[],
  options: { threshold?: number; neighbours?: number; onPhoto?: (done: number) => void } = {},
): Promise<ClusterResult> {
  const spec = pipeline.embedderInfo!.spec;
  const threshold =
    options.threshold !== undefined
      ? { value: options.threshold, source: '--threshold' }
      : { value: spec.thresholds.login.value, source: `the model's 1:N login threshold (${spec.thresholds.login.provenance})` };
  const faces: ClusteredFace[] = [];
  const vectors: Float32Array[] = [];
  const skipped: PhotoProblem[] = [];
  const leftOut: ClusterResult['leftOut'] = [];
  for (const [i, file] of files.entries()) {
    try {
      const found = await pipeline.processFile(file, 'all');
      found.faces.forEach((f, k) => {
        const face = { file, face: k + 1, box: f.box, score: f.score };
        // Tiny background faces and profiles give vectors that link to the wrong people: left out, with why.
        const problem = qualityProblem(f.quality, ENROLL_QUALITY);
        if (problem) return void leftOut.push({ ...face, reason: problem });
        faces.push(face);
        vectors.push(f.embedding);
      });
    } catch (err) {
      if (!isPhotoProblem(err)) throw err;
      skipped.push({ file, code: err.code, reason: err.message });
    }
    options.onPhoto?.(i + 1);
  }
  const dim = spec.dim;
  const all = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => all.set(v, i * dim));
  const labels = clusterVectors(all, dim, { threshold: threshold.value, neighbours: options.neighbours });
  const groups: ClusteredFace[][] = [];
  labels.forEach((g, i) => (groups[g] ??= []).push(faces[i]!));
  // Largest first; equal sizes keep the order of their first face.
  groups.sort((a, b) => b.length - a.length);
  return { threshold, groups, leftOut, skipped };
}

/** USAGE unless `dir` is missing or an empty folder (checked before the long part, and again when linking). */
export function requireNewOrEmptyFolder(dir: string): void {
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0))
    throw new FacectlError(ExitCode.USAGE, 'not an empty folder: --link-to makes one folder per group and overwrites nothing', dir);
}

/**
 * One folder per group of at least `minSize` faces under `dir` (group-001 = the largest), holding a
 * symbolic link to each photo, so a photo library can be browsed by person without a second copy of
 * anyone's photos. `dir` must be new or empty (nothing is overwritten); folders are private (0700).
 * Returns the folders made.
 */
export function linkGroups(groups: readonly ClusteredFace[][], dir: string, minSize: number): string[] {
  requireNewOrEmptyFolder(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const wide = String(groups.length).length;
  const made: string[] = [];
  groups.forEach((g, i) => {
    if (g.length < minSize) return;
    const folder = path.join(dir, `group-${String(i + 1).padStart(Math.max(3, wide), '0')}`);
    mkdirSync(folder, { mode: 0o700 });
    const used = new Set<string>();
    for (const file of new Set(g.map((f) => f.file))) {
      const name = uniqueName(used, path.parse(file).name, path.extname(file));
      symlinkSync(path.resolve(file), path.join(folder, name));
    }
    made.push(folder);
  });
  return made;
}
