/**
 * Durable file primitives: every store file is written 0600 (whatever the umask), fsynced before it is
 * renamed into place, and its directory fsynced after, so a crash never exposes a half-written file.
 * I/O failures become one-line STORE_ERRORs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeIoError, errnoCode, ExitCode, FacectlError, isFacectlError } from '../errors.js';

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/**
 * Test seams. `beforeWrite` runs before each durable file write and may throw (e.g. an ENOSPC error)
 * to simulate a full disk; `onStep` runs at each named point of a commit (crash tests SIGKILL there).
 */
export interface StoreTestHooks {
  beforeWrite?: (file: string) => void;
  onStep?: (step: string) => void;
}
export const storeTestHooks: StoreTestHooks = {};

export const step = (name: string): void => storeTestHooks.onStep?.(name);

export { describeIoError, errnoCode } from '../errors.js';

/** Wraps an I/O failure as STORE_ERROR "cannot <action> <file>: <reason>"; FacectlErrors pass through. */
export function storeIoError(err: unknown, action: string, file: string): FacectlError {
  if (isFacectlError(err)) return err;
  return new FacectlError(ExitCode.STORE_ERROR, `cannot ${action}: ${describeIoError(err)}`, file);
}

export const storeError = (message: string, file?: string): FacectlError => new FacectlError(ExitCode.STORE_ERROR, message, file);

/** Creates (or truncates) `dir/name` with mode 0600, writes all of `data`, fsyncs it. Never follows a symlink. */
export function writeFileDurable(dir: string, name: string, data: Uint8Array | string): void {
  const file = path.join(dir, name);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  storeTestHooks.beforeWrite?.(name);
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | (fs.constants.O_NOFOLLOW ?? 0);
  const fd = fs.openSync(file, flags, FILE_MODE);
  try {
    fs.fchmodSync(fd, FILE_MODE);
    writeAll(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes all of `bytes` at the fd's position. One writeSync may write less than asked (a nearly full disk
 * gives a short count, not ENOSPC): the loop's next write then fails with the real reason.
 */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset, Math.min(bytes.length - offset, 1 << 26));
}

/** Makes renames and unlinks in `dir` durable. Platforms that cannot fsync a directory are skipped. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF', 'ENOTSUP'].includes(errnoCode(err) ?? '')) throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Reads a whole file into its own buffer (offset 0, so a Float32Array view over it is aligned). */
export function readWhole(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.allocUnsafeSlow(size);
    let offset = 0;
    while (offset < size) {
      const n = fs.readSync(fd, buf, offset, Math.min(size - offset, 1 << 26), offset);
      if (n === 0) break;
      offset += n;
    }
    return offset === size ? buf : buf.subarray(0, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** The first `max` bytes of a file (all of it when shorter), read like readWhole. */
export function readHead(file: string, max: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    return sizeAndHead(fd, max).head;
  } finally {
    fs.closeSync(fd);
  }
}

/** An open file's size and its first `max` bytes (fewer when it is shorter, or shrank meanwhile). */
function sizeAndHead(fd: number, max: number): { size: number; head: Buffer } {
  const size = fs.fstatSync(fd).size;
  const head = Buffer.alloc(Math.min(size, max));
  let offset = 0;
  while (offset < head.length) {
    const n = fs.readSync(fd, head, offset, head.length - offset, offset);
    if (n === 0) break;
    offset += n;
  }
  return { size, head: offset === head.length ? head : head.subarray(0, offset) };
}

/**
 * Async whole-file read (undefined if missing) into its own buffer. The copy runs on libuv's thread
 * pool, so the store reads the 200 MB dump while the main thread parses data.csv.
 */
export async function readIfExistsAsync(file: string): Promise<Buffer | undefined> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const size = (await handle.stat()).size;
    const buf = Buffer.allocUnsafeSlow(size);
    // Chunks in parallel: several thread-pool threads copy from the page cache at once.
    const chunk = Math.max(1 << 22, Math.ceil(size / 4));
    const reads: Promise<number>[] = [];
    for (let start = 0; start < size; start += chunk) reads.push(readFully(handle, buf, start, Math.min(chunk, size - start)));
    const got = (await Promise.all(reads)).reduce((a, b) => a + b, 0);
    if (got !== size) throw Object.assign(new Error(`${file} changed size while being read`), { code: 'EIO' });
    return buf;
  } finally {
    await handle.close();
  }
}

