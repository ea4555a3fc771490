/** `facectl enroll <id> <photos...>` and `facectl enroll --dataset <dir>` (bulk, resumable). */
import { DEFAULT_EMBEDDER } from '../models/registry.js';
import type { Command } from 'commander';
import ora from 'ora';
import { bulkEnroll } from '../app/bulk-enroll.js';
import { enroll, EnrollRefused } from '../app/enroll.js';
import { effectiveThreshold } from '../app/login.js';
import { ExitCode, FacectlError } from '../errors.js';
import { GalleryStore, resolveStoreDir } from '../store/index.js';
import { loadPipelineForStore } from './store-pipeline.js';
import { action, note, numberOption, printJson, table, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';

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

export const storeOption = (cmd: Command): Command =>
  cmd.option('--store <dir>', 'gallery store directory (default $FACECTL_STORE, else ~/.local/share/facectl/store)');

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
        .option('--batch <n>', 'bulk import: faces per commit', '100')
        .option('--threshold <t>', "similarity for the duplicate check (default: the store's login threshold)")
        .option('--model <id>', `embedder for a new store (default ${DEFAULT_EMBEDDER})`),
    ),
  )).action(action(async (id: string | undefined, images: string[], opts: EnrollOpts) => {
    const storeDir = resolveStoreDir(opts.store);
    if (opts.dataset) {
      if (id || images.length) throw new FacectlError(ExitCode.USAGE, '--dataset takes no id or photos: the folder names are the ids');
      return bulk(storeDir, opts.dataset, opts);
    }
    if (!id || !images.length) throw new FacectlError(ExitCode.USAGE, 'usage: facectl enroll <id> <photos...>  (or --dataset <dir>)');
    const pipeline = await loadPipelineForStore(opts, storeDir);
    const snapshot = await GalleryStore.open(storeDir, { create: true });
    const threshold = effectiveThreshold(snapshot, pipeline, numberOption('--threshold', opts.threshold, -1, 1));
    try {
      const r = await enroll(pipeline, storeDir, id, images, {
        name: opts.name, largest: !!opts.largest, skipBad: !!opts.skipBad, force: !!opts.force, threshold: threshold.value,
      });
      for (const w of r.warnings) note(opts, `warning: ${w}`);
      for (const s of r.skipped) note(opts, `skipped ${s.file}: ${s.reason}`);
      if (opts.json) return printJson({ id: r.id, name: r.name, added: r.added, skipped: r.skipped, warnings: r.warnings, store: storeDir });
      process.stdout.write(`enrolled ${r.id}${r.name !== r.id ? ` (${r.name})` : ''}: ${r.added.length} face(s) added${r.skipped.length ? `, ${r.skipped.length} photo(s) skipped` : ''} → ${storeDir}\n`);
    } catch (err) {
      // Several bad photos: one line each on stderr before the summary error line.
      if (err instanceof EnrollRefused && err.problems.length > 1) for (const p of err.problems) note({}, `${p.file}: ${p.reason}`);
      throw err;
    }
  }));
}

async function bulk(storeDir: string, dataset: string, opts: EnrollOpts): Promise<void> {
  const pipeline = await loadPipelineForStore(opts, storeDir);
  const spinner = opts.quiet || opts.json ? null : ora({ text: `importing ${dataset}`, stream: process.stderr }).start();
  const t0 = performance.now();
  const r = await bulkEnroll(pipeline, storeDir, dataset, {
    batch: numberOption('--batch', opts.batch, 1, 1e6),
    onProgress: (p) => {
      if (!spinner || (p.photosDone % 10 !== 0 && p.photosDone !== p.photosTotal)) return;
      const elapsed = (performance.now() - t0) / 1000;
      const eta = (elapsed / p.photosDone) * (p.photosTotal - p.photosDone);
      spinner.text = `${p.photosDone}/${p.photosTotal} photos · ${p.added} added · ${p.rejected} rejected · ${p.skipped} already enrolled · ETA ${Math.round(eta)}s`;
    },
  });
  spinner?.succeed(`imported ${dataset} in ${r.seconds.toFixed(1)}s`);
  if (opts.json) return printJson({ store: storeDir, ...r });
  const rows: (string | number)[][] = [
    ['people in dataset', r.identities],
    ['people enrolled', r.identitiesEnrolled],
    ['photos', r.photos],
    ['faces added now', r.added],
    ['already enrolled (resumed)', r.alreadyEnrolled],
    ['photos rejected', r.rejected.length],
    ...Object.entries(r.rejectedByReason).map(([reason, n]) => [`  ${reason}`, n]),
  ];
  process.stdout.write(table(['import summary', 'count'], rows) + '\n');
  for (const f of r.renamedFolders) note(opts, `folder "${f.folder}" enrolled as id "${f.id}" (invalid characters replaced)`);
}
