/**
 * Built-in models are converted on first use and cached as `<modelsDir>/<id>.onnx`, with a sidecar
 * `<id>.json.sha256` (JSON) recording the ONNX file's sha256, the sha256 of every source file and the
 * converter version, plus each file's size and mtime. Every prepareModel call checks the cache, so a
 * truncated or edited file, an updated npm package or a newer converter triggers a rebuild. The default
 * 'fast' check re-hashes only files whose size or mtime changed (hashing the 22 MB dlib model on every
 * CLI start would cost ~0.1 s); `verify: 'full'` re-hashes everything. Files are written to a temporary
 * name and renamed into place, so concurrent converters never expose a partial file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode, FacectlError } from '../errors.js';
import { BUILTIN_MODEL_IDS, CONVERTER_VERSION, getBuiltinModel, isBuiltinModelId, type BuiltinModelId } from './builtin.js';

export interface PreparedModel {
  id: BuiltinModelId;
  /** Absolute path of the ready ONNX file. */
  path: string;
  /** sha256 (hex) of the ONNX file's bytes. */
  sha256: string;
  /** True when this call converted the model (first use, or the cache was missing, corrupt or stale). */
  converted: boolean;
}

export interface PrepareOptions {
  /** Where the .onnx files live; default FACECTL_MODELS_DIR, else `<package root>/models`. */
  modelsDir?: string;
  /** Convert even when the cache is valid. */
  force?: boolean;
  /** 'fast' (default): trust files whose size and mtime match the sidecar; 'full': re-hash every file. */
  verify?: 'fast' | 'full';
}

export type CacheState = 'ok' | 'missing' | 'corrupt' | 'stale';

/** A file as the sidecar records it: its hash, plus size and mtime for the fast check. */
interface FileRecord {
  file: string;
  sha256: string;
  bytes: number;
  mtimeMs: number;
}

interface Sidecar {
  id: string;
  converterVersion: string;
  onnx: FileRecord;
  sources: FileRecord[];
  createdAt: string;
}

/** The facectl package root: the nearest folder above this file whose package.json is facectl's. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'facectl') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new FacectlError(ExitCode.INTERNAL, 'cannot find the facectl package root');
    dir = parent;
  }
}

export function resolveModelsDir(override?: string): string {
  return path.resolve(override ?? process.env.FACECTL_MODELS_DIR ?? path.join(packageRoot(), 'models'));
}

export const modelPaths = (id: BuiltinModelId, modelsDir: string) => ({
  onnx: path.join(modelsDir, `${id}.onnx`),
  sidecar: path.join(modelsDir, `${id}.json.sha256`),
});

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Source files are named from node_modules down, so a moved checkout keeps its cache. */
const sourceLabel = (file: string): string => {
  const parts = file.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  return at >= 0 ? parts.slice(at + 1).join('/') : file;
};

/**
 * Size, mtime and sha256 of a file. In the fast mode the hash is taken from `trusted` when it records
 * the same size and mtime, else from a per-process memo keyed by (path, size, mtime); 'full' always reads.
 */
const hashMemo = new Map<string, string>();
async function recordFile(file: string, label: string, trusted: FileRecord | undefined, full: boolean): Promise<FileRecord> {
  const info = await stat(file);
  if (!full && trusted && trusted.bytes === info.size && trusted.mtimeMs === info.mtimeMs) return { ...trusted, file: label };
  const key = `${file}|${info.size}|${info.mtimeMs}`;
  let digest = full ? undefined : hashMemo.get(key);
  if (!digest) {
    digest = sha256(await readFile(file));
    hashMemo.set(key, digest);
  }
  return { file: label, sha256: digest, bytes: info.size, mtimeMs: info.mtimeMs };
}

