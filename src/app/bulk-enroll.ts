/**
 * Bulk import of a folder-per-identity dataset (`facectl enroll --dataset <dir>`): folder name = id
 * (cleaned when it is not a valid id; folders whose ids clash are refused, folder-ids.ts), the face nearest each photo's centre (dataset photos are centred on their subject), unusable photos
 * rejected with their reason. Commits every `batch` faces, and photos already enrolled for their id
 * (same image sha256) are skipped, so an interrupted import resumes where it stopped.
 * The folder names are the ground truth here, so look-alikes across folders are not checked (no duplicate check).
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { leftOutOfScan, scanIdentityFolders, type FolderDataset } from '../eval/datasets.js';
import { sha256OfFile } from '../eval/embedding-cache.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { ENROLL_QUALITY } from '../pipeline/quality.js';
import type { Gallery, NewFace } from '../gallery/types.js';
import { folderIdentities, storedIdentities } from './folder-ids.js';
import { embedEnrollPhoto, isProblem, movePhotoPaths, photoGone, type PhotoMove, type PhotoProblem } from './enroll.js';
import { requireSameModel, storeModelInfo } from './store-model.js';

export interface BulkProgress {
  photosDone: number;
  photosTotal: number;
  added: number;
  rejected: number;
  skipped: number;
}

/** Faces per commit in a small store (the default of --batch); a large store commits every tenth of its size. */
export const DEFAULT_BATCH = 100;

export interface BulkResult {
  identities: number;
  identitiesEnrolled: number;
  photos: number;
  added: number;
  /** Already in the store from an earlier (interrupted) run. */
  alreadyEnrolled: number;
  /** The same photo (same bytes) twice in one folder in this run: taken once. */
  duplicatePhotos: number;
  /** Photos found enrolled whose stored path was gone (the dataset moved): their path updated to this one. */
  pathsUpdated: number;
  rejected: PhotoProblem[];
  rejectedByReason: Record<string, number>;
  /** The dataset folder that is the store itself (`--store <dataset>/store`): not a person, left out. */
  storeFolder: string | null;
  /** Folder names that are not valid ids, and the ids used instead. */
  renamedFolders: { folder: string; id: string }[];
  /** What the folder scan left out that could have been photos (empty folders, subfolders), in words, or null. */
  notRead: string | null;
  commits: number;
  seconds: number;
}

