/**
 * The search index beside a files store: `index.flat` and/or `index.hnsw`, caches keyed on the embeddings'
 * sha256, loaded when current and rebuilt when stale or missing (factory.loadOrRebuild). They are written
 * under the store lock, like every file in the store directory; a login that finds the lock busy, or
 * the directory read-only, searches the fresh index without saving it.
 *
 * Which kind a search uses:
 * - an explicit kind (`--index flat|hnsw`): the saved one of that kind when current, else it is built and
 *   saved; a saved index of the other kind is left alone (a one-off `login --index flat` does not delete
 *   an HNSW index built on purpose, 70 minutes at 1e6 identities);
 * - `auto`: the kind the size rule (chooseKind) picks when a current saved one of that kind exists, else
 *   any current saved kind (an index built on purpose stays in use), else the size rule's kind, built and saved.
 * Only `index rebuild --index flat|hnsw`, a deliberate switch, deletes the other kind once the new one is
 * saved. Commits that change the faces delete every stale index first (dropStaleIndexes).
 *
 * Something other than a regular file at those names is never opened (index-file.ts) nor deleted: a login
 * searches a fresh index without saving it; a commit, a repair and `index rebuild` stop with STORE_ERROR
 * naming it.
 */
import path from 'node:path';
import { ExitCode, FacectlError, isFacectlError } from '../errors.js';
import { chooseKind, createIndex, loadOrRebuild, type IndexKind, type VectorIndex } from '../index/index.js';
import { readIndexHeader, removeSavedIndex } from '../index/index-file.js';
import { GalleryStore, readCommittedGeneration, type StoreSnapshot } from '../store/index.js';
import type { IndexChoice } from './types.js';

export interface OpenedFilesIndex {
  index: VectorIndex;
  kind: IndexKind;
  origin: 'loaded' | 'built';
  file: string;
}

export const indexFile = (storeDir: string, kind: IndexKind): string => path.join(storeDir, `index.${kind}`);

/** The identity count from the manifest, so that checking a saved index (before a commit, too) derives no identity vector. */
const fingerprintOf = (snapshot: StoreSnapshot): string => `${snapshot.embeddingsSha256}:${snapshot.identityCount}`;

/** How long a login waits for a busy store lock before it skips saving the index (a cache). */
const LOGIN_SAVE_WAIT_MS = 200;

/** Whether the saved index of `kind` describes `snapshot` (false when missing or unreadable). */
function isCurrentIndex(snapshot: StoreSnapshot, kind: IndexKind): boolean {
  try {
    return readIndexHeader(indexFile(snapshot.dir, kind)).fingerprint === fingerprintOf(snapshot);
  } catch {
    return false;
  }
}

/**
 * Deletes the saved indexes that do not describe `snapshot` (unreadable, or another fingerprint): before
 * a commit that changes the faces, so that a removed person's vector does not outlive the commit on disk.
 */
export function dropStaleIndexes(snapshot: StoreSnapshot): void {
  for (const kind of ['flat', 'hnsw'] as const) {
    const file = indexFile(snapshot.dir, kind);
    // With no header file, the graph of an HNSW save killed before writing it is as stale as any. Something
    // other than a file at either name (a directory, a FIFO) is not deleted: STORE_ERROR names it.
    if (!isCurrentIndex(snapshot, kind)) removeSavedIndex(file);
  }
}

/**
 * The index can be skipped by a reader but not lost by a writer: true when saved. Not saved when another
 * process committed since `snapshot` was read: the index would describe faces the store no longer holds
 * (after a remove, a vector that must be gone).
 */
async function saveUnderLock(
  snapshot: StoreSnapshot,
  kind: IndexKind,
  write: () => void,
  /**
   * `rebuild`: `index rebuild`, whose point is the save: a failure to save (or to delete the other kind) is its
   * error; it waits for the lock like any writer, while a login waits LOGIN_SAVE_WAIT_MS at most.
   */
  options: { dropOtherKind: boolean; rebuild: boolean },
): Promise<boolean> {
  const waitMs = options.rebuild ? undefined : LOGIN_SAVE_WAIT_MS;
  try {
    return await GalleryStore.underLock(
      snapshot.dir,
      async () => {
        if ((await readCommittedGeneration(snapshot.dir)) !== snapshot.generation) return false;
        write();
        // A deliberate switch (`index rebuild --index <kind>`): the other kind goes, so `auto` uses this one.
        if (options.dropOtherKind) removeSavedIndex(indexFile(snapshot.dir, otherKind(kind)));
        return true;
      },
      { lockTimeoutMs: waitMs },
    );
  } catch (err) {
    // Busy, read-only, full, or something other than a file where the index goes: the store is intact and the
    // index in memory is right; a login answers with it (the next one retries).
    const errno = !isFacectlError(err) && typeof (err as NodeJS.ErrnoException)?.code === 'string';
    if (options.rebuild && errno) throw new FacectlError(ExitCode.STORE_ERROR, `cannot save the index: ${(err as Error).message}`, snapshot.dir);
    if (!options.rebuild && ((isFacectlError(err) && err.code === ExitCode.STORE_ERROR) || errno)) return false;
    throw err;
  }
}

const otherKind = (kind: IndexKind): IndexKind => (kind === 'flat' ? 'hnsw' : 'flat');

/**
 * The kind a search with `choice` uses (see the top of this file): an explicit kind as is; for `auto`, the size
 * rule's kind when its saved index is current, else the other kind when its saved index is current (one built on
 * purpose stays in use), else the size rule's kind.
 */
function searchKind(snapshot: StoreSnapshot, choice: IndexChoice): IndexKind {
  const sized = chooseKind(snapshot.dimension, snapshot.identityCount, choice);
  if (choice !== 'auto' || isCurrentIndex(snapshot, sized)) return sized;
  return isCurrentIndex(snapshot, otherKind(sized)) ? otherKind(sized) : sized;
}

/**
 * The snapshot's identities as one index, from the saved file when it is current. `rebuild` (`index rebuild`)
 * builds anew; with an explicit kind it also deletes the saved index of the other kind.
 */
export async function openFilesIndex(snapshot: StoreSnapshot, choice: IndexChoice, options: { rebuild?: boolean } = {}): Promise<OpenedFilesIndex> {
  const identities = snapshot.identities();
  const kind = searchKind(snapshot, choice);
  const file = indexFile(snapshot.dir, kind);
  const build = () => {
    const index = createIndex({ dim: snapshot.dimension, expectedSize: identities.length, kind });
    if (identities.length) index.add(identities.map((i) => i.id), snapshot.identityMatrix());
    return index;
  };
  const opened = await loadOrRebuild(file, { dim: snapshot.dimension, count: identities.length, fingerprint: fingerprintOf(snapshot), kind }, build, {
    rebuild: options.rebuild,
    persist: (write) =>
      saveUnderLock(snapshot, kind, write, {
        dropOtherKind: !!options.rebuild && choice !== 'auto',
        rebuild: !!options.rebuild,
      }),
  });
  return { index: opened.index, kind, origin: opened.rebuilt ? 'built' : 'loaded', file };
}
