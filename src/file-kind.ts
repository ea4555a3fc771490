/**
 * What a path that is not a regular file is, in words, for messages: "a FIFO (named pipe)", "a directory".
 * One wording for every place that refuses or skips such a path (enroll, cluster, eval's photos, index files).
 */
import type { Stats } from 'node:fs';

export function fileKind(stats: Stats): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}
