/**
 * Exclusive store lock: `store.lock` holds {pid, hostname, time, process start, a random token}. It is
 * created whole (written to a temp file, then hard-linked into place, which fails if the lock exists), so
 * a reader never sees an empty lock. A lock whose pid is dead on this host (or reused by another process)
 * is stale.
 *
 * A stale lock is broken under a second lock, `store.lock.break`, held only for the break: the breaker
 * checks that store.lock is still the very lock it judged stale, and only then deletes it. A stale
 * lock's holder is dead and other breakers wait, so nothing can replace it in between, and store.lock
 * is never absent while a live process holds it. (Breaking by renaming store.lock aside and putting it
 * back if it proved to be a fresh lock left the store unlocked in between: with a breaker paused there,
 * its holder failed with "lost the store lock", or, had it already checked, could commit over writers
 * that took the free lock meanwhile.)
 *
 * A lock file is told from another by its content (the token), never by its inode number: ext4 gives a
 * new file the inode number the last deleted one had, so every lock file of a busy store can carry the
 * same one.
 *
 * The same lock serves another folder under other names (LockNames; the user models folder's,
 * models/user-models-lock.ts) and with its own "locked" error; the defaults are the store's.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { errnoCode, sleep, step, storeError, storeIoError, unlinkIfExists, writeNewPrivateFile } from './fsio.js';
import { BREAK_LOCK_FILE, LOCK_FILE, lockTempName } from './names.js';

export interface LockInfo {
  pid: number;
  hostname: string;
  /** ISO 8601 time the lock was taken. */
  since: string;
  /** Kernel start time of the holder (Linux /proc), to tell a dead holder from a reused pid. */
  processStart?: string;
  /** Random, unique to this lock file: what tells it from any other lock file. */
  token?: string;
}

export interface LockHandle {
  readonly dir: string;
  /** Throws STORE_ERROR if the lock file is no longer ours (someone broke it): checked before committing. */
  assertHeld(): void;
  release(): void;
}

/** The files a lock makes in its folder. */
export interface LockNames {
  /** The lock file. */
  readonly lock: string;
  /** Held only while a stale lock is broken. */
  readonly breakLock: string;
  /** What the lock's temp files are named after: `<tempPrefix>.<new|stale>-<pid>-<random>` (names.ts lockTempName). */
  readonly tempPrefix: string;
}

/** The store's: store.lock, store.lock.break, store.lock.new-… and store.lock.stale-…. */
export const STORE_LOCK_NAMES: LockNames = { lock: LOCK_FILE, breakLock: BREAK_LOCK_FILE, tempPrefix: LOCK_FILE };

