/**
 * `facectl embed <img...>`: the embedding of the largest face (or every face) of each photo, for use
 * outside facectl (deepface's `represent`, face_recognition's `face_encodings`). Unit vectors: the cosine
 * of two is their dot product, the similarity `verify` and `login` use. Each result names the model and
 * the fingerprint a store records, so vectors made another way are not mixed up with these.
 */
import type { Command } from 'commander';
import { ExitCode, FacectlError, type ExitCodeValue } from '../errors.js';
import { DEFAULT_EMBEDDER } from '../models/registry.js';
import type { EmbeddedFace } from '../pipeline/types.js';
import { action, embeddedFaceJson, fmt, loadPipeline, photoFailed, printJson, stdinPhotoAtMostOnce, table, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';

interface EmbedOpts extends GlobalOptions {
  model?: string;
  allFaces?: boolean;
}

interface FileResult {
  file: string;
  faces?: { box: EmbeddedFace['box']; score: number; landmarks: EmbeddedFace['landmarks']; embedding: number[] }[];
  error?: string;
  exitCode?: ExitCodeValue;
}

export function registerEmbed(program: Command): void {
  withDetectorOption(withGlobalOptions(
    program
      .command('embed')
      .description('print the embedding (unit vector) of the largest face of each photo, or of every face with --all-faces; the vectors are in --json')
      .argument('<images...>', 'image files (- for standard input)')
      .option('--model <id>', `embedder (default ${DEFAULT_EMBEDDER})`)
      .option('--all-faces', 'every face of each photo, not only the largest'),
  )).action(action(async (images: string[], opts: EmbedOpts) => {
    stdinPhotoAtMostOnce(images);
    const pipeline = await loadPipeline(opts);
    const info = pipeline.embedderInfo!;
    const results: FileResult[] = [];
    for (const file of images) {
      try {
        const { faces } = await pipeline.processFile(file, opts.allFaces ? 'all' : 'largest');
        results.push({ file, faces: faces.map(embeddedFaceJson) });
      } catch (err) {
        if (!(err instanceof FacectlError)) throw err;
        results.push({ file, ...photoFailed(file, err) });
      }
    }
    // What a store built with this model and detector records (`facectl info`): id, hash, dimension.
    const model = { ...(await import('../app/store-model.js')).storeModelInfo(info), detector: info.detector };
    if (opts.json) printJson({ model, normalised: true, results });
    else {
      const rows = results.flatMap((r): (string | number)[][] =>
        r.faces
          ? r.faces.map((f, i) => [i === 0 ? r.file : '', i + 1, `${f.box.x.toFixed(0)},${f.box.y.toFixed(0)} ${f.box.width.toFixed(0)}×${f.box.height.toFixed(0)}`, `${f.embedding.slice(0, 4).map((x) => fmt(x, 4)).join(' ')} …`])
          : [[r.file, '-', r.error!, '']],
      );
      process.stdout.write(table(['image', 'face', 'box x,y w×h', `embedding (${model.id}, ${model.dimension}-d, first values; all with --json)`], rows) + '\n');
    }
    // As detect: 0 when every photo gave a face, else the first failure's code.
    return results.find((r) => r.exitCode)?.exitCode ?? ExitCode.OK;
  }));
}
