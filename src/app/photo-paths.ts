/**
 * Where an enrolled photo is. facectl stores absolute paths; stores written by facectl 0.1.0 hold the
 * paths as typed, relative to the directory `enroll` ran in. Those are resolved against a photos root
 * the user names (`--photos-root`, default the current directory, which is what 0.1.0 itself did) and,
 * once their sha256 proves they are the enrolled photos, stored absolute.
 */
import path from 'node:path';
import { ExitCode, FacectlError, printable } from '../errors.js';
import { sha256OfFile } from '../eval/embedding-cache.js';
import type { FaceRow } from '../gallery/index.js';
import type { PhotoProblem } from './enroll.js';

export const isRelativePhoto = (row: Readonly<FaceRow>): boolean => !path.isAbsolute(row.sourcePath);

/** The photo's path now: as stored when absolute, else under `photosRoot`. */
export const photoPathOf = (row: Readonly<FaceRow>, photosRoot: string): string => path.resolve(photosRoot, row.sourcePath);

export interface LocatedPhotos {
  /** Row index → absolute path of its photo, for the relative rows whose photo was found unchanged. */
  found: Map<number, string>;
  missing: PhotoProblem[];
}

/** Finds the photo of every relative row under `photosRoot` and checks it is the enrolled one (sha256). */
export async function locateRelativePhotos(rows: readonly Readonly<FaceRow>[], photosRoot: string): Promise<LocatedPhotos> {
  const found = new Map<number, string>();
  const missing: PhotoProblem[] = [];
  for (const [i, row] of rows.entries()) {
    if (!isRelativePhoto(row)) continue;
    const file = photoPathOf(row, photosRoot);
    const sha = await sha256OfFile(file).catch(() => null);
    if (sha === row.imageSha256) found.set(i, file);
    else missing.push({ file, code: ExitCode.NOT_FOUND, reason: sha ? 'not the enrolled photo (sha256 differs)' : 'no such file' });
  }
  return { found, missing };
}

/** The advice for photos that were not found, when some rows are relative. */
export function relativePhotosHint(rows: readonly Readonly<FaceRow>[], photosRoot: string): string {
  const relative = rows.filter(isRelativePhoto).length;
  return relative
    ? `; ${relative} face(s) were stored with a path relative to the directory enroll ran in (looked for under ${photosRoot}): pass that directory as --photos-root`
    : '';
}

/** One line, with the first problem's exit code: `count` photos could not be used; the first one and the remedy. */
export function enrolledPhotosError(what: string, problems: PhotoProblem[], remedy: string): FacectlError {
  const first = problems[0]!;
  return new FacectlError(first.code, `${problems.length} enrolled photo(s) ${what} (first: ${printable(first.file)}: ${first.reason}); nothing changed — ${remedy}`);
}
