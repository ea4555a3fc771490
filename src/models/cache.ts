/**
 * Where a built-in model's ONNX file comes from: the package's shipped models/ (shipped.ts, made by
 * `npm pack`) when valid, else this conversion cache. Models are converted on first use and cached as
 * `<modelsDir>/<id>.onnx` (modelsDir: FACECTL_MODELS_DIR, else the per-user cache
 * `$XDG_CACHE_HOME/facectl/models/v<converter>`, else `~/.cache/…`; never the install folder), with a sidecar
 * `<id>.json.sha256` (JSON) recording the ONNX file's sha256, the sha256 of every source file and the
 * converter version, plus each file's size and mtime. Every prepareModel call checks the cache, so a
 * truncated or edited file, an updated npm package or a newer converter triggers a rebuild. The default
 * 'fast' check re-hashes only files whose size or mtime changed (hashing the 22 MB dlib model on every
 * CLI start would cost ~0.1 s); `verify: 'full'` re-hashes everything. Files are written to a temporary
 * name and renamed into place, so concurrent converters never expose a partial file.
 *
 * A file here is run as the model when it matches its sidecar, and whoever can write the folder writes
 * both: a cache someone else could have written (cache-safety.ts) is not used, and a model is converted
 * into a private temporary folder of this process instead (removed at exit), with a one-line warning.
 */
import { existsSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { xdgDir } from '../xdg.js';
import { BUILTIN_MODEL_IDS, CONVERTER_VERSION, getBuiltinModel, isBuiltinModelId, type BuiltinModelId } from './builtin.js';
import { inspectCacheDir, readCacheJson, trustedCacheFile, warnUnsafeCache, writableCacheDir, type CacheRoot } from './cache-safety.js';
import { recordFile, removeAbandonedTemps, sha256, writeFileAtomic, type FileRecord } from './file-record.js';
import { checkShippedModel, defaultShippedDir } from './shipped.js';

export { writeFileAtomic } from './file-record.js';

export interface PreparedModel {
  id: BuiltinModelId;
  /** Absolute path of the ready ONNX file. */
  path: string;
  /** sha256 (hex) of the ONNX file's bytes. */
  sha256: string;
  /** True when this call converted the model (first use, or the cache was missing, corrupt or stale). */
  converted: boolean;
  /** True when the file is the one shipped in the package (models/ with its manifest). */
  shipped: boolean;
}

export interface PrepareOptions {
  /** The conversion cache folder; default resolveModelsDir(). Given explicitly, shipped models are not consulted. */
  modelsDir?: string;
  /** The shipped models folder (default `<package root>/models` unless modelsDir is given); null: none. */
  shippedDir?: string | null;
  /** Convert even when the cache is valid. */
  force?: boolean;
  /** 'fast' (default): trust files whose size and mtime match the sidecar; 'full': re-hash every file. */
  verify?: 'fast' | 'full';
}

/** 'unsafe': the cache folder, or one above it up to its root, may have been written by someone else (not used). */
export type CacheState = 'ok' | 'missing' | 'corrupt' | 'stale' | 'unsafe';

interface Sidecar {
  id: string;
  converterVersion: string;
  onnx: FileRecord;
  sources: FileRecord[];
  createdAt: string;
}

/** The XDG cache home: `$XDG_CACHE_HOME` when absolute (the spec ignores a relative one), else ~/.cache. */
const xdgCacheHome = (env: NodeJS.ProcessEnv): string => path.resolve(xdgDir('cache', env));

/** The conversion cache: FACECTL_MODELS_DIR, else `$XDG_CACHE_HOME/facectl/models/v<converter>`, else under ~/.cache. */
export function resolveModelsDir(override?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (override) return path.resolve(override);
  if (env.FACECTL_MODELS_DIR) return path.resolve(env.FACECTL_MODELS_DIR);
  // Per converter version, so checkouts of different versions sharing one home never rebuild each other's files.
  return path.join(xdgCacheHome(env), 'facectl', 'models', `v${CONVERTER_VERSION}`);
}

/**
 * The root of the models cache `modelsDir` (cache-safety.ts checks every folder from it down): the XDG
 * cache home for the default `…/facectl/models/v<N>` (made 0700 when missing, as the XDG spec asks),
 * else the models folder itself (FACECTL_MODELS_DIR, or one given to prepareModel; made 0755).
 */
function modelsCacheRoot(modelsDir: string = resolveModelsDir(), env: NodeJS.ProcessEnv = process.env): CacheRoot {
  const dir = path.resolve(modelsDir);
  if (!env.FACECTL_MODELS_DIR && dir === resolveModelsDir(undefined, env)) return { path: xdgCacheHome(env), mode: 0o700 };
  return { path: dir, mode: 0o755 };
}

/** The folders of files derived from models, inside the models cache: PRelu rewrites and onnxruntime's optimized graphs; and the cache's root. */
export const derivedDirs = (modelsDir: string = resolveModelsDir()) => ({
  prelu: path.join(modelsDir, 'prelu'),
  ort: path.join(modelsDir, 'ort'),
  root: modelsCacheRoot(modelsDir),
});

export const modelPaths = (id: BuiltinModelId, modelsDir: string) => ({
  onnx: path.join(modelsDir, `${id}.onnx`),
  sidecar: path.join(modelsDir, `${id}.json.sha256`),
});

/** Source files are named from node_modules down, so a moved checkout keeps its cache. */
export const sourceLabel = (file: string): string => {
  const parts = file.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  return at >= 0 ? parts.slice(at + 1).join('/') : file;
};

async function recordSources(id: BuiltinModelId, trusted: FileRecord[], full: boolean): Promise<FileRecord[]> {
  return Promise.all(
    getBuiltinModel(id).sources.map((file) => {
      const label = sourceLabel(file);
      if (!existsSync(file))
        throw new FacectlError(
          ExitCode.MODEL_ERROR,
          `cannot convert ${id}: its source is not installed and no valid shipped copy was found (reinstall facectl, or npm ci in a checkout)`,
          file,
        );
      return recordFile(file, label, trusted.find((t) => t.file === label), full);
    }),
  );
}

/** Built-in models' converted files and sidecars: anyone may read them, only this user may change them. */
const MODEL_FILE_MODE = 0o644;

const isRecord = (r: unknown): r is FileRecord =>
  typeof r === 'object' && r !== null && typeof (r as FileRecord).file === 'string' && typeof (r as FileRecord).sha256 === 'string' && typeof (r as FileRecord).bytes === 'number';

async function readSidecar(file: string): Promise<Sidecar | undefined> {
  const parsed = await readCacheJson<Sidecar>(file);
  // Every record checked: a damaged one is a corrupt cache entry (rebuilt), not a crash further on.
  return isRecord(parsed?.onnx) && Array.isArray(parsed.sources) && parsed.sources.every(isRecord) ? parsed : undefined;
}

const sameHashes = (a: FileRecord[], b: FileRecord[]) =>
  a.length === b.length && a.every((r, i) => r.file === b[i]!.file && r.sha256 === b[i]!.sha256);

/** Checks the cached model without converting; also returns the ONNX sha256 when it is valid. */
export async function checkCachedModel(id: BuiltinModelId, options: PrepareOptions = {}): Promise<{ state: CacheState; sha256?: string }> {
  const modelsDir = resolveModelsDir(options.modelsDir);
  const where = await inspectCacheDir(modelsDir, modelsCacheRoot(modelsDir));
  if (where.state === 'unsafe') {
    warnUnsafeCache(where);
    return { state: 'unsafe' };
  }
  const paths = modelPaths(id, modelsDir);
  if (where.state === 'missing' || !existsSync(paths.onnx)) return { state: 'missing' };
  // A link, or a file someone else could change: converted again (the new file replaces it, not what it points to).
  if (!(await trustedCacheFile(paths.onnx))) return { state: 'corrupt' };
  const sidecar = await readSidecar(paths.sidecar);
  if (!sidecar) return { state: 'corrupt' };
  const full = options.verify === 'full';
  const onnx = await recordFile(paths.onnx, sidecar.onnx.file, sidecar.onnx, full);
  if (onnx.bytes !== sidecar.onnx.bytes || onnx.sha256 !== sidecar.onnx.sha256) return { state: 'corrupt' };
  if (sidecar.converterVersion !== CONVERTER_VERSION) return { state: 'stale' };
  const sources = await recordSources(id, sidecar.sources, full);
  if (!sameHashes(sources, sidecar.sources)) return { state: 'stale' };
  // Same content, touched files (npm reinstall, copy): record the new mtimes so the next check is fast again.
  if (onnx.mtimeMs !== sidecar.onnx.mtimeMs || sources.some((r, i) => r.mtimeMs !== sidecar.sources[i]!.mtimeMs)) {
    await writeFileAtomic(paths.sidecar, `${JSON.stringify({ ...sidecar, onnx, sources }, null, 2)}\n`, MODEL_FILE_MODE).catch(() => undefined);
  }
  return { state: 'ok', sha256: onnx.sha256 };
}

async function convert(id: BuiltinModelId): Promise<{ bytes: Uint8Array; sources: FileRecord[] }> {
  const sources = await recordSources(id, [], false);
  try {
    return { bytes: (await getBuiltinModel(id).convert()).bytes, sources };
  } catch (err) {
    if (err instanceof FacectlError) throw err;
    throw new FacectlError(ExitCode.MODEL_ERROR, `cannot convert built-in model ${id}: ${(err as Error).message}`);
  }
}

let privateFolder: Promise<string> | undefined;

/** This process's own folder for models converted while the cache is unsafe: 0700 in the temporary folder, removed at exit. */
function processModelsFolder(): Promise<string> {
  privateFolder ??= (async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'facectl-models-'));
    await chmod(dir, 0o700);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  })();
  return privateFolder;
}

const privateConversions = new Map<BuiltinModelId, PreparedModel>();

