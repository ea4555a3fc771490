/**
 * `facectl models prune`: deletes from the models cache what this install can no longer use, which
 * otherwise stays forever (a few MB to ~60 MB each time):
 *  - converted models of other converter versions (sibling `v<N>` folders of the default cache) and of
 *    models no longer built in;
 *  - onnxruntime optimized graphs (`ort/`) made for another onnxruntime version or another CPU, or made
 *    from a model that is no longer built in, shipped or registered;
 *  - PRelu rewrites (`prelu/`) of such models, or of an older rewrite version;
 *  - temporary files left by writers killed mid-write (untouched for an hour).
 * Only names facectl writes are touched: anything else in the folder stays, and a folder someone else
 * could have written, or a link to one, is not looked into (cache-safety.ts; a warning says so). Everything removed is
 * derived and is made again on first use, so pruning never loses data; it costs the next start of
 * another install sharing the cache (another version, or another machine) its own entries.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { BUILTIN_MODEL_IDS, CONVERTER_VERSION } from './builtin.js';
import { derivedDirs, modelPaths, resolveModelsDir } from './cache.js';
import { readableCacheDir } from './cache-safety.js';
import { findAbandonedTemps, readJsonFile } from './file-record.js';
import { optimizedKey, storedGraphs } from './onnx/optimized-cache.js';
import { parseRewriteName, PRELU_REWRITE_VERSION } from './onnx/prelu-cache.js';
import { readShippedManifest } from './shipped.js';
import { listUserDetectors, listUserModels, readUserModels } from './user-models.js';

export interface PrunedEntry {
  path: string;
  bytes: number;
  reason: string;
}

export interface PruneReport {
  modelsDir: string;
  dryRun: boolean;
  removed: PrunedEntry[];
  /** Bytes removed (or, with dryRun, that would be). */
  freedBytes: number;
}

/** Bytes of a file, or of everything under a folder (0 when it is gone). */
export async function sizeOf(target: string): Promise<number> {
  const info = await stat(target).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(target)) total += await sizeOf(path.join(target, name));
  return total;
}

/**
 * The sha256 of each built-in model's ONNX file as far as known without converting anything: the one
 * converted into `modelsDir` (its sidecar) and the one the package ships. A model never converted here
 * and not shipped has none.
 */
export async function knownBuiltinShas(modelsDir: string = resolveModelsDir()): Promise<Map<string, Set<string>>> {
  const shas = new Map<string, Set<string>>(BUILTIN_MODEL_IDS.map((id) => [id, new Set<string>()]));
  for (const id of BUILTIN_MODEL_IDS) {
    const sidecar = (await readJsonFile(modelPaths(id, modelsDir).sidecar)) as { onnx?: { sha256?: string } } | undefined;
    if (sidecar?.onnx?.sha256) shas.get(id)!.add(sidecar.onnx.sha256);
  }
  for (const [id, m] of Object.entries(readShippedManifest()?.models ?? {})) shas.get(id)?.add(m.sha256);
  return shas;
}

/** sha256 of every model file this install may run: built-ins converted here, shipped ones, the user's. */
async function modelsInUse(modelsDir: string): Promise<Set<string>> {
  const shas = new Set<string>();
  for (const set of (await knownBuiltinShas(modelsDir)).values()) for (const sha of set) shas.add(sha);
  for (const m of Object.values(readShippedManifest()?.models ?? {})) shas.add(m.sha256);
  for (const spec of [...(await listUserModels()), ...(await listUserDetectors())]) if ('sha256' in spec.source) shas.add(spec.source.sha256);
  return shas;
}

