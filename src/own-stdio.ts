/**
 * This process's own standard input, output and error, looked at by what they are (device and inode), not
 * by name: `login - < folder` reads a directory as no bytes, and `/dev/stdin`, `/dev/fd/1` or a link to
 * them named as a photo would be read as a pipe, eating a service's requests or its own answers.
 * Loaded on every CLI start (cli/serve.ts imports it when the commands are registered): imports nothing but node:fs.
 */
import { fstatSync, type Stats } from 'node:fs';

const NAMES = ['input', 'output', 'error'] as const;

const statOf = (fd: number): Stats | undefined => {
  try {
    return fstatSync(fd);
  } catch {
    return undefined; // closed
  }
};

/** Whether standard input is a directory (`< folder`); false when there is no descriptor 0 to look at. */
export const stdinIsDirectory = (): boolean => statOf(0)?.isDirectory() ?? false;

let own: (Stats | undefined)[] | undefined;

/** 'input', 'output' or 'error' when `file` (its stat, links followed) is one of this process's own; taken once: they do not change. */
export function ownStdioName(file: Stats): (typeof NAMES)[number] | undefined {
  own ??= [0, 1, 2].map(statOf);
  const i = own.findIndex((s) => s !== undefined && s.dev === file.dev && s.ino === file.ino);
  return i < 0 ? undefined : NAMES[i];
}
