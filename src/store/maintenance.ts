/**
 * verify() and repair() for `facectl index rebuild`: verify reads everything (full checksums, norms,
 * file modes) and lists problems; repair fixes what can be fixed without inventing data and says what
 * it did. It refuses (STORE_ERROR) only when ids or embeddings themselves are unreadable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError, isFacectlError } from '../errors.js';
import { norm } from '../pipeline/vector.js';
import { BrokenJournalError, commitGeneration, isRemovableLeftover, journalPending, removeLeftovers, rollForward } from './commit.js';
import { StoreDraft } from './draft.js';
import { DIR_MODE, errnoCode, FILE_MODE, readIfExists, storeError, storeIoError } from './fsio.js';
import { buildGeneration, emptySnapshot } from './generation.js';
import { readSnapshot, type OpenOptions } from './load.js';
import { readLockInfo, staleReason, StoreLockedError, withLock } from './lock.js';
import { checkManifestVersion } from './manifest.js';
import { DATA_FILE, JOURNAL_FILE, lockTempPid, MANIFEST_FILE } from './names.js';
import { refuseUnlessStoreDir, storeDirKind } from './dir-kind.js';
import { NORM_TOLERANCE, salvage } from './salvage.js';
import { StoreSnapshot } from './snapshot.js';
import type { FaceRow } from './types.js';

export interface VerifyReport {
  ok: boolean;
  generation?: number;
  faces?: number;
  identities?: number;
  /** Things that are wrong (repair() fixes most of them). */
  problems: string[];
  /** Harmless observations (pending journal, leftovers, a lock). */
  notes: string[];
}

/**
 * What repair does with readable data.csv rows whose embedding is lost (past the end of a truncated
 * dump, shared with an earlier row, zero or not finite): `'refuse'` (the default) throws STORE_ERROR
 * and changes none of the three files; `'drop'` drops them, listing each; a function re-embeds: it gets
 * every row the salvaged store would hold, lost ones included, in order, and returns the change to make
 * to the draft (which must give every row it keeps a new embedding), committed with the salvage in one
 * generation. Without such rows the function is not called.
 */
export type LostEmbeddings = 'refuse' | 'drop' | ((rows: readonly FaceRow[]) => Promise<(draft: StoreDraft) => void | Promise<void>>);

export interface RepairOptions extends OpenOptions {
  lostEmbeddings?: LostEmbeddings;
}

export interface RepairReport {
  /** What was changed, one line each; empty when the store was already sound. */
  actions: string[];
  snapshot: StoreSnapshot;
}


const modeText = (mode: number): string => (mode & 0o777).toString(8).padStart(4, '0');

/**
 * Files and directory whose permission bits are not 0600 / 0700. A name listed may be gone by the time it
 * is looked at (every process waiting for the lock makes and deletes a `store.lock.new-…` file at each
 * attempt; verify holds no lock, so a writer may remove a side file meanwhile): such names are skipped,
 * and the lock's own temp files, made 0600 and gone within microseconds, are not looked at.
 */
function modeProblems(dir: string): { file: string; mode: number; want: number }[] {
  const out: { file: string; mode: number; want: number }[] = [];
  const dirMode = fs.statSync(dir).mode & 0o777;
  if (dirMode !== DIR_MODE) out.push({ file: dir, mode: dirMode, want: DIR_MODE });
  for (const name of fs.readdirSync(dir)) {
    if (lockTempPid(name) !== undefined) continue;
    const stat = lstatIfExists(path.join(dir, name));
    if (stat?.isFile() && (stat.mode & 0o777) !== FILE_MODE) out.push({ file: path.join(dir, name), mode: stat.mode & 0o777, want: FILE_MODE });
  }
  return out;
}