export interface LockOptions {
  /** How long to wait for another holder, in ms (default 10 000). */
  timeoutMs?: number;
  /** The lock's files (default the store's). */
  names?: LockNames;
  /** The error when the lock is still held once `timeoutMs` is up (default StoreLockedError). */
  lockedError?: (holder: LockInfo | undefined, waitedMs: number, dir: string) => Error;
  /** What an I/O failure while taking the lock is thrown as (default STORE_ERROR "cannot take the store lock: …"). */
  ioError?: (err: unknown, lockFile: string) => unknown;
  /**
   * This process asking again while it holds the lock: 'refuse' (default; INTERNAL, as a nested mutate
   * would otherwise wait on itself), or 'wait' for its holder here to release it (separate callers).
   */
  inProcess?: 'refuse' | 'wait';
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

/** Lock files (their paths) this process holds: a nested mutate would otherwise wait on itself. */
const heldHere = new Set<string>();
/** Break lock files (their paths) this process holds (only inside breakStaleLock). */
const breakingHere = new Set<string>();

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or undefined off Linux. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/** The lock file's exact text, or undefined when there is none. */
function readLockText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** The current lock (or break lock): its parsed info (undefined if unreadable) and its exact text, which identifies it. */
export function readLockInfo(dir: string, name: string = LOCK_FILE): { info: LockInfo | undefined; text: string } | undefined {
  const text = readLockText(path.join(dir, name));
  if (text === undefined) return undefined;
  try {
    const info = JSON.parse(text) as LockInfo;
    return { info: Number.isInteger(info.pid) && typeof info.hostname === 'string' ? info : undefined, text };
  } catch {
    return { info: undefined, text };
  }
}

/**
 * Why a lock file (store.lock or the break lock) is stale, or undefined if its holder may still be
 * running. Locks from other hosts never are. `heldByUs`: this process holds it now; one naming our own
 * pid that we do not hold was left by an earlier process with our pid.
 */
function staleness(info: LockInfo | undefined, heldByUs: boolean): string | undefined {
  if (!info) return 'unreadable lock file';
  if (info.hostname !== os.hostname()) return undefined;
  if (info.pid === process.pid) return heldByUs ? undefined : 'left by an earlier process with our pid';
  if (!pidAlive(info.pid)) return `pid ${info.pid} is not running`;
  const start = processStartTime(info.pid);
  if (info.processStart && start && start !== info.processStart) return `pid ${info.pid} now belongs to another process`;
  return undefined;
}

/** Why a lock is stale, or undefined if its holder may still be running. Locks from other hosts are never stale. */
export const staleReason = (info: LockInfo | undefined, dir: string, names: LockNames = STORE_LOCK_NAMES): string | undefined =>
  staleness(info, heldHere.has(path.join(dir, names.lock)));

/**
 * Deletes the stale lock whose exact content is `staleText`, holding the break lock meanwhile. Returns
 * true when the caller should try to take the lock again at once (broken, or already gone or replaced),
 * false when another process is breaking it (wait).
 */
export function breakStaleLock(dir: string, staleText: string, names: LockNames = STORE_LOCK_NAMES): boolean {
  const lockFile = path.join(dir, names.lock);
  const breakFile = path.join(dir, names.breakLock);
  const mine = tryCreateLockFile(dir, names.breakLock, names);
  if (mine === undefined) return clearAbandonedBreakLock(dir, names) !== 'live';
  breakingHere.add(breakFile);
  try {
    // Under the break lock the stale lock can only go away through us: if it is still there, it is
    // the one judged stale, and deleting it cannot hit a fresh lock. Anything else is left alone.
    if (readLockText(lockFile) !== staleText) return true;
    step('lock:breaking');
    unlinkIfExists(lockFile);
    return true;
  } finally {
    breakingHere.delete(breakFile);
    if (readLockText(breakFile) === mine) unlinkIfExists(breakFile);
  }
}

/**
 * Removes a break lock left by a process that died mid-break (a window of microseconds), renamed aside
 * first and put back if it proved to be another one. Only after such a crash could two breakers run at
 * once. 'live': its holder may still be breaking (wait); 'absent': there is none (or it just went).
 */
export function clearAbandonedBreakLock(dir: string, names: LockNames = STORE_LOCK_NAMES): 'absent' | 'live' | 'cleared' {
  const breakFile = path.join(dir, names.breakLock);
  const current = readLockInfo(dir, names.breakLock);
  if (!current) return 'absent';
  if (!staleness(current.info, breakingHere.has(breakFile))) return 'live';
  const aside = path.join(dir, lockTempName('stale', names.tempPrefix));
  try {
    fs.renameSync(breakFile, aside);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 'absent';
    throw err;
  }
  const cleared = readLockText(aside) === current.text;
  if (!cleared) {
    try {
      fs.linkSync(aside, breakFile);
    } catch {
      /* another breaker took the break lock meanwhile */
    }
  }
  unlinkIfExists(aside);
  return cleared ? 'cleared' : 'live';
}

/** One attempt at creating lock file `name` whole: its exact text, or undefined if it exists. */
function tryCreateLockFile(dir: string, name: string, names: LockNames): string | undefined {
  const info: LockInfo = { pid: process.pid, hostname: os.hostname(), since: new Date().toISOString() };
  const start = processStartTime(process.pid);
  if (start) info.processStart = start;
  info.token = randomBytes(16).toString('hex');
  const text = `${JSON.stringify(info)}\n`;
  const temp = path.join(dir, lockTempName('new', names.tempPrefix));
  try {
    writeNewPrivateFile(temp, text);
    fs.linkSync(temp, path.join(dir, name));
    return text;
  } catch (err) {
    // EEXIST: someone holds the lock. ENOENT: a repair removed our temp file as a leftover: try again.
    if (errnoCode(err) === 'EEXIST' || errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  } finally {
    unlinkIfExists(temp);
  }
}

/**
 * Who may still be working under the lock: store.lock's holder while it may be running, else the holder
 * of a break lock that may be running (it is removing a dead holder's store.lock, and others wait for
 * it); undefined when neither may be (no lock, or only a dead holder's, which the next taker breaks).
 */
export function liveHolder(dir: string, names: LockNames = STORE_LOCK_NAMES): LockInfo | undefined {
  const resolved = path.resolve(dir);
  const lock = readLockInfo(resolved, names.lock);
  if (!lock) return undefined;
  if (!staleReason(lock.info, resolved, names)) return lock.info;
  const breaker = readLockInfo(resolved, names.breakLock);
  return breaker && !staleness(breaker.info, breakingHere.has(path.join(resolved, names.breakLock))) ? breaker.info : undefined;
}

/** A lock's holder as messages name it: "pid N[ on HOST] since TIME", or "another process" when unknown. */
export const describeHolder = (holder: LockInfo | undefined): string =>
  holder ? `pid ${holder.pid}${holder.hostname === os.hostname() ? '' : ` on ${holder.hostname}`} since ${holder.since}` : 'another process';

/** The store lock stayed busy past the wait allowed (STORE_ERROR): contention, not damage. */
export class StoreLockedError extends FacectlError {
  /** `doing`: what the holder is doing, after its name (", which is committing"). */
  constructor(holder: LockInfo | undefined, waitedMs: number, dir: string, doing = '') {
    const who = describeHolder(holder);
    super(ExitCode.STORE_ERROR, `store is locked by ${who}${doing} (waited ${(waitedMs / 1000).toFixed(1)} s); if no facectl is running, delete ${LOCK_FILE}`, dir);
    this.name = 'StoreLockedError';
  }
}

/** Waits (polling with jitter) until the lock is ours, breaking stale locks; STORE_ERROR on timeout. */
export async function acquireLock(dir: string, options: LockOptions = {}): Promise<LockHandle> {
  const resolved = path.resolve(dir);
  const names = options.names ?? STORE_LOCK_NAMES;
  const lockFile = path.join(resolved, names.lock);
  if (heldHere.has(lockFile) && options.inProcess !== 'wait') {
    throw new FacectlError(ExitCode.INTERNAL, `store ${resolved} is already locked by this process (nested mutate?)`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const started = Date.now();
  let pause = 2;
  for (;;) {
    let current: ReturnType<typeof readLockInfo>;
    try {
      const mine = tryCreateLockFile(resolved, names.lock, names);
      if (mine !== undefined) return makeHandle(resolved, lockFile, mine);
      current = readLockInfo(resolved, names.lock);
      if (current && staleReason(current.info, resolved, names) && breakStaleLock(resolved, current.text, names)) continue;
    } catch (err) {
      throw options.ioError ? options.ioError(err, lockFile) : storeIoError(err, 'take the store lock', lockFile);
    }
    const waited = Date.now() - started;
    if (waited >= timeoutMs) {
      // A dead holder's lock that a live breaker is removing: the breaker is the one others wait for.
      let holder = current?.info;
      try {
        holder = liveHolder(resolved, names) ?? holder;
      } catch {
        /* named as read above */
      }
      throw options.lockedError ? options.lockedError(holder, waited, resolved) : new StoreLockedError(holder, waited, resolved);
    }
    await sleep(pause * (0.5 + Math.random()));
    pause = Math.min(pause * 2, 50);
  }
}

function makeHandle(dir: string, lockFile: string, text: string): LockHandle {
  heldHere.add(lockFile);
  const ours = (): boolean => {
    try {
      return readLockText(lockFile) === text;
    } catch {
      return false;
    }
  };
  let released = false;
  return {
    dir,
    assertHeld() {
      if (released || !ours()) throw storeError('lost the store lock (another process removed store.lock): nothing was committed', dir);
    },
    release() {
      if (released) return;
      released = true;
      heldHere.delete(lockFile);
      if (ours()) unlinkIfExists(lockFile);
    },
  };
}

/** Runs `fn` holding the lock, releasing it whatever happens. */
export async function withLock<T>(dir: string, options: LockOptions, fn: (lock: LockHandle) => Promise<T> | T): Promise<T> {
  const lock = await acquireLock(dir, options);
  try {
    return await fn(lock);
  } finally {
    lock.release();
  }
}
