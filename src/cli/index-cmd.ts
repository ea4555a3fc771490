/** `facectl index rebuild [--reembed] [--drop-damaged]`: check and repair the store, rebuild the search index. */
import path from 'node:path';
import type { Command } from 'commander';
import { action, requireSubcommand, indexOption, note, printJson, refuseIdleOptions, table, withGlobalOptions, type GlobalOptions } from './common.js';
import { withSpinner } from './progress.js';
import { storeOption, withStore } from './store-option.js';
import { loadPipelineForStore } from './store-pipeline.js';

interface RebuildOpts extends GlobalOptions {
  store?: string;
  reembed?: boolean;
  dropMissing?: boolean;
  dropUnusable?: boolean;
  dropDamaged?: boolean;
  photosRoot?: string;
  index: 'auto' | 'flat' | 'hnsw';
  model?: string;
  detector?: string;
}

export function registerIndex(program: Command): void {
  const index = requireSubcommand(program.command('index').description('the search index beside the store'));
  withGlobalOptions(
    storeOption(
      index
        .command('rebuild')
        .description('verify and repair the store, rebuild identity vectors and the index; --reembed re-runs the pipeline on the stored photos')
        .option('--reembed', 're-embed every stored photo (after a model change; use --model for the new one)')
        .option('--drop-missing', 'with --reembed: drop faces whose photo is gone instead of refusing')
        .option('--drop-unusable', 'with --reembed: drop every face that cannot be re-embedded (photo gone, changed, unreadable, face no longer found) instead of refusing')
        .option('--drop-damaged', 'drop faces whose embedding was lost (a truncated embeddings.f32) instead of refusing; --reembed re-embeds them instead')
        .option('--photos-root <dir>', 'where photo paths stored relative (facectl 0.1.0) are found: the directory enroll ran in (default: the current one); alone, stores them absolute')
        .addOption(indexOption())
        .option('--model <id>', 'with --reembed: the embedder to switch to')
        .option('--detector <id>', "with --reembed: the detector to switch to (default: the store's)"),
    ),
  ).action(
    action(async (opts: RebuildOpts) => {
      if (!opts.reembed)
        refuseIdleOptions(
          { '--model': opts.model, '--detector': opts.detector, '--drop-missing': opts.dropMissing, '--drop-unusable': opts.dropUnusable, '--threads': opts.threads, '--device': opts.device },
          'without --reembed',
        );
      return withStore(opts, { mustExist: true }, async (gallery) => {
        // Re-embedding uses the model and detector asked for (a switch), else the store's own (a refresh); each independently.
        // A store too damaged to open still names its model (manifest, else embeddings.f32's header): --reembed repairs it.
        const pipeline = opts.reembed ? await loadPipelineForStore(opts, gallery, { damaged: true }) : null;
        const { rebuild } = await import('../app/rebuild.js');
        // The spinner stops whether the rebuild succeeds or fails (a running one would keep the process alive).
        const r = await withSpinner(opts.reembed ? opts : { quiet: true }, 're-embedding', async (spinner) => {
          const result = await rebuild(pipeline, gallery, {
            reembed: !!opts.reembed,
            dropMissing: !!opts.dropMissing,
            dropUnusable: !!opts.dropUnusable,
            dropDamaged: !!opts.dropDamaged,
            photosRoot: path.resolve(opts.photosRoot ?? '.'),
            fixPaths: opts.photosRoot !== undefined, // '' is refused before the action (common.ts stringOption)
            index: opts.index,
            onProgress: (done, total) => {
              if (spinner && (done % 10 === 0 || done === total)) spinner.text = `re-embedding ${done}/${total} photos`;
            },
          });
          spinner?.succeed(`re-embedded ${result.reembedded} photos`);
          return result;
        });
        if (opts.json) return printJson(r);
        for (const p of r.verify.problems) note(opts, `found: ${p}`);
        for (const a of r.repairs) note(opts, `repaired: ${a}`);
        for (const d of r.dropped) note(opts, `dropped: ${d.file}: ${d.reason}`);
        if (r.relativePaths)
          note(opts, `${r.relativePaths} face(s) have a photo path relative to the directory enroll ran in: \`facectl index rebuild --photos-root <that directory>\` stores them absolute`);
        process.stdout.write(
          table(['index rebuild', 'result'], [
            ['store problems found', r.verify.problems.length],
            ['repairs made', r.repairs.length],
            ['faces re-embedded', r.reembedded],
            ['faces dropped', r.dropped.length],
            ['photo paths made absolute', r.relocated],
            ['identities indexed', r.index.identities],
            ['index', r.index.kind === 'none' ? 'none (empty store)' : `${r.index.kind} → ${r.index.file} (${r.index.ms.toFixed(0)} ms)`],
          ]) + '\n',
        );
      });
    }),
  );
}
