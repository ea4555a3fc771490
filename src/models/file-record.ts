/** Files recorded by size, mtime and sha256, so a later check can skip re-hashing an untouched file. */
import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { bestEffort, fsyncDir } from '../store/fsio.js';
import { pidAlive } from '../store/lock.js';
import { readCacheFile } from './cache-safety.js';

export interface FileRecord {
  file: string;
  sha256: string;
  bytes: number;
  mtimeMs: number;
}

/** A JSON file's content, or undefined when it is missing, unreadable or not JSON (a truncated record is no crash). */
export const readJsonFile = <T = Record<string, unknown>>(file: string): Promise<T | undefined> =>
  readFile(file, 'utf8').then((text) => JSON.parse(text) as T).catch(() => undefined);

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Size, mtime and sha256 of a file. Unless `full`, the hash is taken from `trusted` when it records
 * the same size and mtime, else from a per-process memo keyed by (path, size, mtime); `full` always reads.
 */
const hashMemo = new Map<string, string>();
export async function recordFile(file: string, label: string, trusted: FileRecord | undefined, full: boolean): Promise<FileRecord> {
  const info = await stat(file);
  if (!full && trusted && trusted.bytes === info.size && trusted.mtimeMs === info.mtimeMs) return { ...trusted, file: label };
  const key = `${file}|${info.size}|${info.mtimeMs}`;
  let digest = full ? undefined : hashMemo.get(key);
  if (!digest) {
    digest = sha256(await readFile(file));
    hashMemo.set(key, digest);
  }
  return { file: label, sha256: digest, bytes: info.size, mtimeMs: info.mtimeMs };
}

/** What a cache record says of a file it names: its size and sha256. */
export interface ContentRecord {
  bytes: number;
  sha256: string;
}

export const contentRecord = (bytes: Uint8Array): ContentRecord => ({ bytes: bytes.byteLength, sha256: sha256(bytes) });

/**
 * The bytes of `file` when they are exactly what `record` says (size, then sha256), else undefined; only
 * from a regular file (not a link) that nobody but this user or root can change (cache-safety.ts).
 */
export async function readIntact(file: string, record: ContentRecord): Promise<Buffer | undefined> {
  const bytes = await readCacheFile(file);
  return bytes && bytes.byteLength === record.bytes && sha256(bytes) === record.sha256 ? bytes : undefined;
}

/** The temporary name `writeFileAtomic` (and onnxruntime, for optimized graphs) writes `file` under first. */
export const tempNameFor = (file: string, suffix = ''): string => `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}${suffix}`;
const TEMP_NAME = /\.tmp-\d+-[0-9a-f]{8}/;

/**
 * The temporary files (tempNameFor) in `dir` that a writer killed mid-write left, once nobody has touched
 * them for `maxAgeMs` (a write takes well under a second; an hour leaves any live writer alone, on this
 * machine or another sharing the folder).
 */
export async function findAbandonedTemps(dir: string, maxAgeMs = 3_600_000): Promise<{ file: string; bytes: number }[]> {
  const found: { file: string; bytes: number }[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!TEMP_NAME.test(name)) continue;
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile() && Date.now() - info.mtimeMs >= maxAgeMs) found.push({ file, bytes: info.size });
  }
  return found;
}

/** Removes what findAbandonedTemps finds; returns how many. Cleaning only: errors are ignored. */
export async function removeAbandonedTemps(dir: string, maxAgeMs = 3_600_000): Promise<number> {
  let removed = 0;
  for (const { file } of await findAbandonedTemps(dir, maxAgeMs)) await rm(file, { force: true }).then(() => removed++, () => undefined);
  return removed;
}

/**
 * The temporary files (tempNameFor) in `dir` of writes of a file `target` accepts whose process is gone
 * (killed before its rename): removed at once, whatever their age, unlike removeAbandonedTemps, because the
 * pid says the writer is dead. Only regular files, only names tempNameFor gives (the folder may hold the
 * user's own files: `--draw` beside their photos, FACECTL_USER_MODELS_DIR). Cleaning only: errors are ignored.
 */
export function removeKilledTemps(dir: string, target: (name: string) => boolean): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^(.+)\.tmp-(\d+)-[0-9a-f]{8}$/.exec(name);
    if (!m || !target(m[1]!) || Number(m[2]) === process.pid || pidAlive(Number(m[2]))) continue;
    // A file only (a folder of that name is someone's), and one this user may remove: another user's in /tmp stays.
    bestEffort(() => lstatSync(path.join(dir, name)).isFile() && rmSync(path.join(dir, name), { force: true }));
  }
}

/**
 * Writes `bytes` to `file` through a unique temporary name in the same folder and an atomic rename;
 * with `mode`, the file gets exactly that mode whatever the umask.
 */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string, mode?: number): Promise<void> {
  const tmp = tempNameFor(file);
  try {
    const handle = await open(tmp, 'wx', mode); // a fresh file, never through a link
    try {
      await handle.writeFile(bytes);
      if (mode !== undefined) await handle.chmod(mode);
      // On disk before the rename makes it the file: a power loss must not leave a renamed, empty registry.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    fsyncDir(path.dirname(file));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
