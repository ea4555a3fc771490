/**
 * Embedding cache: one result per (image content sha256, model), so rerunning an evaluation,
 * or running a second protocol over the same photos, embeds nothing twice.
 *
 * Layout: <cacheDir>/<model-slug>-<sha256(modelKey)[:16]>/<host>-<pid>-<random>.fec
 *  - every open() appends only to its own new file, so concurrent processes never write the
 *    same file and need no lock; a reader merges all files of the model;
 *  - a file is a header (magic, version, dim, modelKey) followed by records
 *    [kind u8][sha256 32 bytes][payload length u32 LE][payload][crc32 u32 LE of all before];
 *    kind 1 = embedding (dim float32 LE), kind 2 = failure reason (UTF-8);
 *  - a crash mid-write leaves a torn last record: its length or CRC does not check out, and
 *    reading stops there (the records before it are kept);
 *  - when a model folder holds more than MAX_FILES files, open() merges the files of writers
 *    that are gone (dead pid on this host and untouched for 10 minutes) into one.
 * Embeddings are biometric data: folders are created 0700 and files 0600.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  createReadStream,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  rmSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { fsyncDir, writeAll, writeFileDurable } from '../store/fsio.js';
import { untrustedBecause } from '../file-trust.js';
import { writableCacheDir, type CacheRoot } from '../models/cache-safety.js';
import { xdgDir } from '../xdg.js';
import { MAX_REASON_BYTES, encodeRecord, fileHeader, readCacheFile, readHeaderKey } from './embedding-cache-format.js';
import type { EmbeddingResult } from './scoring.js';

/** Buffered bytes that trigger a write, bounding memory and what a crash can lose. */
const AUTO_FLUSH_BYTES = 1 << 20;
export const MAX_FILES = 16;
const STALE_MS = 10 * 60 * 1000;

/**
 * The root cache-safety.ts checks the embedding cache from: the XDG cache home for the default
 * `…/facectl/embeddings`, else the cache folder itself (FACECTL_CACHE_DIR, or one given). Embeddings
 * someone else could write would decide evaluation results, and through `eval --calibrate` the login
 * threshold written into a store.
 */
export function embeddingCacheRoot(cacheDir: string, env: NodeJS.ProcessEnv = process.env): CacheRoot {
  const dir = path.resolve(cacheDir);
  const base = !env.FACECTL_CACHE_DIR && dir === defaultCacheDir(env) ? xdgDir('cache', env) : dir;
  return { path: base, mode: 0o700, label: 'embedding cache' };
}

/** `$FACECTL_CACHE_DIR`, else `$XDG_CACHE_HOME/facectl/embeddings`, else `~/.cache/facectl/embeddings`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FACECTL_CACHE_DIR) return path.resolve(env.FACECTL_CACHE_DIR);
  return path.join(xdgDir('cache', env), 'facectl', 'embeddings'); // a relative XDG_CACHE_HOME is ignored (xdg.ts)
}

/** Hex sha256 of a file's bytes: the cache key of an image. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Folder name for a model: readable prefix plus a hash of the full key. */
export function modelFolderName(modelKey: string): string {
  const slug = modelKey.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 40);
  return `${slug}-${createHash('sha256').update(modelKey).digest('hex').slice(0, 16)}`;
}

function checkSha(sha256: string): Buffer {
  const s = sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(s)) throw new RangeError(`not a hex sha256: "${sha256}"`);
  return Buffer.from(s, 'hex');
}

/** A cache file only this user or root can have written (a regular file, not a link: cache-safety.ts); a vanished one is not. */
function trustedFile(file: string): boolean {
  const info = lstatSync(file, { throwIfNoEntry: false });
  return info !== undefined && untrustedBecause(info, 'file') === undefined;
}

const HOST = hostname().replace(/[^A-Za-z0-9.-]+/g, '_') || 'host';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A writer's file may be merged away when its process is gone and it has not changed for a while. */
function isAbandoned(dir: string, name: string, now: number): boolean {
  const m = /^(.+)-(\d+)-[0-9a-f]+(?:-merged\.fec\.tmp|(?:-merged)?\.fec)$/.exec(name);
  if (!m || m[1] !== HOST || isAlive(Number(m[2]))) return false;
  try {
    return now - statSync(path.join(dir, name)).mtimeMs > STALE_MS;
  } catch {
    return false;
  }
}

