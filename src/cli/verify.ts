/** `facectl verify <a> <b>`: are two photos the same person? Cosine similarity of the largest faces. */
import { DEFAULT_EMBEDDER } from '../models/registry.js';
import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { dot } from '../pipeline/vector.js';
import { action, fmtVersus, loadPipeline, note, numberOption, printJson, stdinPhotoAtMostOnce, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';

interface VerifyOpts extends GlobalOptions {
  threshold?: string;
}

export function registerVerify(program: Command): void {
  withDetectorOption(withGlobalOptions(
    program
      .command('verify')
      .description('compare the largest face of two photos: cosine similarity and SAME / DIFFERENT (exit 0 / 3)')
      .argument('<image1>', 'a photo, or - for standard input')
      .argument('<image2>')
      .option('--model <id>', `embedder (default ${DEFAULT_EMBEDDER})`)
      .option('--threshold <t>', "cosine threshold (default: the model's)"),
  )).action(
    action(async (a: string, b: string, opts: VerifyOpts) => {
      stdinPhotoAtMostOnce([a, b]);
      const pipeline = await loadPipeline(opts);
      const spec = pipeline.embedder.spec;
      const threshold = numberOption('--threshold', opts.threshold, -1, 1) ?? spec.thresholds.verify.value;
      const [fa, fb] = [await pipeline.processFile(a, 'largest'), await pipeline.processFile(b, 'largest')];
      const similarity = dot(fa.faces[0]!.embedding, fb.faces[0]!.embedding);
      const same = similarity >= threshold;
      // Several faces in a photo: the largest is compared, which may not be the person meant. Say so.
      for (const [file, r] of [[a, fa], [b, fb]] as const) {
        const box = r.faces[0]!.box;
        if (r.detected > 1)
          note(opts, `${file}: ${r.detected} faces; compared the largest, box ${Math.round(box.x)},${Math.round(box.y)} ${Math.round(box.width)}x${Math.round(box.height)}`);
      }
      const result = {
        image1: a,
        image2: b,
        similarity,
        threshold,
        thresholdSource: opts.threshold !== undefined ? '--threshold' : spec.thresholds.verify.provenance,
        decision: same ? 'SAME' : 'DIFFERENT',
        model: spec.id,
        /** The face compared in each photo (its largest), and how many faces the photo has. */
        faces: [fa, fb].map((r) => ({ box: r.faces[0]!.box, score: r.faces[0]!.score, quality: r.faces[0]!.quality, facesInPhoto: r.detected })),
      };
      if (opts.json) printJson(result);
      else {
        const [shown, shownThreshold] = fmtVersus(similarity, threshold, same);
        process.stdout.write(`${result.decision}  similarity ${shown} (threshold ${shownThreshold}, model ${spec.id})\n`);
      }
      return same ? ExitCode.OK : ExitCode.UNKNOWN_FACE;
    }),
  );
}
