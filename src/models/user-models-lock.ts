/**
 * The user models folder's lock: `models add` and `models remove` read user-models.json, check, copy and
 * save it under `user-models.lock`, so two at once cannot lose each other's entries (an audit's concurrent
 * adds kept only some). It is the store's lock (src/store/lock.ts: a lock file made whole by a hard link,
 * told apart by its token; a stale one, whose pid is dead on this host or now another process's, deleted
 * under a second lock, `user-models.lock.break`, only while it is still the very lock judged stale) under
 * this folder's names and "locked" message. Unlike a store's, this process may ask for it while holding
 * it: the second caller waits for the first.
 */
import { ExitCode, FacectlError } from '../errors.js';
import { describeHolder, withLock, type LockNames } from '../store/lock.js';

export const LOCK_FILE = 'user-models.lock';
const NAMES: LockNames = { lock: LOCK_FILE, breakLock: `${LOCK_FILE}.break`, tempPrefix: LOCK_FILE };

export interface UserModelsLockOptions {
  /** How long to wait for another holder, in ms (default 30 000: an add of a large model copies it under the lock). */
  timeoutMs?: number;
}

/** Runs `fn` holding the lock of the user models folder `dir` (which exists); exit 11 when another process holds it past the wait. */
export async function withUserModelsLock<T>(dir: string, fn: () => Promise<T>, options: UserModelsLockOptions = {}): Promise<T> {
  return withLock(
    dir,
    {
      timeoutMs: options.timeoutMs ?? 30_000,
      names: NAMES,
      inProcess: 'wait',
      // I/O errors go out as they are: the caller names the folder (user-models.ts writing()).
      ioError: (err) => err,
      lockedError: (holder) =>
        new FacectlError(ExitCode.STORE_ERROR, `the user models folder is locked by ${describeHolder(holder)} (another \`facectl models add\` or \`remove\`); if no facectl is running, delete ${LOCK_FILE}`, dir),
    },
    () => fn(),
  );
}