export class EmbeddingCache {
  private readonly entries = new Map<string, EmbeddingResult>();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private fd: number | null = null;
  private readonly ownFile: string;
  /** Files that ended in a torn record when opened (their good records were kept). */
  readonly tornFiles: string[] = [];

  private constructor(
    readonly directory: string,
    readonly modelKey: string,
    readonly dim: number,
  ) {
    this.ownFile = path.join(directory, `${HOST}-${process.pid}-${randomBytes(4).toString('hex')}.fec`);
  }

  /**
   * The cache of one model, or null when a folder on its way from `root` may not be trusted (someone
   * else's, writable by others, a symbolic link below the root: cache-safety.ts); a one-line warning
   * says which and the caller runs without a cache. Folders it makes are 0700.
   */
  static async openTrusted(cacheDir: string, modelKey: string, dim: number, root: CacheRoot = embeddingCacheRoot(cacheDir)): Promise<EmbeddingCache | null> {
    const dir = path.join(cacheDir, modelFolderName(modelKey));
    try {
      if (!(await writableCacheDir(dir, root, 0o700))) return null;
    } catch (e) {
      throw cacheError(e, dir);
    }
    return EmbeddingCache.open(cacheDir, modelKey, dim);
  }

  /**
   * Open (creating if needed) the cache of one model, without checking who may write its folders (see
   * openTrusted). Files that are links, or someone else's, or writable by others, are not read.
   * `modelKey` should include the model file's hash.
   */
  static open(cacheDir: string, modelKey: string, dim: number): EmbeddingCache {
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be a positive integer, got ${dim}`);
    if (modelKey === '') throw new RangeError('model key must not be empty');
    const dir = path.join(cacheDir, modelFolderName(modelKey));
    let files: string[];
    try {
      // Created folders get 0700 (umask only removes bits); the model folder is ours alone, so it is forced.
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      const names = readdirSync(dir);
      // A merge killed (or out of space) before its rename left its temporary file: nobody else removes it.
      const now = Date.now();
      for (const f of names) if (f.endsWith('.fec.tmp') && isAbandoned(dir, f, now)) rmSync(path.join(dir, f), { force: true });
      files = names.filter((f) => f.endsWith('.fec') && trustedFile(path.join(dir, f))).sort();
    } catch (e) {
      throw cacheError(e, dir);
    }
    const cache = new EmbeddingCache(dir, modelKey, dim);
    for (const f of files) {
      if (readCacheFile(path.join(dir, f), modelKey, dim, cache.entries).torn) cache.tornFiles.push(f);
    }
    if (files.length > MAX_FILES) cache.mergeAbandoned(files);
    return cache;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached result for an image's sha256, or undefined. Do not modify the returned embedding. */
  get(sha256: string): EmbeddingResult | undefined {
    return this.entries.get(checkSha(sha256).toString('hex'));
  }

  /** Record a result (buffered; written by flush(), or automatically every ~1 MiB). */
  put(sha256: string, result: EmbeddingResult): void {
    const sha = checkSha(sha256);
    if (result.ok) {
      if (result.embedding.length !== this.dim) throw new RangeError(`embedding has ${result.embedding.length} values, cache expects ${this.dim}`);
      if (!result.embedding.every(Number.isFinite)) throw new RangeError('embedding has a non-finite value');
    }
    const key = sha.toString('hex');
    // Stored exactly as a reopened cache will read it back (float32, reason cut to MAX_REASON_BYTES).
    const stored: EmbeddingResult = result.ok
      ? { ok: true, embedding: Float32Array.from(result.embedding) }
      : { ok: false, reason: Buffer.from(result.reason, 'utf8').subarray(0, MAX_REASON_BYTES).toString('utf8') };
    if (sameResult(this.entries.get(key), stored)) return;
    this.entries.set(key, stored);
    const rec = encodeRecord(sha, stored);
    this.pending.push(rec);
    this.pendingBytes += rec.length;
    if (this.pendingBytes >= AUTO_FLUSH_BYTES) this.flush();
  }

  /** Append buffered records to this process's file, in one write. */
  flush(): void {
    if (this.pending.length === 0) return;
    try {
      if (this.fd === null) {
        this.fd = openSync(this.ownFile, 'a', 0o600);
        fchmodSync(this.fd, 0o600);
        writeAll(this.fd, fileHeader(this.modelKey, this.dim));
      }
      // All of it or an error: a short write on a nearly full disk lost records silently (exit 0).
      writeAll(this.fd, Buffer.concat(this.pending));
    } catch (e) {
      throw cacheError(e, this.ownFile);
    }
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Flush and release the file. The cache stays readable. */
  close(): void {
    this.flush();
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  /**
   * Merge the files of writers that are gone into one file, then delete them (see the file comment). Only
   * housekeeping: when the merged file cannot be written whole (a full disk), it goes and the files it
   * would have replaced stay as they are (they were deleted after a short write had cut the merged file).
   */
  private mergeAbandoned(files: string[]): void {
    const now = Date.now();
    const abandoned = files.filter((f) => isAbandoned(this.directory, f, now));
    if (abandoned.length < 2) return;
    const merged = new Map<string, EmbeddingResult>();
    for (const f of abandoned) readCacheFile(path.join(this.directory, f), this.modelKey, this.dim, merged);
    const target = path.join(this.directory, `${HOST}-${process.pid}-${randomBytes(4).toString('hex')}-merged.fec`);
    const tmp = `${target}.tmp`;
    const parts = [fileHeader(this.modelKey, this.dim)];
    for (const [sha, r] of merged) parts.push(encodeRecord(Buffer.from(sha, 'hex'), r));
    try {
      writeFileDurable(this.directory, path.basename(tmp), Buffer.concat(parts)); // 0600, whole and synced, never through a link
      renameSync(tmp, target);
      fsyncDir(this.directory);
    } catch {
      rmSync(tmp, { force: true });
      return;
    }
    for (const f of abandoned) {
      try {
        unlinkSync(path.join(this.directory, f));
      } catch {
        // Another process merged it first: its records are in that process's merged file.
      }
    }
  }
}

/** A file-system failure of the cache (permissions, disk full) as a user-facing error. */
function cacheError(e: unknown, file: string): FacectlError {
  const code = (e as NodeJS.ErrnoException).code ?? String(e);
  return new FacectlError(ExitCode.STORE_ERROR, `cannot use the embedding cache (${code}); set FACECTL_CACHE_DIR to a writable folder`, file);
}

function sameResult(a: EmbeddingResult | undefined, b: EmbeddingResult): boolean {
  if (!a || a.ok !== b.ok) return false;
  if (!a.ok || !b.ok) return !a.ok && !b.ok && a.reason === b.reason;
  return a.embedding.length === b.embedding.length && a.embedding.every((v, i) => v === b.embedding[i]);
}

/** One model's folder in the cache, with the model key its files were written for (none readable: undefined). */
export interface CachedModelFolder {
  dir: string;
  modelKey: string | undefined;
}

/** Every model folder under `cacheDir` (none when it does not exist). */
export function cachedModelFolders(cacheDir: string): CachedModelFolder[] {
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return [];
  }
  const out: CachedModelFolder[] = [];
  for (const name of names.sort()) {
    if (!/^[A-Za-z0-9._-]{1,40}-[0-9a-f]{16}$/.test(name)) continue; // not a name open() gives
    const dir = path.join(cacheDir, name);
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.fec'));
    } catch {
      continue; // not a folder
    }
    let modelKey: string | undefined;
    for (const f of files) if ((modelKey = readHeaderKey(path.join(dir, f))) !== undefined) break;
    // Only a folder named as open() names it is ours to judge.
    if (modelKey === undefined || modelFolderName(modelKey) === name) out.push({ dir, modelKey });
  }
  return out;
}

/** Same as EmbeddingCache.open. */
export const openEmbeddingCache = (cacheDir: string, modelKey: string, dim: number): EmbeddingCache =>
  EmbeddingCache.open(cacheDir, modelKey, dim);
