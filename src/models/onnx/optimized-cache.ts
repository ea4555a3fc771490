/**
 * onnxruntime's own optimized form of each model (graph fusions and the NCHWc layout, level 'all'),
 * kept in the models cache so that later processes load it with optimization off instead of optimizing
 * again: creating the four sessions of a login took ~145 ms optimizing and ~100 ms from stored graphs
 * (a throwaway timing, 2026-12-07; `npm run bench:cold-start` measures the whole command).
 *
 * onnxruntime says such a graph may hold hardware-specific choices and belongs to the environment that
 * made it, so the key is the sha256 of the model's bytes together with onnxruntime's version and this
 * CPU's identity and instruction sets (`optimizationEnvironment`): another machine sharing the cache, or
 * another onnxruntime, gets its own entry. CPU only; other execution providers optimize as before.
 *
 * `<dir>/<key>.onnx` is the graph onnxruntime wrote, `<key>.json` its size and sha256; a stored graph is
 * used only when both match. A missing or damaged entry, a folder that cannot be written, or a stored
 * graph onnxruntime refuses all mean a normal session, stored when possible. The cache only saves time:
 * outputs are the same to the bit (test/models/optimized-cache.test.ts). Nothing is read from or written
 * into a folder someone else could have written (cache-safety.ts): a graph planted there with a matching
 * record would be run as the model.
 */
import { createHash } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { access, chmod, readdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { inspectCacheDir, parentRoot, readableCacheDir, readCacheJson, writableCacheDir, type CacheRoot } from '../cache-safety.js';
import { contentRecord, readIntact, readJsonFile, removeAbandonedTemps, sha256, tempNameFor, writeFileAtomic, type ContentRecord } from '../file-record.js';

/** Bump when what is stored changes meaning: older entries are then ignored. */
export const OPTIMIZED_CACHE_VERSION = 1;

export type OptimizedOrigin = 'cache' | 'stored' | 'not-stored';

interface StoredRecord extends ContentRecord {
  /** sha256 of the model it was made from (what `forgetOptimized` looks for). */
  model: string;
}

let environment: string | undefined;

/**
 * What an optimized graph depends on besides the model: onnxruntime's version, the architecture, and on
 * Linux the CPU's vendor, model and flags (the instruction sets onnxruntime picks kernels and block
 * sizes by); elsewhere the CPU model name as Node reports it.
 */
export function optimizationEnvironment(): string {
  if (environment) return environment;
  const version = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const first = readFileSync('/proc/cpuinfo', 'utf8').split(/\n\s*\n/)[0]!;
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(first)?.[1]?.trim() ?? '';
    cpu = [field('vendor_id'), field('model name'), field('flags') || field('Features')].join('|');
  } catch {
    // not Linux: the model name above
  }
  environment = JSON.stringify({ v: OPTIMIZED_CACHE_VERSION, ort: version, arch: process.arch, platform: process.platform, cpu });
  return environment;
}

/** The cache key of a model's optimized graph in an environment (hex sha256). */
export const optimizedKey = (modelSha256: string, env: string = optimizationEnvironment()): string =>
  createHash('sha256').update(`${modelSha256}\n${env}`).digest('hex');

/**
 * A CPU session for `model` (an ONNX file's bytes) with `options` (graph optimization 'all'): from the
 * optimized graph stored in `dir` when there is a sound one, else optimized now and stored.
 * `modelSha256`, when the caller already knows it, saves hashing the model again. `root`: the models
 * cache's root (derivedDirs), down to which every folder is checked.
 */
