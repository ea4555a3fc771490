/**
 * Who may have written what facectl finds in its models cache. A file there is used as a model (or tells
 * which model to use) when it matches the small record beside it; whoever can write the folder writes
 * both, so a folder someone else can write, or a symbolic link to one, would let them choose the model
 * facectl runs (a PRelu rewrite or onnxruntime graph that answers "same person" for anyone).
 *
 * The rule (README: Privacy and safety):
 *  - the cache root (FACECTL_MODELS_DIR, or the XDG cache home `$XDG_CACHE_HOME` / `~/.cache` for the
 *    default `…/facectl/models/v<N>`), symbolic links in its own path resolved, must be a folder owned by
 *    this user or root and not writable by group or others;
 *  - every folder below it down to the one used (`facectl`, `models`, `v<N>`, `prelu`, `ort`), and every
 *    cache file read there, must be a real folder or regular file (not a symbolic link), owned by this
 *    user or root, not writable by group or others.
 * Anything else is not used: nothing is read from it nor written into it, and a one-line warning says so
 * (once per folder and process). What lies above the root (the home folder, /tmp) is where the user
 * chose to keep it. Without POSIX owners (process.getuid missing: Windows) only the kinds are checked.
 */
import { constants, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, open, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { untrustedBecause } from '../file-trust.js';

/** A cache root and the mode a folder facectl makes for it gets: 0700 for the XDG cache home (as the XDG spec asks), 0755 for a models folder. */
export interface CacheRoot {
  path: string;
  mode: number;
  /** What the warnings call this cache ('models cache' when not given). */
  label?: string;
  /** The mode of folders facectl makes between the root and the one used (0755 when not given: the models cache's). */
  betweenMode?: number;
}

/** The root of a derived folder (`prelu/`, `ort/`) given alone: the models folder holding it. */
export const parentRoot = (dir: string): CacheRoot => ({ path: path.dirname(path.resolve(dir)), mode: 0o755 });

/** Folders between the root and the one used (`facectl`, `models`, `v<N>`): the public models' mode. */
const BETWEEN_MODE = 0o755;

export type CacheDirState = { state: 'ok' } | { state: 'missing' } | { state: 'unsafe'; path: string; problem: string; isRoot: boolean; label?: string };

const inside = (dir: string, root: string): boolean => {
  const rel = path.relative(root, dir);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
};

/** The folders to check: the root, then each one below it down to `dir` (just `dir` when it is not inside the root). */
function chain(dir: string, root: CacheRoot): { base: string; below: string[] } {
  const target = path.resolve(dir);
  const base = path.resolve(root.path);
  if (!inside(target, base)) return { base: target, below: [] };
  const below: string[] = [];
  let cur = base;
  for (const part of path.relative(base, target).split(path.sep)) below.push((cur = path.join(cur, part)));
  return { base, below };
}

/**
 * Whether `dir` (inside `root`) may be trusted now: 'ok'; 'missing' when it or a folder above it does not
 * exist, cannot be looked at, or is a file (nothing to read there, nothing can be made); or 'unsafe' and why.
 */
export async function inspectCacheDir(dir: string, root: CacheRoot): Promise<CacheDirState> {
  const { base, below } = chain(dir, root);
  let info: Stats;
  try {
    info = await stat(await realpath(base)); // the root is where the user pointed: its own path may hold links
  } catch {
    return { state: 'missing' };
  }
  if (!info.isDirectory()) return { state: 'missing' }; // a file in the way: nothing to read, nothing can be made there
  const problem = untrustedBecause(info, 'folder');
  if (problem) return { state: 'unsafe', path: base, problem, isRoot: base === path.resolve(root.path), label: root.label };
  for (const folder of below) {
    const entry = await lstat(folder).catch(() => undefined);
    if (!entry || !(entry.isDirectory() || entry.isSymbolicLink())) return { state: 'missing' };
    const why = untrustedBecause(entry, 'folder');
    if (why) return { state: 'unsafe', path: folder, problem: why, isRoot: false, label: root.label };
  }
  return { state: 'ok' };
}

const warned = new Set<string>();

/** One line on stderr, once per folder and process, saying which folder of the cache is not used and why. */
export function warnUnsafeCache(state: Extract<CacheDirState, { state: 'unsafe' }>): void {
  if (warned.has(state.path)) return;
  warned.add(state.path);
  const fix = state.isRoot
    ? 'make it yours and not writable by others (chmod go-w)'
    : 'delete it (facectl makes it again) or make it yours and not writable by others';
  process.stderr.write(`warning: ${state.label ?? 'models cache'} not used: ${state.path} ${state.problem}; ${fix} (README: Privacy and safety)\n`);
}

/** For reading: true when `dir` exists and may be trusted; an unsafe folder is reported (warnUnsafeCache) and not used. */
export async function readableCacheDir(dir: string, root: CacheRoot): Promise<boolean> {
  const state = await inspectCacheDir(dir, root);
  if (state.state === 'unsafe') warnUnsafeCache(state);
  return state.state === 'ok';
}

/**
 * For writing: makes `dir` and whatever folder is missing on the way, each with exactly its mode whatever
 * the umask (`mode` for `dir`, 0755 for the folders between it and the root, the root's own mode for the
 * root and above), then true when the whole chain may be trusted; an unsafe one is reported and false.
 * An existing folder is left as it is, except that a private one (`mode` 0700) of this user's that is
 * only readable by others (made 0755 by facectl before 2026-12-07) is made 0700. Throws when a folder
 * cannot be made.
 */
export async function writableCacheDir(dir: string, root: CacheRoot, mode: number): Promise<boolean> {
  const state = await ensureCacheDir(dir, root, mode);
  if (state.state === 'unsafe') warnUnsafeCache(state);
  return state.state === 'ok';
}

/**
 * What writableCacheDir does before it reports: makes `dir` and the folders missing on the way when it is
 * missing (makeFolders), then whether the chain may be trusted ('ok') or not ('unsafe', and why: left to
 * the caller, a warning or a refusal). Once 'ok' with `mode` 0700, `dir` is made 0700 when it is this
 * user's and `needsChmod(its mode)` (default: anything but 0700 exactly). Throws when a folder cannot be
 * made (ENOTDIR when a file is in the way).
 */
export async function ensureCacheDir(
  dir: string,
  root: CacheRoot,
  mode: number,
  needsChmod: (mode: number) => boolean = (m) => (m & 0o777) !== 0o700,
): Promise<Exclude<CacheDirState, { state: 'missing' }>> {
  let state = await inspectCacheDir(dir, root);
  if (state.state === 'missing') {
    await makeFolders(dir, root, mode);
    state = await inspectCacheDir(dir, root);
    if (state.state === 'missing') throw Object.assign(new Error(`cannot make the folder ${dir}`), { code: 'ENOTDIR' }); // a file in the way
  }
  if (state.state === 'ok' && mode === 0o700) {
    const info = await lstat(dir);
    if (info.uid === process.getuid?.() && needsChmod(info.mode)) await chmod(dir, 0o700);
  }
  return state;
}

/** Makes `dir` and the folders missing on the way, each with exactly its mode whatever the umask (as writableCacheDir does); throws what mkdir throws. */
export async function makeFolders(dir: string, root: CacheRoot, mode: number): Promise<void> {
  const target = path.resolve(dir);
  const base = path.resolve(root.path);
  const missing: string[] = [];
  for (let cur = target; ; cur = path.dirname(cur)) {
    if (await lstat(cur).then(() => true, (err: NodeJS.ErrnoException) => err.code !== 'ENOENT')) break;
    missing.unshift(cur);
    if (path.dirname(cur) === cur) break;
  }
  for (const folder of missing) {
    const want = folder === target ? mode : inside(folder, base) ? (root.betweenMode ?? BETWEEN_MODE) : root.mode;
    try {
      await mkdir(folder, { mode: want }); // the umask can only take bits away: never wider than `want`
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // another process made it: checked next
      throw err;
    }
    await chmod(folder, want);
  }
}

/** What a cache file may hold when only this user or root can have written it: opened without following a link, checked on the open file. */
export async function readCacheFile(file: string): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    if (untrustedBecause(await handle.stat(), 'file')) return undefined;
    return await handle.readFile();
  } catch {
    return undefined;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** A cache file's JSON, read as readCacheFile does: undefined when it is missing, may not be trusted, or does not parse. */
export async function readCacheJson<T>(file: string): Promise<T | undefined> {
  const bytes = await readCacheFile(file);
  if (!bytes) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Whether a cache file (not opened: a model onnxruntime reads by name) is a regular file only this user or root can change. */
export async function trustedCacheFile(file: string): Promise<boolean> {
  const info = await lstat(file).catch(() => undefined);
  return info !== undefined && untrustedBecause(info, 'file') === undefined;
}