/** The real path of `p`, or null when it cannot be resolved (it does not exist). */
function realPath(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

/**
 * The dataset without the folder that is the store (a store directory made inside the dataset folder, by
 * the first run of `--store <dataset>/store`), compared by real path: its files are no person's photos.
 */
function withoutStoreFolder(dataset: FolderDataset, gallery: Gallery): { dataset: FolderDataset; storeFolder: string | null } {
  const store = gallery.backend === 'files' ? realPath(gallery.location) : null;
  const isStore = (name: string) => store !== null && realPath(path.join(dataset.root, name)) === store;
  const k = dataset.identities.findIndex((i) => isStore(i.name));
  // The store's folder holds no photos (data.csv, a lock): not an empty person, nor a subfolder left out.
  const others = { emptyIdentities: dataset.emptyIdentities.filter((n) => !isStore(n)), ignoredEntries: dataset.ignoredEntries.filter((e) => !isStore(e.slice(0, e.indexOf('/')))) };
  if (k < 0) return { dataset: { ...dataset, ...others }, storeFolder: dataset.emptyIdentities.find(isStore) ?? null };
  const identities = dataset.identities.filter((_, i) => i !== k);
  if (!identities.length)
    throw new FacectlError(ExitCode.USAGE, `no identity folders with images found besides the store's own folder ${JSON.stringify(dataset.identities[k]!.name)}; expected <dataset>/<identity>/<image>`, dataset.root);
  return { dataset: { ...dataset, ...others, identities, imageCount: identities.reduce((n, i) => n + i.images.length, 0) }, storeFolder: dataset.identities[k]!.name };
}

/** Group reasons like "face too small (eyes 12 px apart, need 20)" under "face too small". */
const reasonKey = (reason: string) => reason.replace(/\s*\(.*$/, '').replace(/^\d+ faces found.*/, 'several faces');

export async function bulkEnroll(
  pipeline: FacePipeline,
  gallery: Gallery,
  datasetDir: string,
  options: { batch?: number; onProgress?: (p: BulkProgress) => void } = {},
): Promise<BulkResult> {
  const t0 = performance.now();
  const { dataset, storeFolder } = withoutStoreFolder(scanIdentityFolders(path.resolve(datasetDir)), gallery);
  const model = storeModelInfo(pipeline.embedderInfo!);
  requireSameModel(await gallery.info(), pipeline.embedderInfo!);
  const rows = await gallery.rows();
  // Before any photo is read: folders whose ids clash are refused, nothing enrolled (folder-ids.ts), decided
  // by the folders the store's photos came from (a display name can be changed, or was trimmed).
  const stored = storedIdentities(rows);
  const folders = folderIdentities(dataset.identities.map((i) => i.name), stored);
  // Photos of each id from an earlier (interrupted) run, and from this one: `${id}\0${sha256}`.
  const enrolled = new Set(rows.map((r) => `${r.id}\u0000${r.imageSha256}`));
  const thisRun = new Set<string>();
  // Where those photos were stored, each path once: one that is gone is updated to where the photo is now.
  const storedPaths = new Map<string, string[]>();
  for (const r of rows) storedPaths.set(`${r.id}\u0000${r.imageSha256}`, [...(storedPaths.get(`${r.id}\u0000${r.imageSha256}`) ?? []), r.sourcePath]);

  // Each commit rewrites the whole store (data.csv, embeddings.f32): with a fixed 100 faces per commit an
  // import into a store of 1e5 faces rewrote it once per 100 photos (≈17 s each). Unless --batch says
  // otherwise, a commit waits for a tenth of what the store holds, so the rewriting stays linear in the
  // import; a crash loses at most that much (the import resumes).
  let committed = 0; // faces this import has committed so far
  const batchSize = () => options.batch ?? Math.max(DEFAULT_BATCH, Math.floor((rows.length + committed) / 10));
  const result: BulkResult = {
    identities: dataset.identities.length, identitiesEnrolled: 0, photos: dataset.imageCount, added: 0, alreadyEnrolled: 0,
    duplicatePhotos: 0, pathsUpdated: 0, storeFolder, rejected: [], rejectedByReason: {}, renamedFolders: [], notRead: leftOutOfScan(dataset), commits: 0, seconds: 0,
  };
  const withFaces = new Set<string>();
  let pending: NewFace[] = [];
  let pendingPaths: PhotoMove[] = [];
  const flush = async () => {
    if (!pending.length && !pendingPaths.length) return;
    const [faces, moves] = [pending, pendingPaths];
    [pending, pendingPaths] = [[], []];
    try {
      result.pathsUpdated += (
        await gallery.mutate(async (draft) => {
          const updated = (await movePhotoPaths(draft, moves)).length;
          if (faces.length) await draft.addFaces(model, faces);
          return updated;
        })
      ).result;
    } catch (err) {
      // "nothing was changed" holds for this commit only: the earlier ones of this import are in the store.
      if (!(err instanceof FacectlError) || !result.commits) throw err;
      throw new FacectlError(err.code, `${err.message}; ${committed} face(s) from this import's ${result.commits} earlier commit(s) are enrolled: run the same command again to resume`, err.file);
    }
    committed += faces.length;
    result.commits++;
  };

  let done = 0;
  for (const [k, identity] of dataset.identities.entries()) {
    const { id } = folders[k]!;
    // An identity the store holds keeps its name (given with --name, perhaps): adding faces renames an identity.
    const name = stored.get(id)?.name ?? folders[k]!.name;
    for (const rel of identity.images) {
      const file = path.join(dataset.root, rel);
      done++;
      const sha = await sha256OfFile(file).catch(() => null);
      if (sha && thisRun.has(`${id}\u0000${sha}`)) {
        result.duplicatePhotos++;
      } else if (sha && enrolled.has(`${id}\u0000${sha}`)) {
        result.alreadyEnrolled++;
        thisRun.add(`${id}\u0000${sha}`); // a copy later in the folder is a duplicate, as on the first run
        withFaces.add(id);
        for (const from of storedPaths.get(`${id}\u0000${sha}`) ?? [])
          if (from !== file && photoGone(from)) pendingPaths.push({ id, sha, from, to: file });
        storedPaths.delete(`${id}\u0000${sha}`);
        if (pending.length + pendingPaths.length >= batchSize()) await flush();
      } else {
        const r = await embedEnrollPhoto(pipeline, file, 'center', ENROLL_QUALITY);
        if (isProblem(r)) {
          result.rejected.push(r);
          const key = reasonKey(r.reason);
          result.rejectedByReason[key] = (result.rejectedByReason[key] ?? 0) + 1;
        } else {
          pending.push({ id, name, sourcePath: file, imageSha256: r.imageSha256, box: r.face.box, quality: r.face.quality, embedding: r.face.embedding });
          thisRun.add(`${id}\u0000${r.imageSha256}`);
          withFaces.add(id);
          result.added++;
          if (pending.length + pendingPaths.length >= batchSize()) await flush();
        }
      }
      options.onProgress?.({ photosDone: done, photosTotal: dataset.imageCount, added: result.added, rejected: result.rejected.length, skipped: result.alreadyEnrolled });
    }
  }
  await flush();
  result.identitiesEnrolled = withFaces.size;
  // Folders whose name was cleaned into another id, among those enrolled, in dataset order.
  result.renamedFolders = dataset.identities.flatMap((identity, k) => {
    const { id } = folders[k]!;
    return id !== identity.name && withFaces.has(id) ? [{ folder: identity.name, id }] : [];
  });
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}
