/** `facectl detect <img...>`: every face in each photo, with box, score, landmarks and quality. */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ExitCode, FacectlError, type ExitCodeValue } from '../errors.js';
import type { DetectedFace } from '../pipeline/types.js';
import type { drawDetections } from './draw.js';
import { action, fmt, loadPipeline, note, numberOption, printJson, stdinPhotoAtMostOnce, table, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';

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
      .option('--draw <out>', 'write the photo with faces drawn (a .png path for one image, a directory for several)')
      .option('--min-score <s>', "keep faces scoring at least this (0..1; default: the detector's tuned threshold, 0.6 for blazeface)")
      .option('--fast', 'one whole-photo pass only (no tiles for small faces)')
      .option('--timings', 'print per-stage milliseconds'),
  )).action(action(async (images: string[], opts: DetectOpts) => {
    stdinPhotoAtMostOnce(images);
    const pipeline = await loadPipeline(opts, { detectOnly: true });
    const minScore = numberOption('--min-score', opts.minScore, 0, 1);
    const results: FileResult[] = [];
    for (const file of images) {
      try {
        const image = await pipeline.decode(file);
        const faces = await pipeline.detect(image, { mode: opts.fast ? 'fast' : 'thorough', minScore });
        const r: FileResult = { file, width: image.width, height: image.height, format: image.format, faces };
        if (opts.draw) r.drawn = await drawTo(opts.draw, file, images.length, image, faces);
        if (!faces.length) {
          r.error = 'no face found';
          r.exitCode = ExitCode.NO_FACE;
        }
        results.push(r);
      } catch (err) {
        if (!(err instanceof FacectlError)) throw err;
        results.push({ file, error: err.message, exitCode: err.code });
      }
    }
    if (opts.json) printJson({ results, timingsMs: opts.timings ? pipeline.timer.toJSON() : undefined });
    else printTable(results, opts);
    if (opts.timings && !opts.json) note({}, `timings (ms, total over ${images.length} image(s)): ${JSON.stringify(pipeline.timer.toJSON())}`);
    // One photo: its own status. Several: 0 when every photo had a face, else the first failure's code.
    const failed = results.find((r) => r.exitCode);
    return failed?.exitCode ?? ExitCode.OK;
  }));
}

async function drawTo(out: string, file: string, count: number, image: Parameters<typeof drawDetections>[0], faces: DetectedFace[]): Promise<string> {
  let target = out;
  if (count > 1) {
    await mkdir(out, { recursive: true });
    target = path.join(out, `${path.parse(file).name}.faces.png`);
  }
  const draw = await import('./draw.js'); // sharp's drawing loads only with --draw
  await draw.drawDetections(image, faces, target);
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
