/**
 * Enrollment: each photo must show exactly one usable face (or the largest, with --largest); the batch is
 * all-or-nothing unless --skip-bad. A face that already belongs to another identity is refused (the same
 * person under two ids) unless --force, and photos of one id that disagree with each other are flagged
 * as a probable mislabel.
 */
import { lstatSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError, isPhotoProblem, printable, type ExitCodeValue } from '../errors.js';
import { fileKind } from '../file-kind.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { ENROLL_QUALITY, qualityProblem, type QualityThresholds } from '../pipeline/quality.js';
import { selectFace, type FacePolicy } from '../pipeline/select.js';
import type { EmbeddedFace } from '../pipeline/types.js';
import { dot } from '../pipeline/vector.js';
import type { FaceRow, Gallery, GalleryDraft, NewFace } from '../gallery/types.js';
import { validateDisplayName, validateId } from '../gallery/index.js';
import { storeModelInfo, requireSameModel } from './store-model.js';
import { effectiveThreshold } from './threshold.js';

export interface EnrollOptions {
  name?: string;
  largest: boolean;
  skipBad: boolean;
  force: boolean;
  /** Cosine threshold for the duplicate and consistency checks (default: the gallery's login threshold). */
  threshold?: number;
  quality?: QualityThresholds;
}

export interface PhotoProblem {
  file: string;
  code: ExitCodeValue;
  reason: string;
  /** index rebuild --reembed: the photo no longer exists (what --drop-missing may drop). */
  gone?: boolean;
}

export interface EmbeddedPhoto {
  file: string;
  imageSha256: string;
  face: EmbeddedFace;
}

/** A photo found enrolled whose stored path no longer exists: `file` (as given) replaced `was`. */
export interface PathUpdate {
  file: string;
  was: string;
}

/** A stored photo path to replace: the row of identity `id` holding photo `sha` at `from` gets `to`. */
export interface PhotoMove {
  id: string;
  sha: string;
  from: string;
  to: string;
}

/**
 * Applies `moves` in a draft (enroll and bulk import, after a dataset moved), finding each row by what it
 * holds, not by a position read before (another writer may have changed the rows); the moves applied.
 */
export async function movePhotoPaths(draft: GalleryDraft, moves: readonly PhotoMove[]): Promise<PhotoMove[]> {
  if (!moves.length) return [];
  const key = (id: string, sha: string, file: string) => `${id}\u0000${sha}\u0000${file}`;
  const at = new Map((await draft.rows()).map((r, i) => [key(r.id, r.imageSha256, r.sourcePath), i]));
  const applied: PhotoMove[] = [];
  for (const m of moves) {
    const i = at.get(key(m.id, m.sha, m.from));
    if (i === undefined) continue;
    await draft.setSourcePath(i, m.to);
    applied.push(m);
  }
  return applied;
}

/**
 * Whether a stored photo path names nothing any more (the photo moved or was deleted). A path that
 * cannot be checked (no permission) is not taken as gone. Relative (facectl 0.1.0): from the current directory.
 */
export function photoGone(sourcePath: string): boolean {
  try {
    return statSync(path.resolve(sourcePath), { throwIfNoEntry: false }) === undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOTDIR';
  }
}

export interface EnrollResult {
  id: string;
  name: string;
  added: FaceRow[];
  /** Photos this id already had (the same bytes), or given twice: not added again. */
  alreadyEnrolled: string[];
  /** Of those, the ones whose stored path was gone: the store now has their path as given here. */
  pathsUpdated: PathUpdate[];
  skipped: PhotoProblem[];
  warnings: string[];
}

/** The one usable face of a photo, or why there is none. */
export async function embedEnrollPhoto(
  pipeline: FacePipeline,
  file: string,
  policy: 'single' | FacePolicy,
  quality = ENROLL_QUALITY,
): Promise<EmbeddedPhoto | PhotoProblem> {
  try {
    const image = await pipeline.decode(file);
    const faces = await pipeline.detect(image, { mode: 'fast' });
    if (!faces.length) return { file, code: ExitCode.NO_FACE, reason: 'no face found' };
    // The faces that count are those big and sure enough to be a subject (tiny background faces do not).
    // The photo's face is chosen among them and then judged whole: choosing among usable faces only would
    // take a bystander when the subject is turned away. Sharpness needs the aligned crop: judged after.
    const subjects = faces.filter((f) => !qualityProblem(f.quality, { ...quality, minSharpness: 0, maxYawDeg: Infinity }));
    if (!subjects.length) return { file, code: ExitCode.LOW_QUALITY, reason: qualityProblem(faces[0]!.quality, quality)! };
    if (subjects.length > 1 && policy === 'single')
      return { file, code: ExitCode.MULTIPLE_FACES, reason: `${subjects.length} faces found where one was expected (use --largest to take the biggest)` };
    const chosen = selectFace(subjects, image, policy === 'center' ? 'center' : 'largest')!;
    const before = qualityProblem(chosen.quality, { ...quality, minSharpness: 0 });
    if (before) return { file, code: ExitCode.LOW_QUALITY, reason: before };
    const [face] = await pipeline.embed(image, [chosen]);
    const problem = qualityProblem(face!.quality, quality);
    if (problem) return { file, code: ExitCode.LOW_QUALITY, reason: problem };
    return { file, imageSha256: image.sha256, face: face! };
  } catch (err) {
    // A model that cannot run is no fault of this photo: skipped (--skip-bad, bulk import), it would skip them all.
    if (isPhotoProblem(err)) return { file, code: err.code, reason: err.message };
    throw err;
  }
}

