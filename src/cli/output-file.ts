/**
 * Pictures a command writes for the user (`detect --draw`, `login --sheet`). They show faces, which are
 * biometric data, so they are private like the store's files: 0600 whatever the umask, also when an
 * existing file is replaced, and new folders 0700. A bad path is a one-line error with its own exit code,
 * checked before the slow part: a folder or a file in the wrong place is a usage error (2), a missing
 * folder is not found (14), and a path that cannot be written (permissions, read-only, full) is exit 11,
 * as for eval's reports.
 */
import { constants, mkdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { DIR_MODE, FILE_MODE, describeIoError, errnoCode } from '../store/fsio.js';

/** An output path's failure as a FacectlError naming the option; FacectlErrors pass through. */
function outputError(err: unknown, target: string, option: string): FacectlError {
  if (err instanceof FacectlError) return err;
  switch (errnoCode(err)) {
    case 'EISDIR':
      return new FacectlError(ExitCode.USAGE, `${option} names a folder: give the .png file to write`, target);
    case 'EEXIST':
      return new FacectlError(ExitCode.USAGE, `${option} names a file: with several photos it takes a folder`, target);
    case 'ENOTDIR':
      return new FacectlError(ExitCode.USAGE, `${option}: part of this path is a file, not a folder`, target);
    case 'ENOENT':
      return new FacectlError(ExitCode.NOT_FOUND, `${option}: folder ${path.dirname(target)} not found`, target);
    default:
      return new FacectlError(ExitCode.STORE_ERROR, `${option}: cannot write: ${describeIoError(err)}`, target);
  }
}

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

/** Before the work: the folder that several pictures go to, made (0700) if new. */
export function makeOutputFolder(dir: string, option: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
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
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), FILE_MODE);
    await handle.chmod(FILE_MODE); // the umask may have taken bits away, never added: 0600 exactly
    await handle.writeFile(bytes);
    await handle.close();
    handle = undefined;
    await rename(temp, file);
  } catch (err) {
    await handle?.close();
    await rm(temp, { force: true });
    throw outputError(err, file, option);
  }
}
