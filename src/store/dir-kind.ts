/**
 * What a directory given as a store holds, judged by file names alone, before anything in it is touched:
 * commands that write, lock or repair must refuse a folder that is not a store (`--store ~/Documents`)
 * without deleting, creating or chmod-ing anything there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { untrustedBecause } from '../file-trust.js';
import { errnoCode, storeError, storeIoError } from './fsio.js';
import { DATA_FILE, DUMP_FILE, isLockName, isTempLeftover, JOURNAL_FILE, LOCK_FILE, MANIFEST_FILE } from './names.js';

/**
 * - `missing`: nothing at that path;
 * - `not-dir`: a file (or other non-directory);
 * - `store`: a committed generation (manifest.json) or a commit in flight (commit.journal);
 * - `damaged`: data.csv or embeddings.f32 without a manifest (`facectl index rebuild` salvages it);
 * - `blank`: an empty directory, or one holding only facectl's lock files (store.lock, its break lock,
 *   their temp files `store.lock.new-<pid>-<random>` …) and, beside store.lock, the leftovers of a first
 *   commit that never completed (a store with no generation yet: it reads as empty). Another process's
 *   first enroll makes a lock temp file before store.lock exists, and one killed there leaves it behind:
 *   either is facectl's folder, not someone's;
 * - `foreign`: anything else, someone's folder.
 */
export type StoreDirKind = 'missing' | 'not-dir' | 'store' | 'damaged' | 'blank' | 'foreign';

export function storeDirKind(dir: string): StoreDirKind {
  return inspectStoreDir(dir).kind;
}

/** The directory's kind and, unless `missing`, its stat (the one its kind was judged from). */
export interface StoreDirInspection {
  kind: StoreDirKind;
  stats?: fs.Stats;
}

/** storeDirKind with the stat it took, for callers that check the folder's mode too. */
export function inspectStoreDir(dir: string): StoreDirInspection {
  let names: string[];
  let stats: fs.Stats;
  try {
    stats = fs.statSync(dir);
    if (!stats.isDirectory()) return { kind: 'not-dir', stats };
    names = fs.readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { kind: 'missing' };
    throw storeIoError(err, 'open the store', dir);
  }
  if (names.includes(MANIFEST_FILE) || names.includes(JOURNAL_FILE)) return { kind: 'store', stats };
  if (names.includes(DATA_FILE) || names.includes(DUMP_FILE)) return { kind: 'damaged', stats };
  if (names.length === 0) return { kind: 'blank', stats };
  // Leftover-like names count as facectl's only beside its lock file: a lone `thesis.g2.next` is the user's.
  const locked = names.includes(LOCK_FILE);
  return { kind: names.every((n) => isLockName(n) || (locked && isTempLeftover(n))) ? 'blank' : 'foreign', stats };
}

/**
 * STORE_ERROR for the kinds nothing may be done in; returns the kind otherwise. A store (or what is left
 * of one) in a folder that others may write is refused too: whoever can write it can rename forged files
 * into it, enrolling their own face under any id. facectl makes store folders 0700, so such a mode was
 * set by someone; the user decides (`chmod 700`), facectl does not silently take it over. An empty
 * folder is taken (made 0700 at the first commit): it holds nothing to forge yet.
 */
export function refuseUnlessStoreDir(dir: string, inspected: StoreDirInspection = inspectStoreDir(dir)): StoreDirKind {
  const { kind, stats } = inspected;
  if (kind === 'not-dir') throw storeError('not a directory, so not a facectl store', dir);
  if (kind === 'foreign') throw storeError(`not a facectl store (no ${MANIFEST_FILE}): refusing to touch it`, dir);
  if (kind === 'store' || kind === 'damaged') refuseWritableByOthers(dir, stats!);
  return kind;
}

function refuseWritableByOthers(dir: string, stats: fs.Stats): void {
  const mode = stats.mode & 0o777;
  if (mode & 0o022)
    throw storeError(
      `the store folder is writable by ${mode & 0o002 ? 'every user' : 'its group'} (mode ${mode.toString(8).padStart(4, '0')}): anyone who can write it can replace the enrolled faces; check its files, then \`chmod 700\` it`,
      dir,
    );
  // Its owner can write it whatever the mode: a store of another user (or one put in place of yours, from a
  // folder others may write) is theirs to fill. Root's is trusted, as for the models cache.
  const owner = untrustedBecause(stats, 'folder');
  if (owner) throw storeError(`the store folder ${owner}: they can replace the enrolled faces; use it as that user, or check its files and \`chown\` it to yourself`, dir);
  // The files it holds are replaced by rename at each commit, so they are this user's; one that is not was put there.
  for (const name of [MANIFEST_FILE, DATA_FILE, DUMP_FILE]) {
    let info: fs.Stats;
    try {
      info = fs.lstatSync(path.join(dir, name));
    } catch {
      continue; // missing or unreadable: the store's own checks say so
    }
    const why = untrustedBecause(info, 'file');
    if (why) throw storeError(`${name} ${why}: whoever can change it can replace the enrolled faces; check it, then \`chown\`/\`chmod 600\` it`, dir);
  }
}
