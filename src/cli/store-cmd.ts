/** `facectl store copy <from> <to>`: move a gallery between a store directory and PostgreSQL. */
import type { Command } from 'commander';
import { ExitCode, FacectlError } from '../errors.js';
import { action, requireSubcommand, printJson, withGlobalOptions, type GlobalOptions } from './common.js';

export function registerStore(program: Command): void {
  const store = requireSubcommand(program.command('store').description('whole galleries: copy between a directory and PostgreSQL'));
  withGlobalOptions(
    store
      .command('copy')
      .description('copy every face, the model binding and the threshold into an empty gallery, then compare counts and checksums')
      .argument('<from>', 'store directory or postgres://… URL')
      .argument('<to>', 'store directory or postgres://… URL (must be empty)'),
    { runsModels: false },
  ).action(
    action(async (fromLocation: string, toLocation: string, opts: GlobalOptions) => {
      const [{ copyGallery }, { openGallery }] = await Promise.all([import('../app/store-copy.js'), import('../gallery/index.js')]);
      const from = await openGallery(fromLocation, { mustExist: true }).catch((err: unknown) => {
        // The file store's "no store here: … or pass --store" fits the commands that have --store, not this one.
        if (err instanceof FacectlError && err.code === ExitCode.NOT_FOUND && err.file !== undefined)
          throw new FacectlError(ExitCode.NOT_FOUND, 'no store here to copy from', err.file);
        throw err;
      });
      try {
        const to = await openGallery(toLocation);
        try {
          const r = await copyGallery(from, to);
          if (opts.json) return printJson(r);
          process.stdout.write(`copied ${r.faces} face(s) of ${r.identities} identities: ${r.from} → ${r.to}\nverified: rows sha256 ${r.rowsSha256.slice(0, 16)}…, embeddings sha256 ${r.embeddingsSha256.slice(0, 16)}…\n`);
        } finally {
          await to.close();
        }
      } finally {
        await from.close();
      }
    }),
  );
}
