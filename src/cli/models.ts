/** `facectl models list|prepare|add|remove|prune`: the models facectl can use and where they come from. */
import type { Command } from 'commander';
import { ExitCode, FacectlError } from '../errors.js';
import { BUILTIN_MODEL_IDS, getBuiltinModel } from '../models/builtin.js';
import { DEFAULT_EMBEDDER } from '../models/registry.js';
import { action, requireSubcommand, note, numberOption, printJson, table, withGlobalOptions, type GlobalOptions } from './common.js';

export function registerModels(program: Command): void {
  const models = requireSubcommand(program.command('models').description('list, prepare and register models'));

  withGlobalOptions(models.command('list').description('built-in and registered models, with their cache state'), { runsModels: false }).action(
    action(async (opts: GlobalOptions) => {
      // Each subcommand loads what it uses when it runs (onnxruntime among it), not with every command.
      const [{ locateModel, resolveModelsDir }, { defaultShippedDir }, { runtimeVersions }, { allEmbedders }, { listUserDetectors, userModelsDir }, { BUILTIN_DETECTORS, DEFAULT_DETECTOR }] =
        await Promise.all([
          import('../models/cache.js'),
          import('../models/shipped.js'),
          import('./versions.js'),
          import('../models/resolve.js'),
          import('../models/user-models.js'),
          import('../pipeline/detectors/registry.js'),
        ]);
      const builtins = await Promise.all(
        BUILTIN_MODEL_IDS.map(async (id) => {
          const m = getBuiltinModel(id);
          return { id, kind: m.kind, origin: 'builtin', state: (await locateModel(id)).state, description: m.description };
        }),
      );
      const embedders = await allEmbedders();
      const ensembles = embedders
        .filter((e) => e.members)
        .map((e) => ({ id: e.id, kind: 'embedder', origin: 'builtin', state: `ensemble of ${e.members!.map((m) => m.id).join(' + ')}`, description: e.description }));
      const user = embedders
        .filter((e) => e.origin === 'user')
        .map((e) => ({ id: e.id, kind: 'embedder', origin: 'user', state: 'file' in e.source ? e.source.file : '', description: e.description }));
      const detectors = [
        ...BUILTIN_DETECTORS.map((d) => ({ id: d.id, kind: 'detector (--detector)', origin: 'builtin', state: '', description: `${d.description}; five points: ${d.landmarks}` })),
        ...(await listUserDetectors()).map((d) => ({ id: d.id, kind: 'detector (--detector)', origin: 'user', state: d.source.file, description: d.description })),
      ];
      const rows = [...detectors, ...builtins, ...ensembles, ...user];
      if (opts.json) return printJson({ shippedDir: defaultShippedDir(), modelsDir: resolveModelsDir(), versions: runtimeVersions(), userModelsDir: userModelsDir(), defaultEmbedder: DEFAULT_EMBEDDER, defaultDetector: DEFAULT_DETECTOR, models: rows });
      const isDefault = (r: (typeof rows)[number]) => r.id === DEFAULT_EMBEDDER || (r.id === DEFAULT_DETECTOR && r.kind.startsWith('detector ('));
      process.stdout.write(table(['id', 'kind', 'origin', 'cache / file', 'description'], rows.map((r) => [isDefault(r) ? `${r.id} (default)` : r.id, r.kind, r.origin, r.state, r.description])) + '\n');
    }),
  );

  withGlobalOptions(
    models
      .command('prepare')
      .description('convert the built-in models now (otherwise done on first use); no network needed')
      .argument('[ids...]', 'model ids (default: all built-in models)')
      .option('--force', 'convert again even if the cache is valid'),
    { runsModels: false }, // conversion checks run in their own one-thread CPU sessions
  ).action(
    action(async (ids: string[], opts: GlobalOptions & { force?: boolean }) => {
      if (ids.includes('')) throw new FacectlError(ExitCode.USAGE, 'a model id is empty: give built-in model ids, or none for all of them');
      const { prepareModel } = await import('../models/cache.js');
      const wanted = ids.length ? ids : [...BUILTIN_MODEL_IDS];
      const results = [];
      const failed: FacectlError[] = [];
      // One model that cannot be made (its package not installed) does not keep the others from being prepared.
      for (const id of wanted) {
        const t0 = performance.now();
        try {
          const r = await prepareModel(id, { force: opts.force });
          results.push({ ...r, ms: Math.round(performance.now() - t0) });
          note(opts.json ? { quiet: true } : opts, `${id}: ${r.converted ? 'converted' : r.shipped ? 'shipped' : 'cached'} ${r.path}`);
        } catch (err) {
          // One model asked for: its error is the one line (a summary of "1 of 1" would only repeat it).
          if (!(err instanceof FacectlError) || wanted.length === 1) throw err;
          failed.push(err);
          note(opts, `${id}: ${err.oneLine()}`);
        }
      }
      if (opts.json) printJson(results);
      if (failed.length) throw new FacectlError(failed[0]!.code, `${failed.length} of ${wanted.length} model(s) not prepared; first: ${failed[0]!.oneLine()}`);
    }),
  );

  withGlobalOptions(
    models
      .command('add')
      .description('register your own embedder (ONNX or TFLite, 112×112 ArcFace-style, one output vector) or ONNX detector (SCRFD with keypoints, YOLOv5-face)')
      .argument('<file>', 'the .onnx or .tflite file (a TFLite model is converted to ONNX once, here)')
      .option('--id <id>', 'name to use with --model (default: the file name)')
      .option('--mean <m>', 'input = (pixel − mean) / std; default 127.5')
      .option('--std <s>', 'default 127.5')
      .option('--bgr', 'the model expects BGR channel order (default RGB)')
      .option('--no-flip', 'do not add the mirrored face embedding'),
    { runsModels: false }, // the model's check runs in its own one-thread CPU session
  ).action(
    action(async (file: string, opts: GlobalOptions & { id?: string; mean?: string; std?: string; bgr?: boolean; flip: boolean }) => {
      const std = numberOption('--std', opts.std, 1e-6, 1e6);
      const { addUserModel } = await import('../models/user-models.js');
      const spec = await addUserModel(file, {
        id: opts.id,
        mean: numberOption('--mean', opts.mean, -1e6, 1e6),
        std,
        channels: opts.bgr ? 'BGR' : 'RGB',
        flip: opts.flip,
      });
      if (opts.json) return printJson(spec);
      if ('family' in spec) process.stdout.write(`added ${spec.id}: ${spec.description}\nuse it with --detector ${spec.id}\n`);
      else process.stdout.write(`added ${spec.id}: ${spec.description}\nuse it with --model ${spec.id}; calibrate a threshold with \`facectl eval --model ${spec.id} --calibrate\`\n`);
    }),
  );

  withGlobalOptions(
    models
      .command('prune')
      .description('delete what the models cache and the eval embedding cache hold that this install can no longer use (other versions, other CPUs, removed models); all of it is made again when needed')
      .option('--dry-run', 'list what would be deleted, delete nothing'),
    { runsModels: false },
  ).action(
    action(async (opts: GlobalOptions & { dryRun?: boolean }) => {
      const dryRun = !!opts.dryRun;
      const models = await (await import('../models/prune.js')).pruneModelsCache({ dryRun });
      const embeddings = await (await import('../app/prune-eval-cache.js')).pruneEvalCache({ dryRun });
      const removed = [...models.removed, ...embeddings.removed];
      const report = { ...models, cacheDir: embeddings.cacheDir, removed, freedBytes: removed.reduce((n, r) => n + r.bytes, 0) };
      if (opts.json) return printJson(report);
      const byReason = new Map<string, { files: number; bytes: number }>();
      for (const r of report.removed) {
        const entry = byReason.get(r.reason) ?? { files: 0, bytes: 0 };
        byReason.set(r.reason, { files: entry.files + 1, bytes: entry.bytes + r.bytes });
      }
      const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
      if (byReason.size) process.stdout.write(table(['why', 'entries', 'MB'], [...byReason].map(([why, e]) => [why, e.files, mb(e.bytes)])) + '\n');
      process.stdout.write(`${report.dryRun ? 'would free' : 'freed'} ${mb(report.freedBytes)} MB in ${report.modelsDir} and ${report.cacheDir}\n`);
    }),
  );

  withGlobalOptions(models.command('remove').description('unregister a user model; delete its copy and the files derived from it in the models cache').argument('<id>'), { runsModels: false }).action(
    action(async (id: string, opts: GlobalOptions) => {
      const { removeUserModel } = await import('../models/user-models.js');
      const { builtinRemains } = await removeUserModel(id);
      if (opts.json) printJson({ removed: id, builtinRemains });
      else process.stdout.write(builtinRemains ? `removed your model ${id}; the built-in ${id} is unaffected\n` : `removed ${id}\n`);
    }),
  );
}