/** Model `id` converted for this process only (the cache may not be used): a private file, not stored in the cache. */
async function convertPrivately(id: BuiltinModelId, converted?: Uint8Array): Promise<PreparedModel> {
  const done = privateConversions.get(id);
  if (done && !converted && (await trustedCacheFile(done.path))) return { ...done, converted: false };
  const bytes = converted ?? (await convert(id)).bytes;
  const file = path.join(await processModelsFolder(), `${id}.onnx`);
  await writeFileAtomic(file, bytes, 0o600);
  const prepared: PreparedModel = { id, path: file, sha256: sha256(bytes), converted: true, shipped: false };
  privateConversions.set(id, prepared);
  return prepared;
}

async function convertAndStore(id: BuiltinModelId, modelsDir: string): Promise<PreparedModel> {
  const { bytes, sources } = await convert(id);
  const digest = sha256(bytes);
  const paths = modelPaths(id, modelsDir);
  try {
    // Readable by all (a shared FACECTL_MODELS_DIR), writable by this user only, whatever the umask: a model
    // another user could replace, together with its sidecar, would be run as ours. The folders on the way
    // are made 0755 too (the XDG cache home 0700), and one someone else could write is not used.
    if (!(await writableCacheDir(modelsDir, modelsCacheRoot(modelsDir), 0o755))) return convertPrivately(id, bytes);
    await removeAbandonedTemps(modelsDir); // what a conversion killed mid-write left (up to 22 MB each)
    await writeFileAtomic(paths.onnx, bytes, MODEL_FILE_MODE);
    const info = await stat(paths.onnx);
    const onnx: FileRecord = { file: path.basename(paths.onnx), sha256: digest, bytes: bytes.byteLength, mtimeMs: info.mtimeMs };
    const sidecar: Sidecar = { id, converterVersion: CONVERTER_VERSION, onnx, sources, createdAt: new Date().toISOString() };
    await writeFileAtomic(paths.sidecar, `${JSON.stringify(sidecar, null, 2)}\n`, MODEL_FILE_MODE);
  } catch (err) {
    throw new FacectlError(
      ExitCode.MODEL_ERROR,
      `cannot write the converted model (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); set FACECTL_MODELS_DIR to a writable folder`,
      paths.onnx,
    );
  }
  return { id, path: paths.onnx, sha256: digest, converted: true, shipped: false };
}

/** Where the shipped files verified by this user are remembered (shipped.ts): in the models cache, checked as it is. */
const memoOf = (modelsDir: string) => ({ memoFile: path.join(modelsDir, 'shipped-verified.json'), memoRoot: modelsCacheRoot(modelsDir) });

/** Concurrent calls for the same model in one process share one conversion. */
const inFlight = new Map<string, Promise<PreparedModel>>();

/** The ONNX file of built-in model `id`, converted now if the cache is missing, corrupt or stale. */
export async function prepareModel(id: string, options: PrepareOptions = {}): Promise<PreparedModel> {
  if (!isBuiltinModelId(id)) {
    throw new FacectlError(ExitCode.MODEL_ERROR, `unknown built-in model "${id}" (known: ${BUILTIN_MODEL_IDS.join(', ')})`);
  }
  const modelsDir = resolveModelsDir(options.modelsDir);
  const shippedDir = options.shippedDir !== undefined ? options.shippedDir : options.modelsDir ? null : defaultShippedDir();
  const key = `${modelsDir}|${shippedDir}|${id}|${options.verify ?? 'fast'}|${options.force ?? false}`;
  const running = inFlight.get(key);
  if (running) return running;
  const job = (async () => {
    if (!options.force && shippedDir) {
      const shipped = await checkShippedModel(id, shippedDir, { verify: options.verify, ...memoOf(modelsDir) });
      if (shipped.state === 'ok') return { id, path: shipped.path!, sha256: shipped.sha256!, converted: false, shipped: true };
    }
    if (!options.force) {
      const cached = await checkCachedModel(id, { modelsDir, verify: options.verify });
      if (cached.state === 'unsafe') return convertPrivately(id);
      if (cached.state === 'ok') return { id, path: modelPaths(id, modelsDir).onnx, sha256: cached.sha256!, converted: false, shipped: false };
    }
    return convertAndStore(id, modelsDir);
  })();
  inFlight.set(key, job);
  try {
    return await job;
  } finally {
    inFlight.delete(key);
  }
}

/** Prepares every built-in model, one after another (conversion is CPU-bound). */
export async function prepareAll(options: PrepareOptions = {}): Promise<PreparedModel[]> {
  const prepared: PreparedModel[] = [];
  for (const id of BUILTIN_MODEL_IDS) prepared.push(await prepareModel(id, options));
  return prepared;
}

export type ModelState = 'shipped' | CacheState;

/** Where model `id` would come from now, without converting: the shipped file, else the cache's state. */
export async function locateModel(id: BuiltinModelId): Promise<{ state: ModelState; path: string }> {
  const modelsDir = resolveModelsDir();
  const shipped = await checkShippedModel(id, defaultShippedDir(), memoOf(modelsDir));
  if (shipped.state === 'ok') return { state: 'shipped', path: shipped.path! };
  return { state: (await checkCachedModel(id, { modelsDir })).state, path: modelPaths(id, modelsDir).onnx };
}
