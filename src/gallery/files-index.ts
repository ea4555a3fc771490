/**
 * The search index beside a files store: `index.flat` or `index.hnsw`, a cache keyed on the embeddings'
 * sha256, loaded when current and rebuilt when stale or missing (factory.loadOrRebuild). It is written
 * under the store lock, like every file in the store directory; a login that finds the lock busy, or
 * the directory read-only, searches the fresh index without saving it.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, isFacectlError } from '../errors.js';
import { chooseKind, createIndex, loadOrRebuild, type IndexKind, type VectorIndex } from '../index/index.js';
import { readIndexHeader } from '../index/index-file.js';
import { GalleryStore, readCommittedGeneration, type StoreSnapshot } from '../store/index.js';
import type { IndexChoice } from './types.js';

export interface OpenedFilesIndex {
  index: VectorIndex;
  kind: IndexKind;
  origin: 'loaded' | 'built';
  file: string;
}

export const indexFile = (storeDir: string, kind: IndexKind): string => path.join(storeDir, `index.${kind}`);

const fingerprintOf = (snapshot: StoreSnapshot): string => `${snapshot.embeddingsSha256}:${snapshot.identities().length}`;

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
    if (!existsSync(file)) {
      // The graph of an HNSW save killed before its header file was written: as stale as any.
      rmSync(`${file}.usearch`, { force: true });
      continue;
    }
    if (!isCurrentIndex(snapshot, kind)) for (const f of [file, `${file}.usearch`]) rmSync(f, { force: true });
  }
}

/**
 * The index can be skipped by a reader but not lost by a writer: true when saved. Not saved when another
 * process committed since `snapshot` was read: the index would describe faces the store no longer holds
 * (after a remove, a vector that must be gone).
 */
async function saveUnderLock(snapshot: StoreSnapshot, kind: IndexKind, write: () => void, waitMs: number | undefined): Promise<boolean> {
  try {
    return await GalleryStore.underLock(
      snapshot.dir,
      async () => {
        if ((await readCommittedGeneration(snapshot.dir)) !== snapshot.generation) return false;
        write();
        // Only one kind is current at a time: a leftover of the other kind would only mislead.
        const other = indexFile(snapshot.dir, kind === 'flat' ? 'hnsw' : 'flat');
        for (const f of [other, `${other}.usearch`]) rmSync(f, { force: true });
        return true;
      },
      { lockTimeoutMs: waitMs },
    );
  } catch (err) {
    // Busy, read-only or full: the store is intact and the index in memory is right; the next login retries.
    if ((isFacectlError(err) && err.code === ExitCode.STORE_ERROR) || typeof (err as NodeJS.ErrnoException)?.code === 'string') return false;
    throw err;
  }
}

/** The kind of the saved index that describes `snapshot`, if one does (a save deletes the other kind). */
const currentSavedKind = (snapshot: StoreSnapshot): IndexKind | undefined => (['flat', 'hnsw'] as const).find((kind) => isCurrentIndex(snapshot, kind));

/** The snapshot's identities as one index, from the saved file when it is current. */
export async function openFilesIndex(snapshot: StoreSnapshot, choice: IndexChoice, options: { rebuild?: boolean } = {}): Promise<OpenedFilesIndex> {
  const identities = snapshot.identities();
  // `auto` uses an index that is current whatever its kind: one the user built with `index rebuild --index
  // hnsw` (70 minutes at 1e6) must not be replaced by a flat one, and deleted, by the next login.
  const kind = (choice === 'auto' && currentSavedKind(snapshot)) || chooseKind(snapshot.dimension, identities.length, choice);
  const file = indexFile(snapshot.dir, kind);
  const build = () => {
    const index = createIndex({ dim: snapshot.dimension, expectedSize: identities.length, kind });
    if (identities.length) index.add(identities.map((i) => i.id), snapshot.identityMatrix());
    return index;
  };
  const opened = await loadOrRebuild(file, { dim: snapshot.dimension, count: identities.length, fingerprint: fingerprintOf(snapshot), kind }, build, {
    rebuild: options.rebuild,
    // An explicit rebuild waits for the lock like any writer; a login does not wait long.
    persist: (write) => saveUnderLock(snapshot, kind, write, options.rebuild ? undefined : LOGIN_SAVE_WAIT_MS),
  });
  return { index: opened.index, kind, origin: opened.rebuilt ? 'built' : 'loaded', file };
}
