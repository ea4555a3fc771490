/**
 * The user models folder's lock: `models add` and `models remove` read user-models.json, check, copy and
 * save it under `user-models.lock`, so two at once cannot lose each other's entries (an audit's concurrent
 * adds kept only some). The lock file holds {pid, hostname, since, processStart, token} and is made whole
 * (a temporary file hard-linked into place, which fails when the lock exists). A lock whose pid is dead on
 * this host, or now another process's, is stale: it is deleted under a second lock held only for the break
 * (`user-models.lock.break`), and only while it is still the very lock judged stale (as src/store/lock.ts
 * does for a store; that one's names and messages are a store's).
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { pidAlive, processStartTime } from '../store/lock.js';

export const LOCK_FILE = 'user-models.lock';
const BREAK_FILE = `${LOCK_FILE}.break`;

interface LockInfo {
  pid: number;
  hostname: string;
  since: string;
  processStart?: string;
  token: string;
}

/** Tokens of the locks this process holds: a lock naming our pid is live only when it is one of them. */
const heldHere = new Set<string>();

const readText = (file: string): Promise<string | undefined> =>
  readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });

function parse(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as LockInfo;
    return Number.isInteger(info.pid) && typeof info.hostname === 'string' ? info : undefined;
  } catch {
    return undefined;
  }
}

/** One attempt at making lock file `name` whole: its text, or undefined when it exists. */
async function tryCreate(dir: string, name: string): Promise<string | undefined> {
  const info: LockInfo = { pid: process.pid, hostname: os.hostname(), since: new Date().toISOString(), token: randomBytes(16).toString('hex') };
  const start = processStartTime(process.pid);
  if (start) info.processStart = start;
  const text = `${JSON.stringify(info)}\n`;
  const temp = path.join(dir, `${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(temp, text, { flag: 'wx', mode: 0o600 });
    await link(temp, path.join(dir, name));
    return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Whether a lock's holder is gone: unreadable, a dead pid on this host, or a pid now another process's. Other hosts' locks never are. */
function isStale(info: LockInfo | undefined): boolean {
  if (!info) return true;
  if (info.hostname !== os.hostname()) return false;
  if (info.pid === process.pid) return !heldHere.has(info.token);
  if (!pidAlive(info.pid)) return true;
  const start = processStartTime(info.pid);
  return !!(info.processStart && start && start !== info.processStart);
}

/** Deletes the lock whose text is `staleText`, under the break lock; a break lock older than 10 s was left by a breaker that died. */
async function breakStale(dir: string, staleText: string): Promise<void> {
  const lockFile = path.join(dir, LOCK_FILE);
  const breakFile = path.join(dir, BREAK_FILE);
  const mine = await tryCreate(dir, BREAK_FILE);
  if (mine === undefined) {
    const info = await stat(breakFile).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > 10_000) await unlink(breakFile).catch(() => undefined);
    return;
  }
  try {
    if ((await readText(lockFile)) === staleText) await unlink(lockFile).catch(() => undefined);
  } finally {
    if ((await readText(breakFile)) === mine) await unlink(breakFile).catch(() => undefined);
  }
}

export interface UserModelsLockOptions {
  /** How long to wait for another holder, in ms (default 30 000: an add of a large model copies it under the lock). */
  timeoutMs?: number;
}

/** Runs `fn` holding the lock of the user models folder `dir` (which exists); exit 11 when another process holds it past the wait. */
export async function withUserModelsLock<T>(dir: string, fn: () => Promise<T>, options: UserModelsLockOptions = {}): Promise<T> {
  const lockFile = path.join(dir, LOCK_FILE);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const started = Date.now();
  let pause = 5;
  let mine: string | undefined;
  for (;;) {
    mine = await tryCreate(dir, LOCK_FILE);
    if (mine !== undefined) break;
    const text = await readText(lockFile);
    if (text === undefined) continue;
    const info = parse(text);
    if (isStale(info)) {
      await breakStale(dir, text);
      continue;
    }
    if (Date.now() - started >= timeoutMs) {
      const who = info ? `pid ${info.pid}${info.hostname === os.hostname() ? '' : ` on ${info.hostname}`} since ${info.since}` : 'another process';
      throw new FacectlError(ExitCode.STORE_ERROR, `the user models folder is locked by ${who} (another \`facectl models add\` or \`remove\`); if no facectl is running, delete ${LOCK_FILE}`, dir);
    }
    await new Promise((resolve) => setTimeout(resolve, pause * (0.5 + Math.random())));
    pause = Math.min(pause * 2, 100);
  }
  const token = parse(mine)!.token;
  heldHere.add(token);
  try {
    return await fn();
  } finally {
    heldHere.delete(token);
    if ((await readText(lockFile).catch(() => undefined)) === mine) await unlink(lockFile).catch(() => undefined);
  }
}
