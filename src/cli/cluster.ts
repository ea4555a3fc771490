/** `facectl cluster <photos or folders...>`: group the faces of many photos by person, nobody enrolled. */
import type { Command } from 'commander';
import { ExitCode, FacectlError, type ExitCodeValue } from '../errors.js';
import { DEFAULT_EMBEDDER } from '../models/registry.js';
import { action, fmt, loadPipeline, note, numberOption, printJson, table, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';
import { withSpinner } from './progress.js';

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
    if (opts.linkTo) requireNewOrEmptyFolder(opts.linkTo); // before the long part
    const files = listPhotos(paths);
    if (!files.length) throw new FacectlError(ExitCode.NOT_FOUND, `no photos under ${paths.join(', ')}`);
    const pipeline = await loadPipeline(opts);
    const r = await withSpinner(opts, `embedding the faces of ${files.length} photos`, (spinner) =>
      clusterPhotos(pipeline, files, { threshold, onPhoto: (done) => spinner && (spinner.text = `embedding the faces of ${done}/${files.length} photos`) }),
    );
    const faces = r.groups.reduce((n, g) => n + g.length, 0);
    const linked = opts.linkTo ? linkGroups(r.groups, opts.linkTo, minSize) : [];
    if (opts.json) printJson({ model: pipeline.embedderInfo!.spec.id, threshold: r.threshold, photos: files.length, faces, groups: r.groups, leftOut: r.leftOut, skipped: r.skipped, linked });
    else {
      const shown = r.groups.filter((g) => g.length >= minSize);
      const rows = shown.map((g, i) => {
        const photos = [...new Set(g.map((f) => f.file))];
        return [i + 1, g.length, photos.slice(0, 4).join('\n') + (photos.length > 4 ? `\n… and ${photos.length - 4} more` : '')];
      });
      if (rows.length) process.stdout.write(table(['group', 'faces', 'photos'], rows) + '\n');
      process.stdout.write(
        `${faces} faces in ${files.length} photos: ${r.groups.length} groups, ${r.groups.filter((g) => g.length >= 2).length} with 2 or more faces` +
          `${r.leftOut.length ? `; ${r.leftOut.length} faces left out (too small, uncertain or turned away: --json lists them)` : ''}` +
          `${r.skipped.length ? `; ${r.skipped.length} photos without a face` : ''}\n`,
      );
      note(opts, `threshold ${fmt(r.threshold.value, 4)}: ${r.threshold.source}`);
      if (opts.linkTo) note(opts, `${linked.length} group folders of links in ${opts.linkTo}`);
      for (const s of r.skipped) note(opts, `${s.file}: ${s.reason}`);
    }
    // No face at all: exit 4; faces, but none usable: exit 7, as enroll would say.
    return faces ? ExitCode.OK : r.leftOut.length ? ExitCode.LOW_QUALITY : ExitCode.NO_FACE;
  }));
}
