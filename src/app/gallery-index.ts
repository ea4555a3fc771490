/**
 * The search index over a store's identity vectors. It is a cache of the store: persisted beside it as
 * `index.flat` or `index.hnsw`, keyed on the embeddings' sha256, loaded when current and rebuilt (and
 * saved again) when stale or missing. Exact flat search is the default; HNSW above a size threshold or
 * when asked for.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { chooseKind, createIndex, loadIndex, type IndexKind, type VectorIndex } from '../index/index.js';
import type { StoreSnapshot } from '../store/index.js';

export type IndexChoice = 'auto' | IndexKind;

export interface GalleryIndex {
  index: VectorIndex;
  kind: IndexKind;
  /** 'loaded' from the saved file, or 'built' from the store just now. */
  origin: 'loaded' | 'built';
  file: string;
}

export const indexFile = (storeDir: string, kind: IndexKind): string => path.join(storeDir, `index.${kind}`);

const fingerprintOf = (snapshot: StoreSnapshot): string => `${snapshot.embeddingsSha256}:${snapshot.identities().length}`;

/** The snapshot's identities as one index, from the saved file when it is current. */
export function openGalleryIndex(snapshot: StoreSnapshot, choice: IndexChoice = 'auto', options: { rebuild?: boolean } = {}): GalleryIndex {
  const identities = snapshot.identities();
  const kind = chooseKind(snapshot.dimension, identities.length, choice);
  const file = indexFile(snapshot.dir, kind);
  const fingerprint = fingerprintOf(snapshot);
  if (!options.rebuild) {
    try {
      const index = loadIndex(file, { dim: snapshot.dimension, count: identities.length, fingerprint, kind });
      return { index, kind, origin: 'loaded', file };
    } catch {
      // Missing, stale or damaged: the store is the truth, rebuild below.
    }
  }
  const index = createIndex({ dim: snapshot.dimension, expectedSize: identities.length, kind });
  if (identities.length) index.add(identities.map((i) => i.id), snapshot.identityMatrix());
  try {
    index.save(file, fingerprint);
    // Only one kind is current at a time: a leftover of the other kind would only mislead.
    const other = indexFile(snapshot.dir, kind === 'flat' ? 'hnsw' : 'flat');
    for (const f of [other, `${other}.usearch`]) rmSync(f, { force: true });
  } catch {
    // The index is a cache: failing to persist it (read-only store, disk full) must not fail a login.
  }
  return { index, kind, origin: 'built', file };
}
