/**
 * The PRelu rewrite of a model (prelu-rewrite.ts), kept on disk so that later processes skip it: decoding,
 * rewriting and encoding an embedder takes ~30 ms, and the ONNX schema it needs takes ~20 ms to load,
 * together ~10 % of a cold `facectl login`.
 *
 * `<modelsDir>/prelu/<sha256 of the model file>.<folded|split>.v<PRELU_REWRITE_VERSION>.json` records
 * how many PRelu ops were rewritten and the size and sha256 of the rewritten model, stored beside it as
 * `….onnx` (no file when nothing was rewritten). A stored rewrite is used only when its size and sha256
 * match that record; anything else (no record, a damaged file, a folder that cannot be written) means
 * rewriting in memory as before, and storing the result when possible. The cache only saves time.
 * Nothing is read from or written into a folder someone else could have written (cache-safety.ts): a
 * rewrite planted there with a matching record would be run as the model.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { inspectCacheDir, parentRoot, readableCacheDir, readCacheJson, writableCacheDir, type CacheRoot } from '../cache-safety.js';
import { contentRecord, readIntact, readJsonFile, removeAbandonedTemps, sha256, writeFileAtomic, type ContentRecord } from '../file-record.js';
import { mayHavePrelu } from './prelu-scan.js';
import type { PreluRewrite } from './prelu-rewrite.js';

/** Bump whenever prelu-rewrite.ts or prelu-fold.ts would write other bytes: stored rewrites are then ignored. */
export const PRELU_REWRITE_VERSION = 1;

export interface CachedPreluRewrite extends PreluRewrite {
  /** 'none': the file has no PRelu; 'cache': read from disk; 'rewritten': computed now. */
  origin: 'none' | 'cache' | 'rewritten';
  /** sha256 of `bytes` when it was known without hashing them again (rewritten or stored, not 'none'). */
  sha256?: string;
}

interface StoredRecord extends ContentRecord {
  rewritten: number;
  folded: number;
}

/** What a stored rewrite's file name says: `<model sha256>.<folded|split>.v<version>.<json|onnx>` (undefined for any other name). */
export function parseRewriteName(name: string): { model: string; version: number; ext: 'json' | 'onnx' } | undefined {
  const m = /^([0-9a-f]{64})\.(?:folded|split)\.v(\d+)\.(json|onnx)$/.exec(name);
  return m ? { model: m[1]!, version: Number(m[2]), ext: m[3] as 'json' | 'onnx' } : undefined;
}

/**
 * The rewrite of `model` (the bytes of an ONNX file), from `dir` when stored there, else computed and
 * stored. `root`: the models cache's root (derivedDirs), down to which every folder is checked.
 */
export async function cachedPreluRewrite(model: Uint8Array, fold: boolean, dir: string, root: CacheRoot = parentRoot(dir)): Promise<CachedPreluRewrite> {
  if (!mayHavePrelu(model)) return { bytes: model, rewritten: 0, folded: 0, origin: 'none' };
  const base = path.join(dir, `${sha256(model)}.${fold ? 'folded' : 'split'}.v${PRELU_REWRITE_VERSION}`);
  const stored = (await readableCacheDir(dir, root)) ? await readStored(base, model) : undefined;
  if (stored) return { ...stored, origin: 'cache' };
  const { rewritePrelu } = await import('./prelu-rewrite.js');
  const rewrite = rewritePrelu(model, { fold });
  const record = recordOf(rewrite);
  await store(dir, root, base, rewrite, record).catch(() => undefined); // an unwritable cache costs time, nothing else
  return { ...rewrite, origin: 'rewritten', sha256: record.sha256 };
}

const recordOf = (rewrite: PreluRewrite): StoredRecord => ({ rewritten: rewrite.rewritten, folded: rewrite.folded, ...contentRecord(rewrite.bytes) });

async function readStored(base: string, model: Uint8Array): Promise<(PreluRewrite & { sha256?: string }) | undefined> {
  const record = await readCacheJson<StoredRecord>(`${base}.json`);
  if (!record || !Number.isInteger(record.rewritten) || !Number.isInteger(record.folded)) return undefined;
  if (record.rewritten === 0) return { bytes: model, rewritten: 0, folded: 0 };
  const bytes = await readIntact(`${base}.onnx`, record);
  if (!bytes) return undefined;
  return { bytes, rewritten: record.rewritten, folded: record.folded, sha256: record.sha256 };
}

/** The model first, then its record: a record never names a file that is not complete. Only into a folder only this user can write. */
async function store(dir: string, root: CacheRoot, base: string, rewrite: PreluRewrite, record: StoredRecord): Promise<void> {
  if (!(await writableCacheDir(dir, root, 0o700))) return;
  await removeAbandonedTemps(dir);
  if (rewrite.rewritten > 0) await writeFileAtomic(`${base}.onnx`, rewrite.bytes, 0o600);
  await writeFileAtomic(`${base}.json`, `${JSON.stringify(record)}\n`, 0o600);
}

/**
 * Deletes the stored rewrites of a model (sha256 of its file), every mode and version, when the model is
 * removed (`facectl models remove`); returns the sha256 of each rewrite deleted, so that what was made
 * from them (optimized-cache.ts) can go too.
 */
export async function forgetPreluRewrites(dir: string, modelSha256: string, root: CacheRoot = parentRoot(dir)): Promise<string[]> {
  if ((await inspectCacheDir(dir, root)).state !== 'ok') return []; // missing, or not ours to clean (never through a link)
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(`${modelSha256}.`));
  const rewrites: string[] = [];
  for (const name of names) {
    if (name.endsWith('.json')) {
      const record = await readJsonFile<Partial<StoredRecord>>(path.join(dir, name));
      if (record?.sha256) rewrites.push(record.sha256);
    }
    await rm(path.join(dir, name), { force: true });
  }
  return rewrites;
}
