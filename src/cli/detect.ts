/** `facectl detect <img...>`: every face in each photo, with box, score, landmarks and quality. */
import path from 'node:path';
import type { Command } from 'commander';
import { uniqueName } from '../app/unique-name.js';
import { ExitCode, FacectlError, type ExitCodeValue } from '../errors.js';
import type { DecodedImage } from '../pipeline/decode.js';
import type { DetectedFace, RgbImage } from '../pipeline/types.js';
import { action, fmt, loadPipeline, note, numberOption, photoFailed, printJson, stdinPhotoAtMostOnce, table, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';

interface DetectOpts extends GlobalOptions {
  draw?: string;
  minScore?: string;
  fast?: boolean;
  timings?: boolean;
}

interface FileResult {
  file: string;
  width?: number;
  height?: number;
  format?: string;
  faces?: DetectedFace[];
  error?: string;
  exitCode?: ExitCodeValue;
  drawn?: string;
}

export function registerDetect(program: Command): void {
  withDetectorOption(withGlobalOptions(
    program
      .command('detect')
      .description('find faces in photos: box, score, five landmarks, quality (size, pose)')
      .argument('<images...>', 'image files (- for standard input)')
      .option('--draw <out>', 'write the photo with faces drawn, private (0600): a .png path for one image, a directory for several (<name>.faces.png; <name>-2.faces.png… when names repeat)')
      .option('--min-score <s>', "keep faces scoring at least this (0..1; default: the detector's tuned threshold, 0.6 for blazeface)")
      .option('--fast', 'one whole-photo pass only (no tiles for small faces)')
      .option('--timings', 'print per-stage milliseconds'),
  )).action(action(async (images: string[], opts: DetectOpts) => {
    stdinPhotoAtMostOnce(images);
    const minScore = numberOption('--min-score', opts.minScore, 0, 1);
    // Where the drawings go, checked (and a folder made) before the models load.
    const output = opts.draw !== undefined ? await import('./output-file.js') : null; // with --draw only, not at every start
    if (opts.draw !== undefined) (images.length > 1 ? output!.makeOutputFolder : output!.checkOutputFile)(opts.draw, '--draw');
    const pipeline = await loadPipeline(opts, { detectOnly: true });
    const results: FileResult[] = [];
    const drawn = new Set<string>(); // names used in the --draw folder: a.jpg and b/a.jpg must not overwrite each other
    for (const file of images) {
      let found: { image: DecodedImage; faces: DetectedFace[] };
      try {
        const image = await pipeline.decode(file);
        found = { image, faces: await pipeline.detect(image, { mode: opts.fast ? 'fast' : 'thorough', minScore }) };
      } catch (err) {
        if (!(err instanceof FacectlError)) throw err;
        results.push({ file, ...photoFailed(file, err) });
        continue;
      }
      const { image, faces } = found;
      const noFace = faces.length ? {} : photoFailed(file, new FacectlError(ExitCode.NO_FACE, 'no face found', file));
      const r: FileResult = { file, width: image.width, height: image.height, format: image.format, faces, ...noFace };
      // A drawing that cannot be written stops the command (exit 11): it is not the photo's fault.
      if (opts.draw !== undefined) r.drawn = await drawTo(opts.draw, images.length > 1 ? uniqueName(drawn, path.parse(file).name, '.faces.png') : null, image, faces);
      results.push(r);
    }
    if (opts.json) printJson({ results, timingsMs: opts.timings ? pipeline.timer.toJSON() : undefined });
    else printTable(results, opts);
    if (opts.timings && !opts.json) note({}, `timings (ms, total over ${images.length} image(s)): ${JSON.stringify(pipeline.timer.toJSON())}`);
    // One photo: its own status. Several: 0 when every photo had a face, else the first failure's code.
    const failed = results.find((r) => r.exitCode);
    return failed?.exitCode ?? ExitCode.OK;
  }));
}

/** One photo's drawing: `out` itself for one photo, else `<out>/<name>` (the folder is made up front). */
async function drawTo(out: string, name: string | null, image: RgbImage, faces: DetectedFace[]): Promise<string> {
  const target = name === null ? out : path.join(out, name);
  const [draw, { writePrivateFile }] = await Promise.all([import('./draw.js'), import('./output-file.js')]); // only with --draw
  await writePrivateFile(target, await draw.drawDetections(image, faces), '--draw');
  return target;
}

function printTable(results: FileResult[], opts: GlobalOptions): void {
  const rows: (string | number)[][] = [];
  for (const r of results) {
    if (r.error && !r.faces?.length) {
      rows.push([r.file, '-', r.error, '', '', '', '']);
      continue;
    }
    r.faces!.forEach((f, i) => {
      const b = f.box;
      rows.push([
        i === 0 ? `${r.file} (${r.width}×${r.height})` : '',
        i + 1,
        `${b.x.toFixed(0)},${b.y.toFixed(0)} ${b.width.toFixed(0)}×${b.height.toFixed(0)}`,
        fmt(f.score, 2),
        f.quality.eyeDistancePx.toFixed(0),
        `${f.quality.rollDeg.toFixed(0)}° / ${f.quality.yawDeg.toFixed(0)}°`,
        f.landmarks.map((p) => `${p.x.toFixed(0)},${p.y.toFixed(0)}`).join(' '),
      ]);
    });
  }
  process.stdout.write(table(['image', 'face', 'box x,y w×h', 'score', 'eye px', 'roll / yaw', 'landmarks (eyes, nose, mouth)'], rows) + '\n');
  for (const r of results) if (r.drawn) note(opts, `drawn: ${r.drawn}`);
}
