/**
 * Whether a file or folder could have been changed by someone other than this user: facectl runs what its
 * models cache holds, and logs people in by what a store holds, so either written by another user (or by
 * anyone through a group- or world-writable mode) must not be trusted. One rule for the models cache, the
 * user models folder, the eval embedding cache and the files store.
 */
import type { Stats } from 'node:fs';

export const octal = (mode: number) => `0${(mode & 0o7777).toString(8)}`;

/** Why a folder or file of the cache (its lstat) may not be trusted, or undefined when only this user (or root) can change it. */
export function untrustedBecause(info: Stats, kind: 'folder' | 'file'): string | undefined {
  if (info.isSymbolicLink()) return 'is a symbolic link';
  if (kind === 'folder' ? !info.isDirectory() : !info.isFile()) return kind === 'folder' ? 'is not a folder' : 'is not a regular file';
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  if (info.uid !== uid && info.uid !== 0) return `belongs to another user (uid ${info.uid})`;
  if (info.mode & 0o022) return `is writable by ${info.mode & 0o020 ? (info.mode & 0o002 ? 'group and others' : 'its group') : 'others'} (mode ${octal(info.mode)})`;
  return undefined;
}

