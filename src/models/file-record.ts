/** Files recorded by size, mtime and sha256, so a later check can skip re-hashing an untouched file. */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';

export interface FileRecord {
  file: string;
  sha256: string;
  bytes: number;
  mtimeMs: number;
}

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

/** Writes `bytes` to `file` through a unique temporary name in the same folder and an atomic rename. */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
