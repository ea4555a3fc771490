/** `facectl list`, `facectl remove <id>`, `facectl info`: what the gallery holds. */
import type { Command } from 'commander';
import { action, fmt, printJson, table, withGlobalOptions, type GlobalOptions } from './common.js';
import { rateName } from '../app/threshold.js';
import { storeOption, withStore } from './store-option.js';

// The gallery code loads when a command runs, not for --help or other commands.
const galleryOps = () => import('../app/gallery-ops.js');

interface StoreOpts extends GlobalOptions {
  store?: string;
}

export function registerGallery(program: Command): void {
  withGlobalOptions(storeOption(program.command('list').description('enrolled identities: id, name, faces, last added')), { runsModels: false }).action(
    action(async (opts: StoreOpts) =>
      withStore(opts, { mustExist: true }, async (gallery) => {
        const people = (await (await galleryOps()).listIdentities(gallery)).map((p) => ({ id: p.id, name: p.name, faces: p.faceCount, lastAdded: p.lastAdded }));
        if (opts.json) return printJson({ identities: people, total: people.length });
        process.stdout.write(table(['id', 'name', 'faces', 'last added'], people.map((p) => [p.id, p.name, p.faces, p.lastAdded])) + '\n');
        process.stdout.write(`${people.length} identities, ${people.reduce((n, p) => n + p.faces, 0)} faces\n`);
      }),
    ),
  );

  withGlobalOptions(storeOption(program.command('remove').description('delete an identity and all its faces').argument('<id>')), { runsModels: false }).action(
    action(async (id: string, opts: StoreOpts) => {
      (await import('../gallery/index.js')).validateId(id);
      return withStore(opts, { mustExist: true }, async (gallery) => {
        const removed = await (await galleryOps()).removeIdentity(gallery, id);
        if (opts.json) return printJson({ removed: id, faces: removed });
        process.stdout.write(`removed ${id} (${removed} face(s))\n`);
      });
    }),
  );

  withGlobalOptions(storeOption(program.command('info').description('store summary: model, counts, threshold and its provenance, sizes')), { runsModels: false }).action(
    action(async (opts: StoreOpts) =>
      withStore(opts, { mustExist: true }, async (gallery) => {
        const d = await (await galleryOps()).describeGallery(gallery);
        const t = d.threshold;
        const threshold = t
          ? { value: t.value, source: t.source, dataset: t.dataset, targetFpr: t.targetFpr, basis: t.basis, date: t.date }
          : d.loginThreshold && { value: d.loginThreshold.value, source: 'model default', note: d.loginThreshold.source };
        const info = { store: d.location, backend: d.backend, model: d.model, identities: d.identities, faces: d.faces, threshold, generation: d.generation };
        if (opts.json) return printJson(d.backend === 'files' ? { ...info, files: d.details } : { ...info, details: d.details });
        const rows: (string | number)[][] = [
          ['store', d.location],
          ['model', d.model ? `${d.model.id} (${d.model.dimension}-d, ${d.model.hash})` : 'none yet'],
          ['identities', d.identities],
          ['faces', d.faces],
          [
            'threshold',
            t
              ? `${fmt(t.value, 4)} (${t.source}${t.dataset ? `, ${t.dataset}` : ''}${t.targetFpr ? `, ${rateName(t.basis)} ${t.targetFpr}` : ''}${t.date ? `, ${t.date.slice(0, 10)}` : ''})`
              : d.loginThreshold
                ? `${fmt(d.loginThreshold.value, 4)} (model default)`
                : 'none',
          ],
          ['generation', d.generation],
          ...Object.entries(d.details).map(([k, v]) => [k, v === null ? '-' : d.backend === 'files' ? `${v} bytes` : v]),
        ];
        process.stdout.write(table(['field', 'value'], rows) + '\n');
      }),
    ),
  );
}
