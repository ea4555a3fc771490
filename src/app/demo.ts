/**
 * `facectl demo`: the whole job on photos that come with the install, in a private temporary store
 * that is removed afterwards. Detect every face of each photo; enroll the people of the first half of
 * the photos, one id per face; log each of them in from a mirrored, smaller copy of their own photo (a
 * check that the pipeline runs end to end, not an accuracy figure: it is the same photo); then try every
 * face of the other photos, people who were never enrolled.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ExitCode, FacectlError, isPhotoProblem } from '../errors.js';
import { isObviousNonImage } from '../eval/datasets.js';
import { writeNewPrivateFile } from '../store/fsio.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import type { DecodedImage } from '../pipeline/decode.js';
import type { Box, DetectedFace } from '../pipeline/types.js';
import { openGallery } from '../gallery/index.js';
import { enroll } from './enroll.js';
import { identify, openLoginContext } from './login.js';
import { effectiveThreshold } from './threshold.js';

/** The six group photos (3–5 faces each) in `@vladmandic/face-api`'s demo/ folder. */
export const SAMPLE_NAMES = [1, 2, 3, 4, 5, 6].map((n) => `sample${n}.jpg`);

/** A regular file (links followed); a link loop, a dangling link or one that cannot be looked at is not. */
function isRegularFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The demo's photos: those in `dir`, or face-api's samples found through package resolution. face-api
 * is a development dependency (its weights are converted ahead of time for the published package), so
 * an install from the registry has no samples: say so and how to proceed rather than fail obscurely.
 */
export function findDemoPhotos(dir?: string, resolvePackage: (id: string) => string = createRequire(import.meta.url).resolve): string[] {
  if (dir !== undefined) {
    let names: string[];
    try {
      // Photos are recognised by their bytes, as everywhere (a photo that does not decode is skipped with the
      // reason): every regular file but documents and dotfiles, not those with a photo's extension only.
      names = readdirSync(dir)
        .filter((n) => !isObviousNonImage(n) && isRegularFile(path.join(dir, n)))
        .sort();
    } catch (err) {
      // A photo given where the folder goes is a usage error, not a missing folder.
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') throw new FacectlError(ExitCode.USAGE, 'is a file, not a folder: --photos takes a folder of photos', dir);
      throw new FacectlError(ExitCode.NOT_FOUND, 'no such folder', dir);
    }
    if (names.length < 2) throw new FacectlError(ExitCode.NOT_FOUND, `the demo needs at least 2 photos, found ${names.length} file(s) in the folder`, dir);
    return names.map((n) => path.join(dir, n));
  }
  let demoDir: string | undefined;
  try {
    demoDir = path.join(path.dirname(resolvePackage('@vladmandic/face-api/package.json')), 'demo');
  } catch {
    /* not installed */
  }
  const files = demoDir ? SAMPLE_NAMES.map((n) => path.join(demoDir, n)) : [];
  if (!files.length || !files.every((f) => statSync(f, { throwIfNoEntry: false })?.isFile()))
    throw new FacectlError(
      ExitCode.NOT_FOUND,
      'the demo photos (@vladmandic/face-api demo/sample1.jpg … sample6.jpg) are not installed; they come with `npm ci` in a clone of facectl. Use your own: facectl demo --photos <folder of group photos>',
    );
  return files;
}

export interface DemoResult {
  photos: { file: string; faces: number }[];
  enrolled: { id: string; photo: string; box: Box; refused?: string }[];
  /** Each enrolled person logging in from a mirrored, 80 % copy of their own face crop. */
  known: { id: string; decision: 'ACCEPT' | 'UNKNOWN'; matched: string | null; score: number }[];
  /** Every face of the photos that were not enrolled. */
  strangers: { photo: string; face: number; decision: 'ACCEPT' | 'UNKNOWN'; nearest: string | null; score: number }[];
  /** Photos left out: not decodable, or (among the strangers) no face to log in with. */
  skipped: { file: string; reason: string }[];
  threshold: { value: number; source: string };
  store: { dir: string; mode: number; removed: boolean };
}

export type DemoEvent =
  | { kind: 'store'; dir: string; mode: number }
  | { kind: 'detected'; file: string; faces: number }
  | { kind: 'skipped'; file: string; reason: string }
  | { kind: 'enrolled'; id: string; refused?: string }
  | { kind: 'known'; entry: DemoResult['known'][number] }
  | { kind: 'stranger'; entry: DemoResult['strangers'][number] };

/** A face's head-and-shoulders region: the box grown by half its size on each side, inside the photo. */
function cropRegion(box: Box, width: number, height: number) {
  const left = Math.max(0, Math.round(box.x - box.width / 2));
  const top = Math.max(0, Math.round(box.y - box.height / 2));
  return { left, top, width: Math.min(width, Math.round(box.x + box.width * 1.5)) - left, height: Math.min(height, Math.round(box.y + box.height * 1.5)) - top };
}

