/** The on-disk cache of PRelu rewrites: used only when intact, rebuilt when not, never required. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { facepluginOnnx } from '../../src/models/builtin.js';
import { sha256 } from '../../src/models/file-record.js';
import { cachedPreluRewrite } from '../../src/models/onnx/prelu-cache.js';
import { rewritePrelu } from '../../src/models/onnx/prelu-rewrite.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';

const hasFaceplugin = existsSync(facepluginOnnx());
const SKIP = `${facepluginOnnx()} not found (run npm ci): skipped`;

describe.skipIf(!hasFaceplugin)(`PRelu rewrite cache${hasFaceplugin ? '' : ` (${SKIP})`}`, () => {
  const model = hasFaceplugin ? new Uint8Array(readFileSync(facepluginOnnx())) : new Uint8Array();
  const fresh = (fold: boolean) => rewritePrelu(model, { fold });
  const newDir = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-prelu-cache-')), 'prelu');

  it('stores the rewrite on first use and reads back the same bytes and counts', async () => {
    const dir = newDir();
    for (const fold of [true, false]) {
      const want = fresh(fold);
      expect(want.rewritten).toBeGreaterThan(0);
      const first = await cachedPreluRewrite(model, fold, dir);
      expect(first.origin).toBe('rewritten');
      const again = await cachedPreluRewrite(model, fold, dir);
      expect(again.origin).toBe('cache');
      for (const r of [first, again]) {
        expect(Buffer.from(r.bytes).equals(Buffer.from(want.bytes))).toBe(true);
        expect([r.rewritten, r.folded]).toEqual([want.rewritten, want.folded]);
        expect(r.sha256).toBe(sha256(want.bytes)); // handed on to the optimized-graph cache's key
      }
    }
    expect(readdirSync(dir).sort()).toHaveLength(4); // folded and split: a model and its record each
    // Private like the user-added models it may come from, whatever the umask.
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(dir)) expect(statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
  });

  it('ignores a damaged stored rewrite, computes it again and repairs the cache', async () => {
    const dir = newDir();
    await cachedPreluRewrite(model, true, dir);
    const stored = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.onnx'))!);
    const bytes = readFileSync(stored);
    bytes[bytes.length >> 1] ^= 0xff; // same size, one byte changed
    writeFileSync(stored, bytes);
    const r = await cachedPreluRewrite(model, true, dir);
    expect(r.origin).toBe('rewritten');
    expect(Buffer.from(r.bytes).equals(Buffer.from(fresh(true).bytes))).toBe(true);
    expect((await cachedPreluRewrite(model, true, dir)).origin).toBe('cache');
  });

  it('works without a writable cache folder (a file stands where the folder should be)', async () => {
    const dir = newDir();
    writeFileSync(dir, 'not a folder');
    const r = await cachedPreluRewrite(model, true, dir);
    expect(r.origin).toBe('rewritten');
    expect(r.rewritten).toBe(fresh(true).rewritten);
  });

  it('a model without PRelu is returned as it is, and nothing is stored', async () => {
    const dir = newDir();
    const toy = buildToyEmbedderOnnx();
    const r = await cachedPreluRewrite(toy, true, dir);
    expect(r).toMatchObject({ origin: 'none', rewritten: 0, folded: 0 });
    expect(r.bytes).toBe(toy);
    expect(existsSync(dir)).toBe(false);
  });
});
