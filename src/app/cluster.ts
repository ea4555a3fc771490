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
import { lstatSync, mkdirSync, readdirSync, realpathSync, rmdirSync, statSync, symlinkSync, unlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { clusterVectors } from '../cluster/chinese-whispers.js';
import { ExitCode, FacectlError, isPhotoProblem } from '../errors.js';
import { fileKind } from '../file-kind.js';
import { isObviousNonImage, naturalCompare } from '../eval/datasets.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { ENROLL_QUALITY, qualityProblem } from '../pipeline/quality.js';
import type { Box } from '../pipeline/types.js';
import type { PhotoProblem } from './enroll.js';
import { bestEffort, DIR_MODE, makePrivateDirs, missingFolders, outputPathError, removeMadeFolders } from '../store/fsio.js';
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

/** A folder entry that is not a photo file (a FIFO would block the read forever): why it was skipped. */
function notRegularFile(info: Stats): string {
  return `${fileKind(info)}, not a photo file: skipped`;
}

/**
 * The photos under `paths` (files, or folders walked recursively), in natural order; documents and dotfiles
 * skipped. Each file and folder is taken once by its real path, so a symbolic link loop ends and a photo
 * reached twice (through `--link-to` folders of an earlier run) counts once. A photo is recorded under a
 * path that is not a link when it has one: symbolic links met inside folders are followed only after every
 * folder has been walked, and what is reached only through a link is recorded under its real path (so
 * `--link-to` never links to an old album's link, and the results never name one). Photos reached only
 * through links come after the others. Inside folders only regular files (and links to them) are taken: a
 * FIFO, socket or device is added to `skipped` with the reason (reading a FIFO would wait forever); a path
 * given on the command line is taken as it is (`<(cmd)` works). A dangling link inside a folder is kept, to
 * be listed as a photo that could not be read; a path given that does not exist is NOT_FOUND.
 */
export function listPhotos(paths: readonly string[], skipped: PhotoProblem[] = []): string[] {
  const out: string[] = [];
  const seen = new Set<string>(); // real paths of the files and folders taken
  const links: string[] = []; // symbolic links met inside folders, followed after everything else
  const takeFile = (p: string, real: string) => {
    if (seen.has(real)) return;
    seen.add(real);
    out.push(p);
  };
  const skip = (p: string, real: string, reason: string) => {
    if (seen.has(real)) return;
    seen.add(real);
    skipped.push({ file: p, code: ExitCode.BAD_IMAGE, reason });
  };
  const walkFolder = (dir: string, real: string, followLinks: boolean) => {
    if (seen.has(real)) return;
    seen.add(real);
    for (const name of readdirSync(dir).sort(naturalCompare)) if (!name.startsWith('.')) entry(path.join(dir, name), followLinks);
  };
  const entry = (p: string, followLinks: boolean) => {
    const own = lstatSync(p, { throwIfNoEntry: false });
    if (!own) return; // gone since the folder was read
    if (own.isSymbolicLink()) {
      if (!followLinks) return void links.push(p);
      const info = statSync(p, { throwIfNoEntry: false });
      if (!info) {
        // A dangling link: reported when it cannot be read.
        if (!isObviousNonImage(path.basename(p))) takeFile(p, `\0dangling:${path.resolve(p)}`);
        return;
      }
      const real = realpathSync(p);
      if (info.isDirectory()) return walkFolder(real, real, true);
      if (isObviousNonImage(path.basename(p)) && isObviousNonImage(path.basename(real))) return;
      if (!info.isFile()) return skip(p, real, `a link to ${notRegularFile(info)}`);
      return takeFile(real, real);
    }
    if (own.isDirectory()) return walkFolder(p, realpathSync(p), followLinks);
    if (isObviousNonImage(path.basename(p))) return;
    if (!own.isFile()) return skip(p, realpathSync(p), notRegularFile(own));
    takeFile(p, realpathSync(p));
  };
  for (const p of paths) {
    let info;
    try {
      info = statSync(p);
    } catch {
      throw new FacectlError(ExitCode.NOT_FOUND, 'no such file or folder', p);
    }
    const real = realpathSync(p);
    if (info.isDirectory()) walkFolder(p, real, false);
    else takeFile(p, real); // as given, whatever it is: a FIFO named on the command line is read (`<(cmd)`)
  }
  for (let i = 0; i < links.length; i++) entry(links[i]!, true);
  return out;
}

/** The real path of `file`, else (gone, or not a path: a pipe) its absolute path. */
function realPathOr(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
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
  // Chinese whispers visits the faces in a seeded order drawn over their positions, so the same photos
  // given in another order could give other groups: the faces are clustered in one canonical order
  // (real path, then face number) and the labels mapped back.
  const realOf = new Map([...new Set(faces.map((f) => f.file))].map((file) => [file, realPathOr(file)])); // once per photo
  const keys = faces.map((f) => realOf.get(f.file)!);
  const canonical = faces.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : faces[a]!.face - faces[b]!.face));
  const dim = spec.dim;
  const all = new Float32Array(vectors.length * dim);
  canonical.forEach((from, i) => all.set(vectors[from]!, i * dim));
  const sortedLabels = clusterVectors(all, dim, { threshold: threshold.value, neighbours: options.neighbours });
  const labels = new Int32Array(faces.length);
  canonical.forEach((from, i) => (labels[from] = sortedLabels[i]!));
  // Groups in the order of their first face as given (labels are numbered in the canonical order).
  const byLabel = new Map<number, ClusteredFace[]>();
  labels.forEach((g, i) => (byLabel.get(g) ?? byLabel.set(g, []).get(g)!).push(faces[i]!));
  const groups = [...byLabel.values()];
  // Largest first; equal sizes keep the order of their first face.
  groups.sort((a, b) => b.length - a.length);
  return { threshold, groups, leftOut, skipped };
}