function lstatIfExists(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** chmod, false when the file went meanwhile. */
function chmodIfExists(file: string, mode: number): boolean {
  try {
    fs.chmodSync(file, mode);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** Rows whose embedding is not unit length, and identities whose rows disagree on the name. */
function contentProblems(snapshot: StoreSnapshot): string[] {
  const problems: string[] = [];
  snapshot.rows.forEach((row, i) => {
    const length = norm(snapshot.embeddingOf(row));
    if (!(Math.abs(length - 1) <= NORM_TOLERANCE)) problems.push(`${DATA_FILE} row ${i + 1} (${row.id}): embedding norm is ${length}, not 1`);
  });
  const names = new Map<string, string>();
  for (const row of snapshot.rows) {
    const seen = names.get(row.id);
    if (seen !== undefined && seen !== row.name) problems.push(`identity ${row.id} has rows with different names`);
    names.set(row.id, row.name);
  }
  return [...new Set(problems)];
}

/** Reads everything and reports; changes nothing except completing an interrupted commit, as any open does. */
export async function verifyStore(dir: string, options: OpenOptions = {}): Promise<VerifyReport> {
  const root = path.resolve(dir);
  const report: VerifyReport = { ok: false, problems: [], notes: [] };
  if (!fs.existsSync(root)) {
    report.problems.push(`no store at ${root}`);
    return report;
  }
  const blank = refuseUnlessStoreDir(root) === 'blank';
  if (journalPending(root)) report.notes.push('an interrupted commit was pending; opening the store completes it');
  const lock = readLockInfo(root);
  if (lock) {
    const stale = staleReason(lock.info, root);
    report.notes.push(stale ? `stale lock (${stale}): the next writer removes it` : `locked by pid ${lock.info?.pid} on ${lock.info?.hostname}`);
  }
  // A lock attempt of a live process (one waiting for the lock) is not a leftover: it is gone a moment later.
  const leftovers = fs.readdirSync(root).filter(isRemovableLeftover);
  if (leftovers.length > 0) report.notes.push(`leftover temp files (the next writer removes them): ${leftovers.join(', ')}`);
  for (const m of modeProblems(root)) report.problems.push(`${m.file} has mode ${modeText(m.mode)}, expected ${modeText(m.want)}`);
  if (blank) {
    report.notes.push('no generation committed yet: the store is empty');
    report.ok = report.problems.length === 0;
    return report;
  }
  try {
    const snapshot = await readSnapshot(root, { ...options, verifyEmbeddings: true });
    report.generation = snapshot.generation;
    report.faces = snapshot.rows.length;
    report.identities = snapshot.manifest.counts.identities;
    report.problems.push(...contentProblems(snapshot));
  } catch (err) {
    if (!isFacectlError(err)) throw err;
    // A writer busy past the wait is no fault of the store: it is not checked, and not ok, this time.
    if (err instanceof StoreLockedError) {
      report.notes.push(`not checked: ${err.oneLine()}; run it again`);
      return report;
    }
    report.problems.push(err.oneLine());
  }
  report.ok = report.problems.length === 0;
  return report;
}

/**
 * Completes an interrupted commit; a journal that cannot be completed (unreadable, or naming a staged
 * file of the wrong size) is deleted instead, so that salvage can work from the committed files: left in
 * place it would block every command for good.
 */
function completeOrDropJournal(root: string, actions: string[]): void {
  try {
    const completed = rollForward(root);
    if (completed !== undefined) actions.push(`completed the interrupted commit of generation ${completed}`);
  } catch (err) {
    if (!(err instanceof BrokenJournalError)) throw err;
    fs.unlinkSync(path.join(root, JOURNAL_FILE));
    actions.push(`removed ${JOURNAL_FILE}: ${err.reason}, so its commit could not be completed; the committed files are salvaged`);
  }
}

/** STORE_ERROR when manifest.json was written by a newer facectl: repairing would downgrade it. */
function refuseNewerStore(root: string): void {
  const bytes = readIfExists(path.join(root, MANIFEST_FILE));
  if (bytes) checkManifestVersion(bytes.toString('utf8'), root);
}

/**
 * Completes interrupted commits, removes leftovers, fixes file modes, and, if the files do not form a
 * valid generation, salvages what is readable into a new one. Reports every change. Readable rows whose
 * embedding is lost are never dropped unless `lostEmbeddings` says so (see LostEmbeddings).
 */
export async function repairStore(dir: string, options: RepairOptions = {}): Promise<RepairReport> {
  const root = path.resolve(dir);
  const { lostEmbeddings = 'refuse', ...openOptions } = options;
  // Checked before the lock file is made or anything is deleted or chmod-ed: `--store ~/Documents` touches nothing.
  if (refuseUnlessStoreDir(root) === 'missing') throw storeError('no store to repair', root);
  refuseNewerStore(root);
  return withLock(root, { timeoutMs: openOptions.lockTimeoutMs }, async (lock) => {
    const actions: string[] = [];
    try {
      completeOrDropJournal(root, actions);
      for (const name of removeLeftovers(root)) actions.push(`removed leftover ${name}`);
      for (const m of modeProblems(root)) {
        if (chmodIfExists(m.file, m.want)) actions.push(`${m.file}: mode ${modeText(m.mode)} → ${modeText(m.want)}`);
      }
    } catch (err) {
      throw storeIoError(err, 'repair the store', root);
    }
    if (storeDirKind(root) === 'blank') {
      actions.push('no generation was ever committed: the store is empty');
      return { actions, snapshot: emptySnapshot(root) };
    }
    try {
      const sound = await readSnapshot(root, { ...openOptions, verifyEmbeddings: true }, true);
      if (contentProblems(sound).length === 0) return { actions, snapshot: sound };
    } catch (err) {
      if (!isFacectlError(err)) throw err;
    }
    const reembed = typeof lostEmbeddings === 'function' ? lostEmbeddings : undefined;
    const mode = reembed ? 'keep' : (lostEmbeddings as 'refuse' | 'drop');
    const { snapshot: salvaged, baseGeneration, lost } = salvage(root, actions, mode);
    const draft = new StoreDraft(salvaged);
    if (reembed && lost > 0) {
      // Under the lock (no command can use the store until this commit anyway); nothing is written unless every row got its embedding.
      const change = await reembed(salvaged.rows);
      await change(draft);
      requireEveryEmbedding(draft, root);
    }
    draft.markEmbeddingsDirty();
    const built = buildGeneration(draft, new Date(), baseGeneration);
    commitGeneration(root, built.generation, built.files, lock);
    actions.push(`wrote generation ${built.generation}: ${built.snapshot.rows.length} faces, ${built.snapshot.manifest.counts.identities} identities`);
    return { actions, snapshot: built.snapshot };
  });
}

/** INTERNAL when a re-embedding change left a row with its zero placeholder: it would commit an unusable store. */
function requireEveryEmbedding(draft: StoreDraft, root: string): void {
  draft.rows.forEach((row, i) => {
    if (!(Math.abs(norm(draft.embeddingOf(i)) - 1) <= NORM_TOLERANCE)) {
      throw new FacectlError(ExitCode.INTERNAL, `repair: row ${i + 1} (${row.id}) was left without an embedding; nothing was committed`, root);
    }
  });
}