async function recordSources(id: BuiltinModelId, trusted: FileRecord[], full: boolean): Promise<FileRecord[]> {
  return Promise.all(
    getBuiltinModel(id).sources.map((file) => {
      const label = sourceLabel(file);
      if (!existsSync(file)) throw new FacectlError(ExitCode.MODEL_ERROR, 'model source missing from node_modules (reinstall facectl)', file);
      return recordFile(file, label, trusted.find((t) => t.file === label), full);
    }),
  );
}

async function readSidecar(file: string): Promise<Sidecar | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Sidecar;
    return typeof parsed?.onnx?.sha256 === 'string' && Array.isArray(parsed.sources) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

const sameHashes = (a: FileRecord[], b: FileRecord[]) =>
  a.length === b.length && a.every((r, i) => r.file === b[i]!.file && r.sha256 === b[i]!.sha256);

/** Checks the cached model without converting; also returns the ONNX sha256 when it is valid. */
export async function checkCachedModel(id: BuiltinModelId, options: PrepareOptions = {}): Promise<{ state: CacheState; sha256?: string }> {
  const paths = modelPaths(id, resolveModelsDir(options.modelsDir));
  if (!existsSync(paths.onnx)) return { state: 'missing' };
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
    await writeFileAtomic(paths.sidecar, `${JSON.stringify({ ...sidecar, onnx, sources }, null, 2)}\n`).catch(() => undefined);
  }
  return { state: 'ok', sha256: onnx.sha256 };
}

/** Writes `bytes` to `file` through a unique temporary name in the same folder and an atomic rename. */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function convertAndStore(id: BuiltinModelId, modelsDir: string): Promise<PreparedModel> {
  const model = getBuiltinModel(id);
  const sources = await recordSources(id, [], false);
  let bytes: Uint8Array;
  try {
    bytes = model.convert().bytes;
  } catch (err) {
    if (err instanceof FacectlError) throw err;
    throw new FacectlError(ExitCode.MODEL_ERROR, `cannot convert built-in model ${id}: ${(err as Error).message}`);
  }
  const digest = sha256(bytes);
  const paths = modelPaths(id, modelsDir);
  try {
    await mkdir(modelsDir, { recursive: true });
    await writeFileAtomic(paths.onnx, bytes);
    const info = await stat(paths.onnx);
    const onnx: FileRecord = { file: path.basename(paths.onnx), sha256: digest, bytes: bytes.byteLength, mtimeMs: info.mtimeMs };
    const sidecar: Sidecar = { id, converterVersion: CONVERTER_VERSION, onnx, sources, createdAt: new Date().toISOString() };
    await writeFileAtomic(paths.sidecar, `${JSON.stringify(sidecar, null, 2)}\n`);
  } catch (err) {
    throw new FacectlError(
      ExitCode.MODEL_ERROR,
      `cannot write the converted model (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); set FACECTL_MODELS_DIR to a writable folder`,
      paths.onnx,
    );
  }
  return { id, path: paths.onnx, sha256: digest, converted: true };
}

/** Concurrent calls for the same model in one process share one conversion. */
const inFlight = new Map<string, Promise<PreparedModel>>();

/** The ONNX file of built-in model `id`, converted now if the cache is missing, corrupt or stale. */
export async function prepareModel(id: string, options: PrepareOptions = {}): Promise<PreparedModel> {
  if (!isBuiltinModelId(id)) {
    throw new FacectlError(ExitCode.MODEL_ERROR, `unknown built-in model "${id}" (known: ${BUILTIN_MODEL_IDS.join(', ')})`);
  }
  const modelsDir = resolveModelsDir(options.modelsDir);
  const key = `${modelsDir}|${id}|${options.verify ?? 'fast'}|${options.force ?? false}`;
  const running = inFlight.get(key);
  if (running) return running;
  const job = (async () => {
    if (!options.force) {
      const cached = await checkCachedModel(id, { modelsDir, verify: options.verify });
      if (cached.state === 'ok') return { id, path: modelPaths(id, modelsDir).onnx, sha256: cached.sha256!, converted: false };
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