/** A `--link-to` path's failure as one line with its own exit code, as `--draw`'s (fsio.ts outputPathError). */
const linkToError = (err: unknown, target: string): FacectlError =>
  outputPathError(err, target, '--link-to', { EEXIST: '--link-to: already exists: --link-to makes one folder per group and overwrites nothing' });

/**
 * Before the long part: `dir` made (0700, with its parents) if missing, else it must be an empty folder
 * (or a link to one). A dangling link is not an empty folder (USAGE), nor is a file; a path that cannot be
 * made or read is one line with linkToError's exit code. Checked again when linking. Returns the folders it
 * made, outermost first (none when `dir` was there): linkGroups removes them again if linking fails.
 */
export function requireNewOrEmptyFolder(dir: string): string[] {
  const notEmpty = () => new FacectlError(ExitCode.USAGE, 'not an empty folder: --link-to makes one folder per group and overwrites nothing', dir);
  try {
    const own = lstatSync(dir, { throwIfNoEntry: false });
    if (!own) {
      const missing = missingFolders(dir);
      try {
        makePrivateDirs(dir);
      } catch (err) {
        removeMadeFolders(missing); // those made before the one that failed
        throw err;
      }
      return missing;
    }
    const info = own.isSymbolicLink() ? statSync(dir, { throwIfNoEntry: false }) : own;
    if (!info?.isDirectory() || readdirSync(dir).length > 0) throw notEmpty(); // a dangling link, a file, a full folder
    return [];
  } catch (err) {
    throw linkToError(err, dir);
  }
}

/**
 * One folder per group of at least `minSize` faces under `dir` (group-001 = the largest), holding a
 * symbolic link to each photo, so a photo library can be browsed by person without a second copy of
 * anyone's photos, each link to the photo's real path. `dir` must be new or empty (nothing is overwritten);
 * folders are private (0700). A folder or link that cannot be made (a full disk, no inodes left) is one line
 * (linkToError), not a crash, and leaves no partial album: what this run made goes again, the links, the
 * group folders, and `dir` with the folders above it if this run made them (here, or `madeBefore`: those
 * requireNewOrEmptyFolder returned before the long part), so a rerun finds `dir` empty or absent and does
 * not refuse it as "not an empty folder". Returns the folders made.
 */
export function linkGroups(groups: readonly ClusteredFace[][], dir: string, minSize: number, madeBefore: readonly string[] = []): string[] {
  const madeAbove = [...madeBefore, ...requireNewOrEmptyFolder(dir)];
  const wide = String(groups.length).length;
  const made: string[] = [];
  /** Everything this run made under `dir`, in the order made: undone in reverse on failure. */
  const undo: { path: string; folder: boolean }[] = [];
  try {
    groups.forEach((g, i) => {
      if (g.length < minSize) return;
      const folder = path.join(dir, `group-${String(i + 1).padStart(Math.max(3, wide), '0')}`);
      try {
        mkdirSync(folder, { mode: DIR_MODE });
      } catch (err) {
        throw linkToError(err, folder);
      }
      undo.push({ path: folder, folder: true });
      const used = new Set<string>();
      for (const file of new Set(g.map((f) => f.file))) {
        const name = uniqueName(used, path.parse(file).name, path.extname(file));
        // To the photo itself: a link to a link (an earlier run's album) breaks when that album is deleted.
        const target = realPathOr(file);
        try {
          symlinkSync(target, path.join(folder, name));
        } catch (err) {
          throw linkToError(err, path.join(folder, name));
        }
        undo.push({ path: path.join(folder, name), folder: false });
      }
      made.push(folder);
    });
  } catch (err) {
    // Best effort, each on its own (one that fails must not keep the others): the error being reported matters more.
    // Only what this run made, and folders only when empty: a folder someone else wrote into meanwhile stays.
    for (const u of [...undo].reverse()) bestEffort(() => (u.folder ? rmdirSync(u.path) : unlinkSync(u.path)));
    removeMadeFolders(madeAbove);
    throw err;
  }
  return made;
}
