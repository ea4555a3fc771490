/**
 * The XDG base folders facectl keeps its files under: `$XDG_CACHE_HOME` / `$XDG_DATA_HOME` when absolute
 * (the spec ignores a relative one: it would move with the current folder), else `~/.cache` /
 * `~/.local/share`. Each caller adds its own `facectl/…` subfolder and its own FACECTL_* override first.
 * Loaded on every CLI start: imports nothing but node:os and node:path.
 */
import { homedir } from 'node:os';
import path from 'node:path';

const XDG = {
  cache: { variable: 'XDG_CACHE_HOME', fallback: ['.cache'] },
  data: { variable: 'XDG_DATA_HOME', fallback: ['.local', 'share'] },
} as const;

/** The XDG cache or data home: the environment variable when absolute, else its default under the home folder. */
export function xdgDir(kind: 'cache' | 'data', env: NodeJS.ProcessEnv = process.env): string {
  const { variable, fallback } = XDG[kind];
  const value = env[variable];
  return value && path.isAbsolute(value) ? value : path.join(homedir(), ...fallback);
}
