/** `facectl cluster <photos or folders...>`: group the faces of many photos by person, nobody enrolled. */
import type { Command } from 'commander';
import { ExitCode, FacectlError, type ExitCodeValue } from '../errors.js';
import { DEFAULT_EMBEDDER } from '../models/registry.js';
import { action, fmt, loadPipeline, note, numberOption, photoFailed, printJson, table, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';
import { withSpinner } from './progress.js';
import type { PhotoProblem } from '../app/enroll.js';

interface ClusterOpts extends GlobalOptions {
  model?: string;
  threshold?: string;
  minSize: string;
  linkTo?: string;
}

export function registerCluster(program: Command): void {
  withDetectorOption(withGlobalOptions(
    program
      .command('cluster')
      .description('group the faces of many photos by person, without enrolling anyone (every face of every photo; folders are walked)')
      .argument('<paths...>', 'photos, or folders of photos')
      .option('--model <id>', `embedder (default ${DEFAULT_EMBEDDER})`)
      .option('--threshold <t>', "cosine at which two faces are linked (default: the model's 1:N login threshold)")
      .option('--min-size <n>', 'list (and link) groups of at least this many faces (the JSON always has them all)', '2')
      .option('--link-to <dir>', 'make one folder per group there, holding symbolic links to its photos (the folder must be new or empty)'),
  )).action(action(async (paths: string[], opts: ClusterOpts): Promise<ExitCodeValue> => {
    const threshold = numberOption('--threshold', opts.threshold, -1, 1);
    const minSize = numberOption('--min-size', opts.minSize, 1, 1e9, { integer: true })!;
    const { clusterPhotos, linkGroups, listPhotos, requireNewOrEmptyFolder } = await import('../app/cluster.js');
    // Before the long part: checked, and made if new (linkGroups removes what was made if linking fails).
    const linkToMade = opts.linkTo !== undefined ? requireNewOrEmptyFolder(opts.linkTo) : [];
    const notPhotos: PhotoProblem[] = []; // FIFOs, sockets, devices inside the folders
    const files = listPhotos(paths, notPhotos);
    // Each photo skipped is an error, not progress: one line on stderr, also with -q (as detect's).
    const reportSkipped = (list: readonly PhotoProblem[]) => {
      for (const s of list) photoFailed(s.file, new FacectlError(s.code, s.reason, s.file));
    };
    reportSkipped(notPhotos);
    if (!files.length) throw new FacectlError(ExitCode.NOT_FOUND, `no photos under ${paths.join(', ')}`);
    const pipeline = await loadPipeline(opts);
    const r = await withSpinner(opts, `embedding the faces of ${files.length} photos`, (spinner) =>
      clusterPhotos(pipeline, files, { threshold, onPhoto: (done) => spinner && (spinner.text = `embedding the faces of ${done}/${files.length} photos`) }),
    );
    reportSkipped(r.skipped);
    const skipped = [...notPhotos, ...r.skipped];
    const faces = r.groups.reduce((n, g) => n + g.length, 0);
    const linked = opts.linkTo !== undefined ? linkGroups(r.groups, opts.linkTo, minSize, linkToMade) : [];
    if (opts.json) printJson({ model: pipeline.embedderInfo!.spec.id, threshold: r.threshold, photos: files.length, faces, groups: r.groups, leftOut: r.leftOut, skipped, linked });
    else {
      const shown = r.groups.filter((g) => g.length >= minSize);
      const rows = shown.map((g, i) => {
        const photos = [...new Set(g.map((f) => f.file))];
        return [i + 1, g.length, [...photos.slice(0, 4), ...(photos.length > 4 ? [`… and ${photos.length - 4} more`] : [])]];
      });
      if (rows.length) process.stdout.write(table(['group', 'faces', 'photos'], rows) + '\n');
      process.stdout.write(
        `${faces} faces in ${files.length} photos: ${r.groups.length} groups, ${r.groups.filter((g) => g.length >= 2).length} with 2 or more faces` +
          `${r.leftOut.length ? `; ${r.leftOut.length} faces left out (too small, uncertain or turned away: --json lists them)` : ''}` +
          `${skipped.length ? `; ${skippedSummary(skipped)}` : ''}\n`,
      );
      note(opts, `threshold ${fmt(r.threshold.value, 4)}: ${r.threshold.source}`);
      if (opts.linkTo !== undefined) note(opts, `${linked.length} group folders of links in ${opts.linkTo}`);
    }
    // Faces grouped: 0. None usable: exit 7 when faces were found but all left out, as enroll would say;
    // else the first skipped photo's code, as detect's (4 no face, 6 unreadable, 14 a dangling link).
    return faces ? ExitCode.OK : r.leftOut.length ? ExitCode.LOW_QUALITY : (skipped[0]?.code ?? ExitCode.NO_FACE);
  }));
}

/** "3 photos skipped: 1 without a face, 2 unreadable", by what happened to each. */
function skippedSummary(skipped: readonly PhotoProblem[]): string {
  const noFace = skipped.filter((s) => s.code === ExitCode.NO_FACE).length;
  const parts = [noFace && `${noFace} without a face`, skipped.length - noFace && `${skipped.length - noFace} unreadable or not a photo`].filter(Boolean);
  return `${skipped.length} photo${skipped.length === 1 ? '' : 's'} skipped: ${parts.join(', ')} (reasons above on stderr)`;
}
