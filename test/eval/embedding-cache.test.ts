import { execFile } from 'node:child_process';
import fs, { appendFileSync, existsSync, chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { EmbeddingCache, MAX_FILES, defaultCacheDir, modelFolderName, sha256OfFile } from '../../src/eval/embedding-cache.js';
import { ExitCode } from '../../src/errors.js';
import { repoRoot } from '../helpers/shared.js';
import { expectFacectlError } from './eval-helpers.js';
import { keyOf, vectorOf } from './fixtures/cache-writer.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'facectl-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(tmp, `c${n++}`);
const MODEL = 'dlib-resnet@sha256:0123abcd';

/** A cache of MAX_FILES + 2 files, one record each, whose writers were another, long-dead process on this host (a merge is due). */
function abandonedWriters(): { dir: string; modelDir: string; old: Date } {
  const dir = freshDir();
  for (let i = 0; i < MAX_FILES + 2; i++) {
    const c = EmbeddingCache.open(dir, MODEL, 2);
    c.put(keyOf(i), { ok: true, embedding: vectorOf(i, 2) });
    c.close();
  }
  const modelDir = path.join(dir, modelFolderName(MODEL));
  const old = new Date(Date.now() - 3600_000);
  for (const f of readdirSync(modelDir)) {
    const dead = f.replace(/-(\d+)-([0-9a-f]+)\.fec$/, '-2147483646-$2.fec');
    renameSync(path.join(modelDir, f), path.join(modelDir, dead));
    utimesSync(path.join(modelDir, dead), old, old);
  }
  return { dir, modelDir, old };
}

describe('EmbeddingCache', () => {
  it('round-trips embeddings and failures across reopen, with private permissions', () => {
    const dir = freshDir();
    const c = EmbeddingCache.open(dir, MODEL, 4);
    c.put(keyOf(1), { ok: true, embedding: Float32Array.from([0.5, -0.25, 1e-7, 3]) });
    c.put(keyOf(2).toUpperCase(), { ok: false, reason: 'no face found' });
    expect(c.get(keyOf(1))).toEqual({ ok: true, embedding: Float32Array.from([0.5, -0.25, 1e-7, 3]) });
    expect(c.get(keyOf(3))).toBeUndefined();
    c.close();

    const again = EmbeddingCache.open(dir, MODEL, 4);
    expect(again.size).toBe(2);
    expect(again.get(keyOf(1))).toEqual({ ok: true, embedding: Float32Array.from([0.5, -0.25, 1e-7, 3]) });
    expect(again.get(keyOf(2))).toEqual({ ok: false, reason: 'no face found' });

    const modelDir = path.join(dir, modelFolderName(MODEL));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(modelDir).mode & 0o777).toBe(0o700);
    const files = readdirSync(modelDir);
    expect(files).toHaveLength(1);
    expect(statSync(path.join(modelDir, files[0]!)).mode & 0o777).toBe(0o600);
  });

  it('writes nothing for a put that changes nothing, and nothing before flush', () => {
    const dir = freshDir();
    const c = EmbeddingCache.open(dir, MODEL, 2);
    c.put(keyOf(1), { ok: true, embedding: Float32Array.from([1, 2]) });
    expect(EmbeddingCache.open(dir, MODEL, 2).size).toBe(0);
    c.flush();
    c.put(keyOf(1), { ok: true, embedding: Float32Array.from([1, 2]) });
    c.close();
    const modelDir = path.join(dir, modelFolderName(MODEL));
    const [file] = readdirSync(modelDir);
    const size = statSync(path.join(modelDir, file!)).size;
    const reopened = EmbeddingCache.open(dir, MODEL, 2);
    reopened.put(keyOf(1), { ok: true, embedding: Float32Array.from([1, 2]) });
    reopened.close();
    expect(readdirSync(modelDir)).toEqual([file]);
    expect(statSync(path.join(modelDir, file!)).size).toBe(size);
  });

  it('ignores a torn last record and keeps the records before it', () => {
    const dir = freshDir();
    const c = EmbeddingCache.open(dir, MODEL, 3);
    for (let i = 0; i < 5; i++) c.put(keyOf(i), { ok: true, embedding: vectorOf(i, 3) });
    c.close();
    const modelDir = path.join(dir, modelFolderName(MODEL));
    const file = path.join(modelDir, readdirSync(modelDir)[0]!);
    const full = readFileSync(file);
    // Cut the last record in half: a crash mid-write.
    writeFileSync(file, full.subarray(0, full.length - 10));
    const torn = EmbeddingCache.open(dir, MODEL, 3);
    expect(torn.size).toBe(4);
    expect(torn.get(keyOf(4))).toBeUndefined();
    expect(torn.get(keyOf(3))).toEqual({ ok: true, embedding: vectorOf(3, 3) });
    expect(torn.tornFiles).toHaveLength(1);
    // Garbage appended after good records is ignored too.
    writeFileSync(file, full);
    appendFileSync(file, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(EmbeddingCache.open(dir, MODEL, 3).size).toBe(5);
    // A flipped byte inside a record fails its CRC: reading stops before it.
    const flipped = Buffer.from(full);
    flipped[flipped.length - 8]! ^= 0xff;
    writeFileSync(file, flipped);
    expect(EmbeddingCache.open(dir, MODEL, 3).size).toBe(4);
  });

  it('keeps models apart and refuses a wrong dimension or key', () => {
    const dir = freshDir();
    const a = EmbeddingCache.open(dir, MODEL, 2);
    a.put(keyOf(1), { ok: true, embedding: Float32Array.from([1, 2]) });
    a.close();
    expect(EmbeddingCache.open(dir, 'other-model@sha256:ff', 2).get(keyOf(1))).toBeUndefined();
    expect(() => EmbeddingCache.open(dir, MODEL, 3)).toThrow(/holds 2-d embeddings/);
    const b = EmbeddingCache.open(dir, MODEL, 2);
    expect(() => b.put('abc', { ok: false, reason: 'x' })).toThrow(/not a hex sha256/);
    expect(() => b.put(keyOf(2), { ok: true, embedding: Float32Array.from([1]) })).toThrow(/expects 2/);
    expect(() => b.put(keyOf(2), { ok: true, embedding: Float32Array.from([1, NaN]) })).toThrow(/non-finite/);
  });

  it('merges the files of writers that are gone once there are many', () => {
    const { dir, modelDir } = abandonedWriters();
    const merged = EmbeddingCache.open(dir, MODEL, 2);
    expect(merged.size).toBe(MAX_FILES + 2);
    expect(readdirSync(modelDir)).toHaveLength(1);
    const reread = EmbeddingCache.open(dir, MODEL, 2);
    expect(reread.size).toBe(MAX_FILES + 2);
    expect(reread.get(keyOf(5))).toEqual({ ok: true, embedding: vectorOf(5, 2) });
  });

  /** Writes of `total` bytes or more come back short (as on a nearly full disk), then the next fails with ENOSPC. */
  function diskFillsUp(total: number) {
    const real = fs.writeSync;
    let shortened = false;
    return vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, buf: Uint8Array, offset?: number, length?: number) => {
      const len = length ?? buf.length - (offset ?? 0);
      if (len < total) return (real as (...a: unknown[]) => number)(fd, buf, offset, length);
      if (shortened) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      shortened = true;
      return (real as (...a: unknown[]) => number)(fd, buf, offset, Math.floor(len / 2));
    }) as typeof fs.writeSync);
  }

  it('a short write (a nearly full disk) is an error naming the cache, not records lost silently', () => {
    const dir = freshDir();
    const c = EmbeddingCache.open(dir, MODEL, 2);
    for (let i = 0; i < 50; i++) c.put(keyOf(i), { ok: true, embedding: vectorOf(i, 2) });
    const spy = diskFillsUp(500);
    try {
      expectFacectlError(() => c.flush(), ExitCode.STORE_ERROR, /cannot use the embedding cache \(ENOSPC\)/);
    } finally {
      spy.mockRestore();
    }
  });

  it('a merge that cannot be written whole keeps the files it would have replaced; its temporary file goes', () => {
    const { dir, modelDir, old } = abandonedWriters();
    const before = readdirSync(modelDir).sort();
    const spy = diskFillsUp(200); // the merged file (header + MAX_FILES + 2 records) is larger
    try {
      expect(EmbeddingCache.open(dir, MODEL, 2).size).toBe(MAX_FILES + 2);
    } finally {
      spy.mockRestore();
    }
    expect(readdirSync(modelDir).sort()).toEqual(before); // every record still on disk, no .tmp left
    // A merge killed before its rename left a temporary file: a later open removes it.
    const leftover = path.join(modelDir, `${hostname().replace(/[^A-Za-z0-9.-]+/g, "_") || "host"}-2147483646-abcd1234-merged.fec.tmp`);
    writeFileSync(leftover, 'half a merge');
    utimesSync(leftover, old, old);
    expect(EmbeddingCache.open(dir, MODEL, 2).size).toBe(MAX_FILES + 2);
    expect(existsSync(leftover)).toBe(false);
  });

  it('two processes writing at once lose nothing', async () => {
    const dir = freshDir();
    const run = promisify(execFile);
    const script = path.join(repoRoot, 'test/eval/fixtures/cache-writer.ts');
    const args = (first: number) => ['--import', 'tsx', script, dir, MODEL, '8', String(first), '150'];
    await Promise.all([run(process.execPath, args(0), { cwd: repoRoot }), run(process.execPath, args(1000), { cwd: repoRoot })]);
    const c = EmbeddingCache.open(dir, MODEL, 8);
    expect(c.size).toBe(300);
    expect(c.tornFiles).toEqual([]);
    for (const i of [0, 7, 149, 1000, 1001, 1149]) {
      expect(c.get(keyOf(i))).toEqual(i % 7 === 0 ? { ok: false, reason: `no face found ${i}` } : { ok: true, embedding: vectorOf(i, 8) });
    }
  }, 60_000);
});