export async function runDemo(pipeline: FacePipeline, files: string[], onEvent: (e: DemoEvent) => void = () => {}): Promise<DemoResult> {
  // mkdtemp creates the directory 0700; the store inside is 0700 with 0600 files whatever the umask.
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-demo-'));
  const stopWatching = removeOnSignal(tmp);
  const storeDir = path.join(tmp, 'store');
  const result: DemoResult = { photos: [], enrolled: [], known: [], strangers: [], skipped: [], threshold: { value: NaN, source: '' }, store: { dir: storeDir, mode: 0, removed: false } };
  // A photo the demo cannot use is left out with the reason: one bad photo in a folder should not end the
  // demo. A model that cannot run is no photo's fault: it ends the demo with its own error (exit 13).
  const skip = (file: string, err: unknown) => {
    if (!isPhotoProblem(err)) throw err;
    result.skipped.push({ file, reason: err.message });
    onEvent({ kind: 'skipped', file, reason: err.message });
  };
  try {
    // The duplicate check of each enroll uses the login threshold, as `facectl enroll` does.
    const gallery = await openGallery(storeDir);
    await gallery.mutate(async () => undefined); // creates the store now, so its mode can be shown
    const threshold = effectiveThreshold(null, pipeline.embedderInfo!.spec)!.value;
    result.store.mode = statSync(storeDir).mode & 0o777;
    onEvent({ kind: 'store', dir: storeDir, mode: result.store.mode });
    const enrollCount = Math.ceil(files.length / 2);
    const probes: { id: string; file: string }[] = [];

    for (const [p, file] of files.entries()) {
      let image: DecodedImage;
      let faces: DetectedFace[];
      try {
        image = await pipeline.decode(file);
        faces = await pipeline.detect(image, { mode: 'thorough' });
      } catch (err) {
        skip(file, err);
        continue;
      }
      result.photos.push({ file, faces: faces.length });
      onEvent({ kind: 'detected', file, faces: faces.length });
      if (p >= enrollCount) continue;
      for (const [f, face] of faces.entries()) {
        const id = `${path.parse(file).name}-face${f + 1}`;
        const region = cropRegion(face.box, image.width, image.height);
        const crop = path.join(tmp, `${id}.jpg`);
        // From the decoded pixels (EXIF orientation applied): sharp cannot read every format facectl decodes (PGM, BMP).
        const cropBytes = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).extract(region).jpeg({ quality: 92 }).toBuffer();
        writeNewPrivateFile(crop, cropBytes);
        const probe = path.join(tmp, `${id}-probe.jpg`);
        writeNewPrivateFile(probe, await sharp(cropBytes).flop().resize(Math.round(region.width * 0.8)).jpeg({ quality: 85 }).toBuffer());
        try {
          await enroll(pipeline, gallery, id, [crop], { largest: true, skipBad: false, force: false, threshold });
          result.enrolled.push({ id, photo: file, box: face.box });
          probes.push({ id, file: probe });
          onEvent({ kind: 'enrolled', id });
        } catch (err) {
          // A refusal (no usable face, a duplicate) is shown; a model that cannot run is not a refusal.
          if (!(err instanceof FacectlError) || err.code === ExitCode.MODEL_ERROR) throw err;
          result.enrolled.push({ id, photo: file, box: face.box, refused: err.message });
          onEvent({ kind: 'enrolled', id, refused: err.message });
        }
      }
    }

    if (!probes.length)
      throw new FacectlError(
        ExitCode.NO_FACE,
        `no face in the first ${enrollCount} photo(s) could be enrolled (${result.photos.slice(0, enrollCount).reduce((n, ph) => n + ph.faces, 0)} found): the demo needs photos with clear, front-facing faces`,
      );
    const ctx = await openLoginContext(pipeline, gallery, { index: 'flat' });
    result.threshold = ctx.threshold;
    for (const probe of probes) {
      const [d] = await identify(pipeline, ctx, probe.file, { top: 1, allFaces: false });
      const entry = { id: probe.id, decision: d!.decision, matched: d!.candidates[0]?.id ?? null, score: d!.score };
      result.known.push(entry);
      onEvent({ kind: 'known', entry });
    }
    const unusable = new Set(result.skipped.map((sk) => sk.file));
    for (const file of files.slice(enrollCount)) {
      if (unusable.has(file)) continue;
      let decisions: Awaited<ReturnType<typeof identify>>;
      try {
        decisions = await identify(pipeline, ctx, file, { top: 1, allFaces: true });
      } catch (err) {
        skip(file, err); // no face: nobody to log in
        continue;
      }
      for (const [f, d] of decisions.entries()) {
        const entry = { photo: file, face: f + 1, decision: d.decision, nearest: d.candidates[0]?.id ?? null, score: d.score };
        result.strangers.push(entry);
        onEvent({ kind: 'stranger', entry });
      }
    }
    return result;
  } finally {
    stopWatching();
    rmSync(tmp, { recursive: true, force: true });
    result.store.removed = !existsSync(tmp);
  }
}


/**
 * Ctrl-C or a kill ends the process without running `finally`: the folder of face crops (the user's own
 * photos with --photos) and the temporary store are removed first, then the process ends as the signal
 * asks (128 + its number). So does any process.exit() before the end (a reader that closed stdout,
 * `demo | head`; a full disk behind it): the folder goes in an 'exit' handler. Returns the function that
 * stops watching.
 */
function removeOnSignal(dir: string): () => void {
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((signal) => {
    const handler = () => {
      remove();
      process.exit(128 + os.constants.signals[signal]);
    };
    process.once(signal, handler);
    return () => process.off(signal, handler);
  });
  process.once('exit', remove);
  return () => {
    handlers.forEach((off) => off());
    process.off('exit', remove);
  };
}
