/**
 * The commit protocol. A generation's files are first written under staged names and fsynced; then
 * `commit.journal` (the rename list) is written atomically: that rename is the commit point. The staged
 * files are then renamed over data.csv, embeddings.f32 and, last, manifest.json, and the journal is
 * deleted. A crash before the journal leaves the old generation (staged files are leftovers); a crash
 * after it is rolled forward by the next process that takes the lock. Readers that meet a journal, or
 * files whose checksums disagree with the manifest, wait for the roll-forward and read again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { errnoCode, fsyncDir, step, storeIoError, unlinkIfExists, writeFileDurable } from './fsio.js';
import type { LockHandle } from './lock.js';
import { clearAbandonedBreakLock, pidAlive } from './lock.js';
import { BREAK_LOCK_FILE, isTempLeftover, JOURNAL_FILE, JOURNAL_TEMP, LOCK_FILE, lockTempPid, stagedName } from './names.js';

interface JournalEntry {
  /** Final name, e.g. data.csv. */
  file: string;
  staged: string;
  bytes: number;
}

interface Journal {
  generation: number;
  entries: JournalEntry[];
}

export interface GenerationFile {
  name: string;
  content: Uint8Array;
}

/**
 * A journal whose commit cannot be completed: unreadable, or naming a staged file of the wrong size.
 * Every open stops on it; only repair goes on, by deleting it and salvaging the committed files.
 */
export class BrokenJournalError extends FacectlError {
  constructor(
    readonly reason: string,
    dir: string,
  ) {
    super(ExitCode.STORE_ERROR, `${reason}: run \`facectl index rebuild\``, dir);
  }
}

function parseJournal(dir: string, text: string): Journal {
  try {
    const journal = JSON.parse(text) as Journal;
    if (Number.isInteger(journal.generation) && Array.isArray(journal.entries)) return journal;
  } catch {
    /* fall through */
  }
  throw new BrokenJournalError(`${JOURNAL_FILE} is unreadable`, dir);
}

/** Renames each staged file still present over its final name, then removes the journal. Idempotent. */
function applyJournal(dir: string, journal: Journal): void {
  for (const entry of journal.entries) {
    const staged = path.join(dir, entry.staged);
    let size: number;
    try {
      size = fs.statSync(staged).size;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue; // renamed before the crash
      throw err;
    }
    if (size !== entry.bytes) {
      throw new BrokenJournalError(`${entry.staged} is ${size} bytes but the journal says ${entry.bytes}`, dir);
    }
    fs.renameSync(staged, path.join(dir, entry.file));
    step(`renamed:${entry.file}`);
  }
  fsyncDir(dir);
  fs.unlinkSync(path.join(dir, JOURNAL_FILE));
  fsyncDir(dir);
  step('journal-removed');
}

/** Completes an interrupted commit, if any (caller holds the lock). Returns its generation. */
export function rollForward(dir: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, JOURNAL_FILE), 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw storeIoError(err, 'read the commit journal', path.join(dir, JOURNAL_FILE));
  }
  const journal = parseJournal(dir, text);
  try {
    applyJournal(dir, journal);
  } catch (err) {
    throw storeIoError(err, `complete the interrupted commit of generation ${journal.generation}`, dir);
  }
  return journal.generation;
}

export const journalPending = (dir: string): boolean => fs.existsSync(path.join(dir, JOURNAL_FILE));

/** A leftover that belongs to a live process (a lock attempt in flight) must not be deleted. */
function ownedByLiveProcess(name: string): boolean {
  const pid = lockTempPid(name);
  return pid !== undefined && pid !== process.pid && pidAlive(pid);
}

/** A temp file of an interrupted writer: not one a live process (a lock attempt in flight) still owns. */
export function isRemovableLeftover(name: string): boolean {
  return isTempLeftover(name) && !ownedByLiveProcess(name);
}

/**
 * Deletes staged files and temp files of interrupted writers (caller holds the lock, no journal pending).
 * The break lock is removed only once its holder is gone.
 */
export function removeLeftovers(dir: string): string[] {
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (name === BREAK_LOCK_FILE) {
      if (clearAbandonedBreakLock(dir) === 'cleared') removed.push(name);
      continue;
    }
    if (name === LOCK_FILE || !isRemovableLeftover(name)) continue;
    if (unlinkIfExists(path.join(dir, name))) removed.push(name);
  }
  return removed;
}

/**
 * Durably replaces the store's files with `files` (manifest.json must be last) as generation `generation`.
 * Failures before the commit point leave the old generation and throw STORE_ERROR; a failure after it
 * leaves a journal that the next open completes.
 */
export function commitGeneration(dir: string, generation: number, files: GenerationFile[], lock: LockHandle): void {
  const entries: JournalEntry[] = files.map((f) => ({ file: f.name, staged: stagedName(f.name, generation), bytes: f.content.length }));
  let current = dir;
  let journaled = false;
  try {
    files.forEach((f, i) => {
      current = path.join(dir, entries[i]!.staged);
      writeFileDurable(dir, entries[i]!.staged, f.content);
      step(`staged:${f.name}`);
    });
    current = path.join(dir, JOURNAL_FILE);
    fsyncDir(dir);
    writeFileDurable(dir, JOURNAL_TEMP, `${JSON.stringify({ generation, entries } satisfies Journal)}\n`);
    lock.assertHeld();
    fs.renameSync(path.join(dir, JOURNAL_TEMP), path.join(dir, JOURNAL_FILE));
    journaled = true;
    fsyncDir(dir);
  } catch (err) {
    // Once the journal exists its staged files must stay: deleting only some could let a roll-forward mix generations.
    if (journaled) throw storeIoError(err, `finish commit ${generation} (it is recorded and completes on the next open)`, dir);
    for (const name of [...entries.map((e) => e.staged), JOURNAL_TEMP]) {
      try {
        unlinkIfExists(path.join(dir, name));
      } catch {
        /* best effort: removeLeftovers() catches it next time */
      }
    }
    throw storeIoError(err, `write the store (nothing was changed)`, current);
  }
  step('committed');
  try {
    applyJournal(dir, { generation, entries });
  } catch (err) {
    throw storeIoError(err, `finish commit ${generation} (it is recorded and completes on the next open)`, dir);
  }
}
