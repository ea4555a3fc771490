/** The gallery store: a directory holding data.csv, embeddings.f32 and manifest.json (see README.md). */
export { GalleryStore, type MutateOptions, type MutateResult } from './store.js';
export { rowsById, StoreHead, StoreSnapshot } from './snapshot.js';
export { StoreDraft } from './draft.js';
export { emptySnapshot } from './generation.js';
export { identityMean } from './identity-mean.js';
export type { OpenOptions } from './load.js';
export { verifyStore, repairStore, type VerifyReport, type RepairReport, type RepairOptions, type LostEmbeddings } from './maintenance.js';
export { readableModel } from './salvage.js';
export { storeDirKind, type StoreDirKind } from './dir-kind.js';
export { defaultStoreDir, DATA_FILE, DUMP_FILE, MANIFEST_FILE } from './names.js';
export { validateId, isValidId, validateDisplayName, MAX_ID_LENGTH, MAX_NAME_LENGTH } from './validate.js';
export type { Manifest, FileDigest } from './manifest.js';
export { manifestState, readCommittedGeneration, readCommittedState } from './manifest.js';
export type { RowIndex } from './csv-index.js';
export type { FaceRow, NewFace, Identity, ModelInfo, ThresholdInfo, ThresholdSource } from './types.js';
