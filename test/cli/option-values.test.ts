/**
 * Option values are checked before a command does anything: `--index` takes only the known kinds (the kind
 * names the index file, so any other string wrote a file beside or outside the store).
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { GalleryStore } from '../../src/store/index.js';
import { MODEL, newFace, unitVectors } from '../gallery/contract.js';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-option-values-'));

/** A store holding one face (a toy model: nothing here loads a model). */
async function oneFaceStore(): Promise<string> {
  const dir = path.join(mkdtempSync(path.join(tmp, 'store-')), 'store');
  await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [newFace('alice', unitVectors(1)[0]!)]));
  return dir;
}

describe('--index', () => {
  it('index rebuild refuses a kind that is not auto, flat or hnsw, and writes no file for it', async () => {
    const store = await oneFaceStore();
    const before = readdirSync(store).sort();
    for (const kind of ['bogus', '/../../esc/x']) {
      const r = runCli(['index', 'rebuild', '--store', store, '--index', kind]);
      expect(r.code, r.stderr).toBe(ExitCode.USAGE);
      expect(r.stderr).toMatch(/--index.*auto, flat, hnsw/);
    }
    expect(readdirSync(store).sort()).toEqual(before);
    expect(existsSync(path.join(path.dirname(path.dirname(store)), 'esc'))).toBe(false);
  });

  it('login and serve refuse it too, before opening the store', async () => {
    const store = await oneFaceStore();
    for (const argv of [['login', path.join(tmp, 'any.jpg')], ['serve']]) {
      const r = runCli([...argv, '--store', store, '--index', 'bogus']);
      expect(r.code, `${argv[0]}: ${r.stderr}`).toBe(ExitCode.USAGE);
      expect(r.stderr).toMatch(/--index.*bogus/);
    }
  });
});
