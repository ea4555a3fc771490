/** `facectl enroll <id> <photos...>` and `facectl enroll --dataset <dir>` (bulk, resumable). */
import { DEFAULT_EMBEDDER } from '../models/registry.js';
import type { Command } from 'commander';
import { ExitCode, FacectlError, printable, type ExitCodeValue } from '../errors.js';
import type { Gallery } from '../gallery/types.js';
import { DETECTOR_DEFAULT, action, note, numberOption, printJson, refuseIdleOptions, table, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';
import { withSpinner } from './progress.js';
import { storeOption, withStore } from './store-option.js';
import { loadPipelineForStore } from './store-pipeline.js';

interface EnrollOpts extends GlobalOptions {
  name?: string;
  largest?: boolean;
  skipBad?: boolean;
  force?: boolean;
  dataset?: string;
  store?: string;
  threshold?: string;
  batch?: string;
}

export function registerEnroll(program: Command): void {
  withDetectorOption(withGlobalOptions(
    storeOption(
      program
        .command('enroll')
        .description('add a person from photos (one usable face each), or a whole folder-per-person dataset with --dataset')
        .argument('[id]', 'identity id: letters, digits, . _ - (at most 64)')
        .argument('[images...]', 'photos of that person')
        .option('--name <name>', 'display name (default: the id)')
        .option('--largest', 'take the largest face when a photo shows several')
        .option('--skip-bad', 'enroll the usable photos even if some are not (default: all or nothing)')
        .option('--force', 'enroll even if the face already matches another identity')
        .option('--dataset <dir>', 'bulk import: <dir>/<id>/<photos>, resumable')
        .option('--batch <n>', 'bulk import: faces per commit (default 100, or a tenth of the faces the store holds when that is more: each commit rewrites the store)')
        .option('--threshold <t>', "similarity for the duplicate check (default: the store's login threshold)")
        .option('--model <id>', `embedder for a new store (default ${DEFAULT_EMBEDDER})`),
    ),
  ), DETECTOR_DEFAULT.store).action(action(async (id: string | undefined, images: string[], opts: EnrollOpts) => {
    if (opts.dataset) {
      if (id !== undefined || images.length) throw new FacectlError(ExitCode.USAGE, '--dataset takes no id or photos: the folder names are the ids');
      refuseIdleOptions(
        { '--name': opts.name, '--largest': opts.largest, '--skip-bad': opts.skipBad, '--force': opts.force, '--threshold': opts.threshold },
        'with --dataset (the folder names are the ids and names, the face nearest the centre is taken, bad photos are skipped and listed, and there is no duplicate check)',
      );
      const batch = numberOption('--batch', opts.batch, 1, 1e6, { integer: true }); // before the store is created; undefined: bulkEnroll's default
      return withStore(opts, {}, (gallery) => bulk(gallery, opts.dataset!, batch, opts));
    }
    // An empty id ("") is given, and invalid (exit 9 below), not missing.
    if (id === undefined || !images.length) throw new FacectlError(ExitCode.USAGE, 'usage: facectl enroll <id> <photos...>  (or --dataset <dir>)');
    refuseIdleOptions({ '--batch': opts.batch }, 'without --dataset (one enroll is one commit)');
    if (images.includes('-'))
      throw new FacectlError(ExitCode.USAGE, 'enroll needs photo files, not standard input: their paths are kept so that `index rebuild --reembed` can embed them again');
    // Before anything is loaded or created: a bad id leaves no store behind.
    (await import('../gallery/index.js')).validateId(id);
    const threshold = numberOption('--threshold', opts.threshold, -1, 1);
    return withStore(opts, {}, async (gallery) => {
      const pipeline = await loadPipelineForStore(opts, gallery);
      // Several bad photos: the error's one line names each with its reason.
      const { enroll } = await import('../app/enroll.js');
      const r = await enroll(pipeline, gallery, id, images, { name: opts.name, largest: !!opts.largest, skipBad: !!opts.skipBad, force: !!opts.force, threshold });
      for (const w of r.warnings) note(opts, `warning: ${w}`);
      for (const s of r.skipped) note(opts, `skipped ${s.file}: ${s.reason}`);
      for (const f of r.alreadyEnrolled) {
        const moved = r.pathsUpdated.find((u) => u.file === f);
        note(opts, `${f}: already enrolled as ${r.id} (the same photo): not added again${moved ? `; path updated (the stored one, ${moved.was}, is gone)` : ''}`);
      }
      if (opts.json) return printJson({ id: r.id, name: r.name, added: r.added, alreadyEnrolled: r.alreadyEnrolled, pathsUpdated: r.pathsUpdated, skipped: r.skipped, warnings: r.warnings, store: gallery.location });
      const moved = r.pathsUpdated.length ? `, ${r.pathsUpdated.length} stored photo path(s) updated` : '';
      process.stdout.write(`enrolled ${r.id}${r.name !== r.id ? ` (${r.name})` : ''}: ${r.added.length} face(s) added${moved}${r.skipped.length ? `, ${r.skipped.length} photo(s) skipped` : ''} → ${gallery.location}\n`);
    });
  }));
}

async function bulk(gallery: Gallery, dataset: string, batch: number | undefined, opts: EnrollOpts): Promise<void> {
  const pipeline = await loadPipelineForStore(opts, gallery);
  const { bulkEnroll } = await import('../app/bulk-enroll.js');
  const t0 = performance.now();
  // The spinner stops whether the import succeeds or fails (a running one would keep the process alive).
  const r = await withSpinner(opts, `importing ${dataset}`, async (spinner) => {
    const result = await bulkEnroll(pipeline, gallery, dataset, {
      batch,
      onProgress: (p) => {
        if (!spinner || (p.photosDone % 10 !== 0 && p.photosDone !== p.photosTotal)) return;
        const elapsed = (performance.now() - t0) / 1000;
        const eta = (elapsed / p.photosDone) * (p.photosTotal - p.photosDone);
        spinner.text = `${p.photosDone}/${p.photosTotal} photos · ${p.added} added · ${p.rejected} rejected · ${p.skipped} already enrolled · ETA ${Math.round(eta)}s`;
      },
    });
    spinner?.succeed(`imported ${dataset} in ${result.seconds.toFixed(1)}s`);
    return result;
  });
  if (opts.json) {
    printJson({ store: gallery.location, ...r });
    return refuseEmptyImport(r, dataset);
  }
  const rows: (string | number)[][] = [
    ['people in dataset', r.identities],
    ['people enrolled', r.identitiesEnrolled],
    ['photos', r.photos],
    ['faces added now', r.added],
    ['already enrolled (resumed)', r.alreadyEnrolled],
    ...(r.pathsUpdated ? [['  of which moved: path updated', r.pathsUpdated]] : []),
    ...(r.duplicatePhotos ? [['same photo twice in a folder (taken once)', r.duplicatePhotos]] : []),
    ['photos rejected', r.rejected.length],
    ...Object.entries(r.rejectedByReason).map(([reason, n]) => [`  ${reason}`, n]),
  ];
  process.stdout.write(table(['import summary', 'count'], rows) + '\n');
  // Each photo rejected is an error, not progress: one line on stderr, also with -q (as cluster's skipped photos).
  for (const p of r.rejected) process.stderr.write(`${printable(`rejected ${p.file}: ${p.reason}`)}\n`);
  if (r.storeFolder) note(opts, `folder "${r.storeFolder}" skipped: it is the store (--store), not a person`);
  for (const f of r.renamedFolders) note(opts, `folder "${f.folder}" enrolled as id "${f.id}" (invalid characters replaced)`);
  if (r.notRead) note(opts, `note: not read: ${r.notRead}`);
  refuseEmptyImport(r, dataset);
}

/** As a single enroll fails when no photo gives a usable face, so does an import where none did (after its summary). */
function refuseEmptyImport(r: { added: number; alreadyEnrolled: number; rejected: { file: string; code: number; reason: string }[] }, dataset: string): void {
  if (r.added || r.alreadyEnrolled) return;
  const first = r.rejected[0];
  throw new FacectlError((first?.code ?? ExitCode.NO_FACE) as ExitCodeValue, `nothing enrolled: no photo in ${dataset} gave a usable face${first ? ` (first: ${printable(first.file)}: ${first.reason})` : ''}`);
}