async function readFully(handle: fs.promises.FileHandle, buf: Buffer, start: number, length: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, start + done, length - done, start + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * The size of a file and its first `max` bytes (all of it when shorter), or undefined when it does not
 * exist: what a reader checks of embeddings.f32 when it does not load the embeddings.
 */
export function readSizeAndHeadIfExists(file: string, max: number): { size: number; head: Buffer } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return sizeAndHead(fd, max);
  } finally {
    fs.closeSync(fd);
  }
}

/** Contents, or undefined when the file does not exist. */
export function readIfExists(file: string): Buffer | undefined {
  try {
    return readWhole(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

export function unlinkIfExists(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates `file` new (never an existing file, nor through a planted link: O_EXCL), 0600 whatever the umask. */
export function writeNewPrivateFile(file: string, data: string | Uint8Array): void {
  fs.writeFileSync(file, data, { mode: FILE_MODE, flag: 'wx' });
  fs.chmodSync(file, FILE_MODE); // a umask can take owner bits away too
}

/** Whether `p` is a folder (links followed); missing or unreadable is not. */
export function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The folders of `dir`'s path that are not there yet, outermost first: what makePrivateDirs(dir) will make.
 * A path that cannot be looked at (a file on the way: ENOTDIR) is no folder this run makes.
 */
export function missingFolders(dir: string): string[] {
  const absent = (d: string) => {
    try {
      return !fs.lstatSync(d, { throwIfNoEntry: false });
    } catch {
      return false;
    }
  };
  const missing: string[] = [];
  for (let d = path.resolve(dir); absent(d) && path.dirname(d) !== d; d = path.dirname(d)) missing.unshift(d);
  return missing;
}

/**
 * Undoes makePrivateDirs after a later step failed: the folders `made` (outermost first, as missingFolders
 * gives them) are removed innermost first, each only while empty (another run may have written into one
 * meanwhile). Best effort: the error being reported matters more.
 */
export function removeMadeFolders(made: readonly string[]): void {
  for (const d of [...made].reverse()) bestEffort(() => fs.rmdirSync(d));
}

/** Runs a clean-up step whose failure must not hide the error being reported, nor stop the other steps. */
export function bestEffort(step: () => void): void {
  try {
    step();
  } catch {
    /* left as it is */
  }
}

/**
 * Makes `dir` and any missing parents 0700, one level at a time: Node's `mkdirSync(…, { recursive })`
 * spins forever on a path where mkdir says ENOENT although the parent exists (`/proc/x`). An existing
 * folder is accepted; a file in the way is EEXIST.
 */
export function makePrivateDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d, { mode: DIR_MODE });
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      if (fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) continue; // made meanwhile by another process
      // A dangling link: on the way it is a missing folder (ENOENT, as the recursive mkdir said); last, EEXIST.
      if (d !== missing.at(-1)) throw Object.assign(new Error(`${d} is a link to nothing`), { code: 'ENOENT' });
      throw err;
    }
  }
  if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error(`${dir} is not a folder`), { code: 'EEXIST' });
}

/**
 * A failure to write an output path (`--draw`, `--sheet`, `--link-to`) as one line naming the option:
 * part of the path a file → usage (2), a folder missing → not found (14), anything else (permissions,
 * read-only, full) → cannot write (11); `usage` gives the option's own usage message for EEXIST / EISDIR.
 * FacectlErrors pass through.
 */
export function outputPathError(err: unknown, target: string, option: string, usage: { EEXIST?: string; EISDIR?: string } = {}): FacectlError {
  if (err instanceof FacectlError) return err;
  const code = errnoCode(err);
  if ((code === 'EEXIST' || code === 'EISDIR') && usage[code]) return new FacectlError(ExitCode.USAGE, usage[code], target);
  if (code === 'ENOTDIR') return new FacectlError(ExitCode.USAGE, `${option}: part of this path is a file, not a folder`, target);
  // A folder that is there but takes no new file (/proc) is no missing folder: it cannot be written.
  if (code === 'ENOENT' && !isFolder(path.dirname(path.resolve(target))))
    return new FacectlError(ExitCode.NOT_FOUND, `${option}: folder ${path.dirname(target)} not found`, target);
  return new FacectlError(ExitCode.STORE_ERROR, `${option}: cannot write: ${describeIoError(err)}`, target);
}
