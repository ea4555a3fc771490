/** `facectl list`, `facectl remove <id>`, `facectl info`: what the store holds. */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { indexFile } from '../app/gallery-index.js';
import { BUILTIN_EMBEDDERS } from '../models/registry.js';
import { DATA_FILE, DUMP_FILE, GalleryStore, MANIFEST_FILE, resolveStoreDir, validateId } from '../store/index.js';
import { action, fmt, printJson, table, withGlobalOptions, type GlobalOptions } from './common.js';
import { storeOption } from './enroll.js';

interface StoreOpts extends GlobalOptions {
  store?: string;
}

export function registerGallery(program: Command): void {
  withGlobalOptions(storeOption(program.command('list').description('enrolled identities: id, name, faces, last added'))).action(
    action(async (opts: StoreOpts) => {
      const snapshot = await GalleryStore.open(resolveStoreDir(opts.store));
      const people = snapshot.identities().map((it) => {
        const rows = it.rowIndexes.map((i) => snapshot.rows[i]!);
        return { id: it.id, name: it.name, faces: it.faceCount, lastAdded: rows.map((r) => r.addedAt).sort().at(-1) ?? '' };
      });
      if (opts.json) return printJson({ identities: people, total: people.length });
      process.stdout.write(table(['id', 'name', 'faces', 'last added'], people.map((p) => [p.id, p.name, p.faces, p.lastAdded])) + '\n');
      process.stdout.write(`${people.length} identities, ${snapshot.faceCount} faces\n`);
    }),
  );

  withGlobalOptions(storeOption(program.command('remove').description('delete an identity and all its faces').argument('<id>'))).action(
    action(async (id: string, opts: StoreOpts) => {
      validateId(id);
      const storeDir = resolveStoreDir(opts.store);
      const { result: removed } = await GalleryStore.mutate(storeDir, (draft) => draft.removeIdentity(id), { create: false });
      if (opts.json) return printJson({ removed: id, faces: removed });
      process.stdout.write(`removed ${id} (${removed} face(s))\n`);
    }),
  );

  withGlobalOptions(storeOption(program.command('info').description('store summary: model, counts, threshold and its provenance, file sizes'))).action(
    action(async (opts: StoreOpts) => {
      const storeDir = resolveStoreDir(opts.store);
      const snapshot = await GalleryStore.open(storeDir);
      const size = (f: string) => {
        try {
          return statSync(path.join(storeDir, f)).size;
        } catch {
          return null;
        }
      };
      const model = snapshot.model;
      const spec = BUILTIN_EMBEDDERS.find((s) => s.id === model?.id);
      const info = {
        store: storeDir,
        model,
        identities: snapshot.identities().length,
        faces: snapshot.faceCount,
        threshold: snapshot.threshold ?? (spec ? { value: spec.thresholds.login.value, source: 'model default', note: spec.thresholds.login.provenance } : null),
        generation: snapshot.generation,
        files: Object.fromEntries(
          [MANIFEST_FILE, DATA_FILE, DUMP_FILE, path.basename(indexFile(storeDir, 'flat')), path.basename(indexFile(storeDir, 'hnsw'))].map((f) => [f, size(f)]),
        ),
      };
      if (opts.json) return printJson(info);
      const t = info.threshold as { value: number; source: string; dataset?: string; targetFpr?: number; date?: string } | null;
      const rows: (string | number)[][] = [
        ['store', storeDir],
        ['model', model ? `${model.id} (${model.dimension}-d, ${model.hash})` : 'none yet'],
        ['identities', info.identities],
        ['faces', info.faces],
        ['threshold', t ? `${fmt(t.value, 4)} (${t.source}${t.dataset ? `, ${t.dataset}` : ''}${t.targetFpr ? `, FPR ${t.targetFpr}` : ''}${t.date ? `, ${t.date.slice(0, 10)}` : ''})` : 'none'],
        ['generation', info.generation],
        ...Object.entries(info.files).map(([f, s]) => [f, s === null ? '-' : `${s} bytes`]),
      ];
      process.stdout.write(table(['field', 'value'], rows) + '\n');
    }),
  );
}
