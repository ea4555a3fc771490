/**
 * Pictures a command writes for the user (`detect --draw`, `login --sheet`). They show faces, which are
 * biometric data, so they are private like the store's files: 0600 whatever the umask, also when an
 * existing file is replaced, and new folders 0700. A bad path is a one-line error with its own exit code,
 * checked before the slow part: a folder or a file in the wrong place is a usage error (2), a missing
 * folder is not found (14), and a path that cannot be written (permissions, read-only, full) is exit 11,
 * as for eval's reports.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { removeKilledTemps, writeFileAtomic } from '../models/file-record.js';
import { FILE_MODE, errnoCode, isFolder, makePrivateDirs, outputPathError } from '../store/fsio.js';

/** An output path's failure as a FacectlError naming the option; FacectlErrors pass through. */
const outputError = (err: unknown, target: string, option: string): FacectlError =>
  outputPathError(err, target, option, {
    EISDIR: `${option} names a folder: give the .png file to write`,
    EEXIST: `${option} names a file: with several photos it takes a folder`,
  });

/** Before the work: `file` can be written as one picture (not a folder, and its folder exists). */
export function checkOutputFile(file: string, option: string): void {
  const kind = (p: string) => {
    try {
      return statSync(p).isDirectory() ? 'folder' : 'file';
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 'none';
      throw outputError(err, p, option);
    }
  };
  if (kind(file) === 'folder') throw outputError({ code: 'EISDIR' }, file, option);
  // The picture is PNG: PNG bytes in a file named .jpg would mislead every viewer and tool.
  const ext = path.extname(file);
  if (ext && ext.toLowerCase() !== '.png') throw new FacectlError(ExitCode.USAGE, `${option} writes a PNG picture: name the file .png, not ${ext}`, file);
  const parent = kind(path.dirname(path.resolve(file)));
  if (parent !== 'folder') throw outputError({ code: parent === 'none' ? 'ENOENT' : 'ENOTDIR' }, file, option);
}

/** Names of pictures, which a new folder should not get: `detect a.jpg b.jpg --draw out.png` made a folder out.png. */
const PICTURE_NAME = /\.(png|jpe?g|webp|gif|bmp|tiff?|avif|heic|heif)$/i;

/**
 * Before the work: the folder that several pictures go to, made (0700) if new. A new one named like a picture
 * (`out.png`) is refused (usage): the user meant one file, and a command drawing several photos takes a folder.
 */
export function makeOutputFolder(dir: string, option: string): void {
  if (PICTURE_NAME.test(path.basename(dir)) && !isFolder(dir))
    throw new FacectlError(ExitCode.USAGE, `${option} with several photos takes a folder (one <name>.faces.png each), not a ${path.extname(dir)} file name`, dir);
  try {
    makePrivateDirs(dir);
  } catch (err) {
    throw outputError(err, dir, option);
  }
}

/**
 * Writes (or replaces) `file` with `bytes`, 0600: into a new temporary file beside it (O_EXCL: never
 * through a link someone planted there), then renamed over `file`, which replaces a link at that name
 * instead of writing where it points.
 */
export async function writePrivateFile(file: string, bytes: Uint8Array, option: string): Promise<void> {
  // What killed writes of this picture left beside it (`faces.png.tmp-<pid>-<hex>`, a picture of faces each).
  removeKilledTemps(path.dirname(path.resolve(file)), (target) => target === path.basename(file));
  try {
    await writeFileAtomic(file, bytes, FILE_MODE);
  } catch (err) {
    throw outputError(err, file, option);
  }
}
