/** File names inside a store directory, and where the default store lives. */
import path from 'node:path';
import { xdgDir } from '../xdg.js';

export const MANIFEST_FILE = 'manifest.json';
export const DATA_FILE = 'data.csv';
export const DUMP_FILE = 'embeddings.f32';
export const LOCK_FILE = 'store.lock';
/** Held (briefly) by whoever breaks a stale store.lock, so that only one process at a time breaks it. */
export const BREAK_LOCK_FILE = `${LOCK_FILE}.break`;
/** Present only while a commit is being applied (or after a crash in that window): rolled forward on the next open. */
export const JOURNAL_FILE = 'commit.journal';

/** The files a committed generation consists of. */
export const STORE_FILES = [MANIFEST_FILE, DATA_FILE, DUMP_FILE] as const;
/** Names a side file may not take. */
export const RESERVED_NAMES = new Set<string>([...STORE_FILES, LOCK_FILE, JOURNAL_FILE]);

/** A staged file of generation `gen`: written and fsynced before the journal names it. */
export const stagedName = (file: string, generation: number): string => `${file}.g${generation}.next`;
export const JOURNAL_TEMP = `${JOURNAL_FILE}.tmp`;
/** Temp name for an atomically written side file. */
export const sideTempName = (name: string): string => `.${name}.tmp-${process.pid}-${Date.now().toString(36)}`;

/**
 * The temp names the lock itself makes, `store.lock.<kind>-<pid>-<random>`: `new` while a lock file is being
 * created (each waiting process makes and deletes one at every attempt), `stale` while an abandoned break
 * lock is inspected. `prefix`: what they are named after, another lock's (lock.ts serves others too).
 */
export const lockTempName = (kind: 'new' | 'stale', prefix: string = LOCK_FILE): string => `${prefix}.${kind}-${process.pid}-${Math.random().toString(36).slice(2)}`;
const LOCK_TEMP = /^store\.lock\.(?:new|stale)-(\d+)-[0-9a-z]*$/;
/** The pid in one of the lock's temp names, or undefined when `name` is not one. */
export function lockTempPid(name: string): number | undefined {
  const match = LOCK_TEMP.exec(name);
  return match ? Number(match[1]) : undefined;
}
/**
 * Names only facectl's lock makes (store.lock, its break lock and their temp files): another process's
 * lock attempt puts them in a folder at any instant, and removes them the next.
 */
export const isLockName = (name: string): boolean => name === LOCK_FILE || name === BREAK_LOCK_FILE || lockTempPid(name) !== undefined;

/** Leftovers of an interrupted writer, safe to delete under the lock once no journal is pending. */
export const isTempLeftover = (name: string): boolean =>
  /\.g\d+\.next$/.test(name) || name === JOURNAL_TEMP || /^\..+\.tmp-\d+-[0-9a-z]+$/.test(name) || name.startsWith(`${LOCK_FILE}.`);

/**
 * `$XDG_DATA_HOME/facectl/store`, or `~/.local/share/facectl/store` when XDG_DATA_HOME is unset
 * (a relative XDG_DATA_HOME is ignored, as the XDG spec requires).
 */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(xdgDir('data', env), 'facectl', 'store');
}