export const isProblem = (r: EmbeddedPhoto | PhotoProblem): r is PhotoProblem => 'code' in r;

/** Photos of one id whose face is unlike the id's other faces: a likely mislabel worth a warning. */
export function consistencyWarnings(id: string, photos: EmbeddedPhoto[], existing: Float32Array[], threshold: number): string[] {
  const all = [...existing, ...photos.map((p) => p.face.embedding)];
  if (all.length < 2) return [];
  return photos.flatMap((p) => {
    const others = all.filter((v) => v !== p.face.embedding);
    const mean = others.reduce((s, v) => s + dot(p.face.embedding, v), 0) / others.length;
    return mean < threshold
      ? [`${p.file}: does not look like the other photos of ${id} (mean similarity ${mean.toFixed(3)} < ${threshold.toFixed(3)}): probable mislabel`]
      : [];
  });
}

/**
 * Enrolls `files` as `id` in one commit. The id is checked before anything else, so a bad id creates
 * nothing; the gallery's model is checked before any photo is embedded.
 */
export async function enroll(pipeline: FacePipeline, gallery: Gallery, id: string, files: string[], options: EnrollOptions): Promise<EnrollResult> {
  validateId(id);
  if (options.name !== undefined) validateDisplayName(options.name);
  requirePhotoFiles(files);
  const model = storeModelInfo(pipeline.embedderInfo!);
  const info = await gallery.info();
  requireSameModel(info, pipeline.embedderInfo!);
  const threshold = effectiveThreshold(info.threshold, pipeline.embedderInfo!.spec, options.threshold)!.value;

  const embedded: EmbeddedPhoto[] = [];
  const problems: PhotoProblem[] = [];
  for (const file of files) {
    const r = await embedEnrollPhoto(pipeline, file, options.largest ? 'largest' : 'single', options.quality);
    if (isProblem(r)) problems.push(r);
    else embedded.push(r);
  }
  if ((problems.length && !options.skipBad) || !embedded.length) throw new EnrollRefused(problems, files.length, options.skipBad);

  const { result } = await gallery.mutate(async (draft) => {
    const existing = await draft.facesOf(id);
    const name = options.name ?? existing.rows.at(-1)?.name ?? id;
    // A photo this id already has (the same bytes), or one given twice, adds nothing but weight in the identity's mean.
    const stored = new Set(existing.rows.map((r) => r.imageSha256));
    const seen = new Set(stored);
    const fresh: EmbeddedPhoto[] = [];
    const alreadyEnrolled: string[] = [];
    // Photos the id has, offered again: where each is now (the first path given), to mend a path that is gone.
    const offered = new Map<string, string>();
    for (const p of embedded) {
      if (seen.has(p.imageSha256)) {
        alreadyEnrolled.push(p.file);
        if (stored.has(p.imageSha256) && !offered.has(p.imageSha256)) offered.set(p.imageSha256, p.file);
      } else {
        seen.add(p.imageSha256);
        fresh.push(p);
      }
    }
    if (!options.force) await refuseDuplicates(draft, id, fresh, threshold);
    const warnings = consistencyWarnings(id, fresh, existing.embeddings, threshold);
    const faces: NewFace[] = fresh.map((p) => ({
      id,
      name,
      // Absolute, so re-embedding and login find the photo from any directory.
      sourcePath: path.resolve(p.file),
      imageSha256: p.imageSha256,
      box: p.face.box,
      quality: p.face.quality,
      embedding: p.face.embedding,
    }));
    // A photo enrolled from a place it is no longer at (a dataset moved), offered from its new place: the
    // stored path follows it, so that `index rebuild --reembed` finds it. Before addFaces (row positions).
    const moves: PhotoMove[] = [];
    for (const row of offered.size ? await draft.rows() : []) {
      const file = row.id === id ? offered.get(row.imageSha256) : undefined;
      if (file !== undefined && row.sourcePath !== path.resolve(file) && photoGone(row.sourcePath))
        moves.push({ id, sha: row.imageSha256, from: row.sourcePath, to: path.resolve(file) });
    }
    const pathsUpdated = (await movePhotoPaths(draft, moves)).map((m) => ({ file: offered.get(m.sha)!, was: m.from }));
    // New faces carry the name to every face of the id; with none, --name renames the identity by itself.
    if (!faces.length && existing.rows.length && options.name !== undefined) await draft.renameIdentity(id, options.name);
    return { id, name, added: faces.length ? await draft.addFaces(model, faces) : [], alreadyEnrolled, pathsUpdated, skipped: problems, warnings };
  });
  return result;
}

