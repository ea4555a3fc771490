/**
 * `facectl index rebuild [--reembed]`: verify and repair the store, then rebuild the search index.
 * With --reembed every stored source photo goes through the pipeline again (after a model change);
 * embeddings are computed outside the lock and committed in one step, refused if the store changed
 * meanwhile, so a concurrent enroll is never lost.
 */
import { ExitCode, FacectlError } from '../errors.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { GalleryStore, repairStore, verifyStore, type FaceRow, type VerifyReport } from '../store/index.js';
import { iou } from '../pipeline/blazeface.js';
import type { PhotoProblem } from './enroll.js';
import { openGalleryIndex, type IndexChoice } from './gallery-index.js';
import { storeModelInfo } from './store-model.js';

export interface RebuildOptions {
  reembed: boolean;
  /** With --reembed: drop faces whose photo is gone or no longer yields a face (otherwise refuse). */
  dropMissing: boolean;
  index: IndexChoice;
  onProgress?: (done: number, total: number) => void;
}

export interface RebuildResult {
  verify: VerifyReport;
  repairs: string[];
  reembedded: number;
  dropped: PhotoProblem[];
  index: { kind: string; file: string; identities: number; ms: number };
}

export async function rebuild(pipeline: FacePipeline | null, storeDir: string, options: RebuildOptions): Promise<RebuildResult> {
  const verify = await verifyStore(storeDir);
  const { actions, snapshot: repaired } = await repairStore(storeDir);
  let snapshot = repaired;
  let reembedded = 0;
  const dropped: PhotoProblem[] = [];

  if (options.reembed) {
    if (!pipeline) throw new Error('--reembed needs a pipeline');
    const rows = snapshot.rows;
    const vectors: (Float32Array | null)[] = [];
    for (const [i, row] of rows.entries()) {
      vectors.push(await reembedRow(pipeline, row, dropped));
      options.onProgress?.(i + 1, rows.length);
    }
    if (dropped.length && !options.dropMissing)
      throw new FacectlError(
        ExitCode.NOT_FOUND,
        `${dropped.length} enrolled photo(s) cannot be re-embedded (first: ${dropped[0]!.file}: ${dropped[0]!.reason}); nothing changed — restore them or use --drop-missing`,
      );
    const model = storeModelInfo(pipeline.embedderInfo!);
    const generation = snapshot.generation;
    const committed = await GalleryStore.mutate(
      storeDir,
      (draft) => {
        const keep = new Set(rows.flatMap((_, i) => (vectors[i] ? [i] : [])));
        draft.removeFaces((_, i) => !keep.has(i));
        draft.replaceAllEmbeddings(model, vectors.filter((v): v is Float32Array => v !== null));
        // A threshold fitted for the old model means nothing for the new one.
        if (draft.threshold && draft.threshold.model !== model.id) draft.setThreshold(null);
      },
      { expectGeneration: generation, create: false },
    );
    snapshot = committed.snapshot;
    reembedded = vectors.filter(Boolean).length;
  }

  const t0 = performance.now();
  const gallery = snapshot.faceCount ? openGalleryIndex(snapshot, options.index, { rebuild: true }) : null;
  return {
    verify,
    repairs: actions,
    reembedded,
    dropped,
    index: { kind: gallery?.kind ?? 'none', file: gallery?.file ?? '', identities: snapshot.identities().length, ms: performance.now() - t0 },
  };
}

/** The row's photo through today's pipeline: the face that overlaps the stored box most, or why not. */
async function reembedRow(pipeline: FacePipeline, row: Readonly<FaceRow>, dropped: PhotoProblem[]): Promise<Float32Array | null> {
  const fail = (code: PhotoProblem['code'], reason: string) => (dropped.push({ file: row.sourcePath, code, reason }), null);
  try {
    const image = await pipeline.decode(row.sourcePath);
    if (image.sha256 !== row.imageSha256) return fail(ExitCode.NOT_FOUND, 'the photo changed since it was enrolled (sha256 differs)');
    const faces = await pipeline.detect(image, { mode: 'thorough' });
    const best = faces.map((f) => ({ f, overlap: iou(f.box, row.box) })).sort((a, b) => b.overlap - a.overlap)[0];
    if (!best || best.overlap < 0.3) return fail(ExitCode.NO_FACE, 'the enrolled face is no longer found in the photo');
    const [face] = await pipeline.embed(image, [best.f]);
    return face!.embedding;
  } catch (err) {
    if (err instanceof FacectlError) return fail(err.code, err.message);
    throw err;
  }
}