export async function pruneModelsCache(options: { dryRun?: boolean; modelsDir?: string } = {}): Promise<PruneReport> {
  // A user models folder someone else could write refuses (exit 13): pruning by what it lists could delete
  // the derived files of models that are still registered.
  await readUserModels();
  const dryRun = options.dryRun ?? false;
  const modelsDir = options.modelsDir ?? resolveModelsDir();
  const removed: PrunedEntry[] = [];
  const remove = async (target: string, reason: string) => {
    const bytes = await sizeOf(target);
    if (!dryRun) await rm(target, { recursive: true, force: true });
    removed.push({ path: target, bytes, reason });
  };

  const { prelu: preluDir, ort: ortDir, root: cacheRoot } = derivedDirs(modelsDir);
  /** The names in `dir` when it is ours alone; undefined for a missing folder, or one someone else could have written (checked from the root down). */
  const ours = async (dir: string): Promise<string[] | undefined> =>
    (await readableCacheDir(dir, cacheRoot)) ? readdir(dir).catch(() => [] as string[]) : undefined;

  // Other converter versions: only in the default layout, where the folder is `…/facectl/models/v<N>`.
  if (!options.modelsDir && !process.env.FACECTL_MODELS_DIR && path.basename(modelsDir) === `v${CONVERTER_VERSION}`) {
    const root = path.dirname(modelsDir);
    for (const name of (await ours(root)) ?? [])
      if (/^v\d+$/.test(name) && name !== `v${CONVERTER_VERSION}`) await remove(path.join(root, name), `models converted by another facectl version (converter ${name.slice(1)})`);
  }

  // Conversions of models no longer built in: `<id>.onnx` with the `<id>.json.sha256` sidecar facectl wrote.
  const inModelsDir = await ours(modelsDir);
  for (const name of inModelsDir ?? []) {
    const id = name.endsWith('.json.sha256') ? name.slice(0, -'.json.sha256'.length) : undefined;
    if (!id || (BUILTIN_MODEL_IDS as readonly string[]).includes(id)) continue;
    const sidecar = await readJsonFile(path.join(modelsDir, name));
    if (sidecar?.id !== id || typeof sidecar.converterVersion !== 'string') continue; // not one of ours
    await remove(path.join(modelsDir, `${id}.onnx`), `converted model "${id}", no longer built in`);
    await remove(path.join(modelsDir, name), `converted model "${id}", no longer built in`);
  }

  const inUse = await modelsInUse(modelsDir);

  // PRelu rewrites: `<model sha>.<folded|split>.v<version>.(json|onnx)`; kept ones name the graphs onnxruntime may be given.
  const runnable = new Set(inUse);
  const inPrelu = await ours(preluDir);
  for (const name of (inPrelu ?? []).sort()) {
    const parsed = parseRewriteName(name);
    if (!parsed) continue;
    const { model, version, ext } = parsed;
    const reason = !inUse.has(model) ? 'PRelu rewrite of a model no longer in use' : version !== PRELU_REWRITE_VERSION ? 'PRelu rewrite of an older rewrite version' : undefined;
    if (reason) await remove(path.join(preluDir, name), reason);
    else if (ext === 'json') {
      const record = await readJsonFile(path.join(preluDir, name));
      if (typeof record?.sha256 === 'string') runnable.add(record.sha256);
    }
  }

  // onnxruntime's optimized graphs: `<key>.json` names its source model; the key says for which environment.
  const inOrt = await ours(ortDir);
  const ortNames = inOrt ?? [];
  for (const { key, model, files } of ortNames.length ? await storedGraphs(ortDir) : []) {
    const reason = !model
      ? 'optimized graph whose record names no model (written before facectl recorded it)'
      : !runnable.has(model)
        ? 'optimized graph of a model no longer in use'
        : optimizedKey(model) !== key
          ? 'optimized graph made for another onnxruntime version or CPU'
          : undefined;
    if (reason) for (const file of files) await remove(file, reason);
  }
  // A graph whose record never got written (a writer killed between the two renames).
  for (const name of ortNames.filter((n) => /^[0-9a-f]{64}\.onnx$/.test(n) && !ortNames.includes(`${n.slice(0, 64)}.json`)))
    await remove(path.join(ortDir, name), 'optimized graph without a record');

  // Only in the folders found ours above.
  for (const [dir, names] of [[modelsDir, inModelsDir], [preluDir, inPrelu], [ortDir, inOrt]] as const)
    if (names) for (const { file } of await findAbandonedTemps(dir)) await remove(file, 'temporary file of a writer killed mid-write');
  return { modelsDir, dryRun, removed, freedBytes: removed.reduce((n, r) => n + r.bytes, 0) };
}