/** `file` and each path its symbolic links lead to (folders on the way resolved), at most 40 steps. */
function linkChain(file: string): string[] {
  const real = (p: string) => {
    try {
      return path.join(realpathSync(path.dirname(p)), path.basename(p));
    } catch {
      return p;
    }
  };
  const chain = [path.resolve(file)];
  for (let cur = chain[0]!, step = 0; step < 40; step++) {
    chain.push((cur = real(cur)));
    let target: string;
    try {
      if (!lstatSync(cur).isSymbolicLink()) break;
      target = readlinkSync(cur);
    } catch {
      break;
    }
    chain.push((cur = path.resolve(path.dirname(cur), target)));
  }
  return chain;
}

/**
 * USAGE, before any photo is read, unless every photo is a regular file (links followed) at a path that
 * lasts: a store keeps each enrolled photo's path so that `index rebuild --reembed` can read it again,
 * which a pipe (`<(cat x.jpg)` is /dev/fd/63), a device or /dev/stdin cannot give (as `enroll -` is
 * refused), and reading a FIFO nobody writes would wait forever. A path that does not exist is left to
 * the photo's own check (NOT_FOUND, skipped with --skip-bad). login and verify read pipes: not here.
 */
function requirePhotoFiles(files: readonly string[]): void {
  const why = 'enroll keeps each photo\'s path so that `index rebuild --reembed` can read it again: save the photo to a file and enroll that';
  for (const file of files) {
    // /dev/stdin and /dev/fd/N (an open file of this process) stat as what they point at, also through a
    // link to them (x.jpg → /proc/self/fd/0): every step of the link chain is looked at. /dev/shm holds real files.
    if (linkChain(file).some((p) => /^\/(proc\/|dev\/(fd|stdin|stdout|stderr)(\/|$))/.test(p)))
      throw new FacectlError(ExitCode.USAGE, `names a device or an open file of this process, not a photo file: ${why}`, file);
    let st: Stats | undefined;
    try {
      st = statSync(file, { throwIfNoEntry: false });
    } catch {
      continue; // unreadable (a link loop, no permission): the photo's own check says so
    }
    if (st && !st.isFile()) throw new FacectlError(ExitCode.USAGE, `${fileKind(st)}, not a photo file: ${why}`, file);
  }
}

/**
 * DUPLICATE_IDENTITY when a new face matches another enrolled identity at or above the threshold, scored
 * against the same identity vectors a login searches (under the writer lock, so concurrent enrolls agree).
 */
async function refuseDuplicates(draft: GalleryDraft, id: string, photos: EmbeddedPhoto[], threshold: number): Promise<void> {
  for (const p of photos) {
    const best = await draft.nearestIdentity(p.face.embedding, id);
    if (best && best.score >= threshold)
      throw new FacectlError(
        ExitCode.DUPLICATE_IDENTITY,
        `this face already matches enrolled identity "${best.id}" (similarity ${best.score.toFixed(3)} ≥ ${threshold.toFixed(3)}); use --force to enroll it as "${id}" anyway`,
        p.file,
      );
  }
}

/** Some photos were unusable and the batch is all-or-nothing: nothing was written. */
export class EnrollRefused extends FacectlError {
  constructor(
    readonly problems: PhotoProblem[],
    total: number,
    skipBad: boolean,
  ) {
    const hint = skipBad || problems.length === total ? '' : total - problems.length === 1 ? '; use --skip-bad to enroll the other photo' : '; use --skip-bad to enroll the others';
    super(
      problems[0]?.code ?? ExitCode.NO_FACE,
      problems.length === 1
        ? `${printable(problems[0]!.file)}: ${problems[0]!.reason} (nothing enrolled${hint})`
        : `${problems.length} of ${total} photos unusable, nothing enrolled${hint}: ${problems.map((p) => `${printable(p.file)}: ${p.reason}`).join('; ')}`,
    );
  }
}
