/**
 * `facectl index rebuild [--reembed [--drop-missing|--drop-unusable]] [--drop-damaged]`: verify and repair the store, then rebuild the search index.
 * With --reembed every stored source photo goes through the pipeline again (after a model change);
 * embeddings are computed outside the lock and committed in one step, refused if the store changed
 * meanwhile, so a concurrent enroll is never lost. Faces whose embedding was lost are never dropped
 * unasked: the repair refuses, unless --drop-damaged drops them or --reembed re-embeds them (every face,
 * in the repair's own commit: a store that cannot be opened cannot be mutated).
 */
import { statSync } from 'node:fs';
import { ExitCode, isPhotoProblem } from '../errors.js';
import { fileKind } from '../file-kind.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import type { CheckReport, FaceRow, Gallery, GalleryDraft, IndexChoice } from '../gallery/types.js';
import { iou } from '../pipeline/detectors/nms.js';
import { photoGone, type PhotoProblem } from './enroll.js';
import { isRelativePhoto, locateRelativePhotos, photoPathOf, enrolledPhotosError, relativePhotosHint } from './photo-paths.js';
import { storeModelInfo } from './store-model.js';

export interface RebuildOptions {
  reembed: boolean;
  /** With --reembed: drop faces whose photo is gone (otherwise refuse). */
  dropMissing: boolean;
  /** With --reembed: drop every face that cannot be re-embedded: photo gone, changed, unreadable, face no longer found. */
  dropUnusable?: boolean;
  /** Drop faces whose embedding was lost (a truncated embeddings.f32) instead of refusing; --reembed re-embeds them instead. */
  dropDamaged?: boolean;
  /** Directory that photo paths stored relative (by facectl 0.1.0) are resolved against. */
  photosRoot: string;
  /** Without reembed: store those relative paths as absolute ones, each photo checked by its sha256. */
  fixPaths: boolean;
  index: IndexChoice;
  onProgress?: (done: number, total: number) => void;
}

export interface RebuildResult {
  verify: CheckReport;
  repairs: string[];
  reembedded: number;
  dropped: PhotoProblem[];
  /** Faces whose relative photo path was replaced by the absolute one. */
  relocated: number;
  /** Faces still stored with a relative photo path. */
  relativePaths: number;
  index: { kind: string; file: string; identities: number; ms: number };
}

export async function rebuild(pipeline: FacePipeline | null, gallery: Gallery, options: RebuildOptions): Promise<RebuildResult> {
  if (options.reembed && !pipeline) throw new Error('--reembed needs a pipeline');
  const verify = await gallery.check();
  let reembedded = 0;
  let relocated = 0;
  const dropped: PhotoProblem[] = [];
  const root = options.photosRoot;
  // Set by the first call: before the check below, only the repair can have made it.
  let reembeddedByRepair = false;
  const reembedAll = async (rows: readonly FaceRow[]) => {
    reembeddedByRepair = true;
    const r = await reembedRows(pipeline!, rows, options, dropped);
    ({ reembedded, relocated } = r);
    return r.change;
  };
  // Faces that lost their embeddings (a truncated embeddings.f32) are re-embedded by the repair itself, in
  // its one commit, or dropped only when asked; without either the repair refuses and changes nothing.
  const repairs = await gallery.repair({
    dropDamaged: options.dropDamaged,
    reembed: options.reembed ? reembedAll : undefined,
  });

  if (options.reembed && !reembeddedByRepair) {
    const { generation } = await gallery.info();
    const change = await reembedAll(await gallery.rows());
    await gallery.mutate(change, { expectGeneration: generation, create: false });
  } else if (options.fixPaths) {
    const { generation } = await gallery.info();
    const { found, missing } = await locateRelativePhotos(await gallery.rows(), root);
    if (missing.length) throw enrolledPhotosError(`were not found under ${root}`, missing, 'pass the directory enroll ran in as --photos-root');
    if (found.size) {
      await gallery.mutate(
        async (draft) => {
          for (const [i, file] of found) await draft.setSourcePath(i, file);
        },
        { expectGeneration: generation, create: false },
      );
      relocated = found.size;
    }
  }

  const info = await gallery.info();
  const index = info.faces ? await gallery.rebuildIndex(options.index) : null;
  return {
    verify,
    repairs,
    reembedded,
    dropped,
    relocated,
    relativePaths: (await gallery.rows()).filter(isRelativePhoto).length,
    index: { kind: index?.kind ?? 'none', file: index?.where ?? '', identities: info.identities, ms: index?.ms ?? 0 },
  };
}