export async function openOptimizedSession(
  model: Uint8Array,
  options: ort.InferenceSession.SessionOptions,
  dir: string,
  modelSha256: string = sha256(model),
  root: CacheRoot = parentRoot(dir),
): Promise<{ session: ort.InferenceSession; origin: OptimizedOrigin }> {
  const base = path.join(dir, optimizedKey(modelSha256));
  const stored = (await readableCacheDir(dir, root)) ? await readStored(base) : undefined;
  if (stored) {
    const session = await ort.InferenceSession.create(stored, { ...options, graphOptimizationLevel: 'disabled' }).catch(() => undefined);
    if (session) return { session, origin: 'cache' };
  }
  const tmp = await writableTemp(dir, root, base);
  try {
    if (tmp) {
      const session = await ort.InferenceSession.create(model, { ...options, optimizedModelFilePath: tmp }).catch(() => undefined);
      if (session) {
        const saved = await keep(tmp, base, modelSha256).then(() => true, () => false);
        return { session, origin: saved ? 'stored' : 'not-stored' };
      }
    }
    // No writable cache, or onnxruntime could not write its graph there: a plain session (and, for a
    // model that cannot run at all, onnxruntime's own error).
    return { session: await ort.InferenceSession.create(model, options), origin: 'not-stored' };
  } finally {
    if (tmp) await rm(tmp, { force: true });
  }
}

async function readStored(base: string): Promise<Uint8Array | undefined> {
  const record = await readCacheJson<StoredRecord>(`${base}.json`);
  return record ? readIntact(`${base}.onnx`, record) : undefined; // JSON null: no record
}

/** A temporary name in `dir` for onnxruntime to write to, or undefined when `dir` cannot be made or written, or is not only ours. */
async function writableTemp(dir: string, root: CacheRoot, base: string): Promise<string | undefined> {
  try {
    if (!(await writableCacheDir(dir, root, 0o700))) return undefined;
    await access(dir, constants.W_OK); // else onnxruntime would optimize once to fail writing, then again
    await removeAbandonedTemps(dir);
    return tempNameFor(base, '.onnx');
  } catch {
    return undefined;
  }
}

/** The graph first, then its record: a record never names a file that is not complete. */
async function keep(tmp: string, base: string, model: string): Promise<void> {
  const bytes = await readFile(tmp);
  await chmod(tmp, 0o600); // onnxruntime wrote it with the umask's mode
  await rename(tmp, `${base}.onnx`);
  const record: StoredRecord = { ...contentRecord(bytes), model };
  await writeFileAtomic(`${base}.json`, `${JSON.stringify(record)}\n`, 0o600);
}

/** A stored graph's files, its key, and the model its record names (undefined when the record names none or cannot be read). */
export interface StoredGraph {
  key: string;
  model: string | undefined;
  /** `<key>.json`, and `<key>.onnx` when it exists. */
  files: string[];
}

/** Every record in `dir` (`<key>.json`) with what it names: forgetOptimized and `models prune` read them here. */
export async function storedGraphs(dir: string): Promise<StoredGraph[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const graphs: StoredGraph[] = [];
  for (const name of names.filter((n) => /^[0-9a-f]{64}\.json$/.test(n))) {
    const key = name.slice(0, 64);
    const record = await readJsonFile<Partial<StoredRecord>>(path.join(dir, name));
    const model = typeof record?.model === 'string' && /^[0-9a-f]{64}$/.test(record.model) ? record.model : undefined;
    graphs.push({ key, model, files: [path.join(dir, name), ...(names.includes(`${key}.onnx`) ? [path.join(dir, `${key}.onnx`)] : [])] });
  }
  return graphs;
}

/**
 * Deletes the optimized graphs made from these models (sha256 of the bytes given to onnxruntime), for
 * every environment, when the model they came from is removed (`facectl models remove`).
 */
export async function forgetOptimized(dir: string, modelSha256s: readonly string[], root: CacheRoot = parentRoot(dir)): Promise<number> {
  if ((await inspectCacheDir(dir, root)).state !== 'ok') return 0; // missing, or not ours to clean (never through a link)
  let removed = 0;
  for (const graph of await storedGraphs(dir)) {
    if (!graph.model || !modelSha256s.includes(graph.model)) continue;
    for (const file of graph.files) await rm(file, { force: true });
    removed++;
  }
  return removed;
}