describe('cache errors', () => {
  it('an unusable cache folder is a STORE_ERROR naming FACECTL_CACHE_DIR', () => {
    const file = path.join(tmp, 'not-a-dir');
    writeFileSync(file, 'x');
    expectFacectlError(() => EmbeddingCache.open(file, MODEL, 2), ExitCode.STORE_ERROR, /cannot use the embedding cache \(ENOTDIR\).*FACECTL_CACHE_DIR/);
  });
});

describe('cache helpers', () => {
  it('defaultCacheDir: FACECTL_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(defaultCacheDir({ FACECTL_CACHE_DIR: '/x/y' })).toBe('/x/y');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/xdg' })).toBe('/xdg/facectl/embeddings');
    expect(defaultCacheDir({})).toMatch(/\.cache\/facectl\/embeddings$/);
  });

  it('sha256OfFile hashes the bytes', async () => {
    const f = path.join(tmp, 'abc.bin');
    writeFileSync(f, 'abc');
    expect(await sha256OfFile(f)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

// Forged embeddings would decide evaluation results, and through `eval --calibrate` a store's login threshold.
describe('who may have written the cache', () => {
  const isRoot = process.getuid?.() === 0;
  const written = (dir: string) => {
    const c = EmbeddingCache.open(dir, MODEL, 4);
    c.put(keyOf(1), { ok: true, embedding: vectorOf(1, 4) });
    c.close();
  };
  const warnings = () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (lines.push(String(s)), true));
    return { lines, restore: () => spy.mockRestore() };
  };

  it('openTrusted makes a missing cache 0700 and reads what this user wrote', async () => {
    const dir = path.join(freshDir(), 'cache');
    const c = (await EmbeddingCache.openTrusted(dir, MODEL, 4))!;
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    c.put(keyOf(1), { ok: true, embedding: vectorOf(1, 4) });
    c.close();
    expect((await EmbeddingCache.openTrusted(dir, MODEL, 4))!.size).toBe(1);
  });

  it('a cache folder, or a model folder in it, that others can write is not used: one warning, no reading, no writing', async () => {
    for (const which of ['root', 'model'] as const) {
      const dir = freshDir();
      written(dir);
      const target = which === 'root' ? dir : path.join(dir, modelFolderName(MODEL));
      chmodSync(target, 0o777);
      const w = warnings();
      try {
        expect(await EmbeddingCache.openTrusted(dir, MODEL, 4)).toBeNull();
      } finally {
        w.restore();
      }
      expect(w.lines.join('')).toMatch(new RegExp(`^warning: embedding cache not used: ${target} is writable by group and others \\(mode 0777\\)`));
      expect(readdirSync(path.join(dir, modelFolderName(MODEL)))).toHaveLength(1); // nothing added
    }
  });

  it('a cache file that is a symbolic link, or writable by others, is not read', () => {
    const dir = freshDir();
    written(dir);
    const folder = path.join(dir, modelFolderName(MODEL));
    const [file] = readdirSync(folder);
    const elsewhere = path.join(freshDir() + '-x.fec');
    renameSync(path.join(folder, file), elsewhere);
    symlinkSync(elsewhere, path.join(folder, file));
    expect(EmbeddingCache.open(dir, MODEL, 4).size).toBe(0);
    rmSync(path.join(folder, file));
    renameSync(elsewhere, path.join(folder, file));
    expect(EmbeddingCache.open(dir, MODEL, 4).size).toBe(1);
    chmodSync(path.join(folder, file), 0o666);
    expect(EmbeddingCache.open(dir, MODEL, 4).size).toBe(0);
  });

  it.skipIf(!isRoot)(`a cache file of another user (chown nobody) is not read${isRoot ? '' : ' (skipped: needs root to chown)'}`, () => {
    const dir = freshDir();
    written(dir);
    const folder = path.join(dir, modelFolderName(MODEL));
    chownSync(path.join(folder, readdirSync(folder)[0]), 65534, 65534);
    expect(EmbeddingCache.open(dir, MODEL, 4).size).toBe(0);
  });
});