/**
 * Every row's photo through the pipeline (outside any lock), refused (nothing changed) when a photo is
 * gone unless --drop-missing; returns the change that stores the new embeddings, to commit in one step.
 */
async function reembedRows(pipeline: FacePipeline, rows: readonly FaceRow[], options: RebuildOptions, dropped: PhotoProblem[]) {
  const root = options.photosRoot;
  const vectors: (Float32Array | null)[] = [];
  for (const [i, row] of rows.entries()) {
    vectors.push(await reembedRow(pipeline, row, photoPathOf(row, root), dropped));
    options.onProgress?.(i + 1, rows.length);
  }
  // --drop-missing drops only faces whose photo is gone: a photo edited, damaged or without the face any
  // more is still there, and dropping its person on a flag named "missing" would be a surprise.
  const refused = dropped.filter((p) => !(options.dropUnusable || (options.dropMissing && p.gone)));
  // Every photo gone or unusable is rather a moved folder or an unmounted drive than a gallery to empty.
  if (!refused.length && rows.length && dropped.length === rows.length)
    throw enrolledPhotosError(
      'cannot be re-embedded, every one the store holds',
      dropped,
      `nothing dropped: is their folder moved or a drive not mounted? (\`facectl remove <id>\` deletes people on purpose)`,
    );
  if (refused.length) {
    const allGone = refused.every((p) => p.gone);
    const remedy = allGone ? 'or use --drop-missing to drop their faces' : 'or use --drop-unusable to drop their faces (--drop-missing drops only faces whose photo is gone)';
    throw enrolledPhotosError('cannot be re-embedded', refused, `restore them${relativePhotosHint(rows, root)}, ${remedy}`);
  }
  const model = storeModelInfo(pipeline.embedderInfo!);
  const change = async (draft: GalleryDraft) => {
    // A relative path whose photo was just re-embedded (same sha256) is known good: store it absolute.
    for (const [i, row] of rows.entries()) if (vectors[i] && isRelativePhoto(row)) await draft.setSourcePath(i, photoPathOf(row, root));
    await draft.removeFaces(new Set(rows.flatMap((_, i) => (vectors[i] ? [] : [i]))));
    await draft.replaceAllEmbeddings(model, vectors.filter((v): v is Float32Array => v !== null));
    // A threshold fitted for the old model means nothing for the new one.
    if (draft.threshold && draft.threshold.model !== model.id) await draft.setThreshold(null);
  };
  return { change, reembedded: vectors.filter(Boolean).length, relocated: rows.filter((row, i) => vectors[i] && isRelativePhoto(row)).length };
}

/** The row's photo through today's pipeline: the face that overlaps the stored box most, or why not. */
async function reembedRow(pipeline: FacePipeline, row: Readonly<FaceRow>, file: string, dropped: PhotoProblem[]): Promise<Float32Array | null> {
  const fail = (code: PhotoProblem['code'], reason: string) => (dropped.push({ file, code, reason, gone: photoGone(file) }), null);
  try {
    // A FIFO or device at the photo's path would block the read (or read without end): that photo's problem.
    const kind = statSync(file, { throwIfNoEntry: false });
    if (kind && !kind.isFile() && !kind.isDirectory()) return fail(ExitCode.NOT_FOUND, `${fileKind(kind)}, not a photo file`);
    const image = await pipeline.decode(file);
    if (image.sha256 !== row.imageSha256) return fail(ExitCode.NOT_FOUND, 'the photo changed since it was enrolled (sha256 differs)');
    // Detect as enroll does ('fast'), so a re-embedded row equals what enrolling the photo today gives;
    // 'thorough' only when that misses the stored face (its landmarks, hence the embedding, differ slightly).
    const overlapping = async (mode: 'fast' | 'thorough') =>
      (await pipeline.detect(image, { mode })).map((f) => ({ f, overlap: iou(f.box, row.box) })).sort((a, b) => b.overlap - a.overlap)[0];
    let best = await overlapping('fast');
    if (!best || best.overlap < 0.3) best = await overlapping('thorough');
    if (!best || best.overlap < 0.3) return fail(ExitCode.NO_FACE, 'the enrolled face is no longer found in the photo');
    const [face] = await pipeline.embed(image, [best.f]);
    return face!.embedding;
  } catch (err) {
    // Only the photo's own failures: with --drop-missing a model failure would delete the row.
    if (isPhotoProblem(err)) return fail(err.code, err.message);
    throw err;
  }
}
