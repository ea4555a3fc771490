/**
 * The caches' small records are read defensively: a truncated JSON record or a sidecar with a damaged entry
 * is a stale or corrupt entry (rebuilt, or pruned), never a crash; relative XDG folders are ignored as the
 * XDG spec requires; converted models are written readable by all and writable by this user only.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCacheDir } from '../../src/eval/embedding-cache.js';
import { CONVERTER_VERSION } from '../../src/models/builtin.js';
import { checkCachedModel, prepareModel } from '../../src/models/cache.js';
import { readJsonFile } from '../../src/models/file-record.js';
import { pruneModelsCache } from '../../src/models/prune.js';
import { userModelsDir } from '../../src/models/user-models.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'facectl-cache-robust-'));

describe('cache records', () => {
  it('a truncated JSON record reads as missing; prune goes on past truncated ort/ and prelu/ records', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'r.json'), '{"bytes":');
    expect(await readJsonFile(path.join(dir, 'r.json'))).toBeUndefined();
    mkdirSync(path.join(dir, 'ort'));
    mkdirSync(path.join(dir, 'prelu'));
    writeFileSync(path.join(dir, 'ort', `${'ab'.repeat(32)}.json`), '{"model":');
    writeFileSync(path.join(dir, 'ort', `${'ab'.repeat(32)}.onnx`), 'x');
    writeFileSync(path.join(dir, 'prelu', `${'cd'.repeat(32)}.folded.v1.json`), '{"sha');
    const report = await pruneModelsCache({ modelsDir: dir, dryRun: true });
    expect(report.removed.map((r) => path.basename(r.path)).sort()).toEqual([`${'ab'.repeat(32)}.json`, `${'ab'.repeat(32)}.onnx`, `${'cd'.repeat(32)}.folded.v1.json`]);
  });

  it('a sidecar with a damaged source record makes the cached model corrupt (to be rebuilt), not a TypeError', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'facemesh.onnx'), 'x');
    // An intact model file and converter version, so that the check reaches the source records.
    const record = { file: 'facemesh.onnx', sha256: createHash('sha256').update('x').digest('hex'), bytes: 1, mtimeMs: statSync(path.join(dir, 'facemesh.onnx')).mtimeMs };
    writeFileSync(path.join(dir, 'facemesh.json.sha256'), JSON.stringify({ id: 'facemesh', converterVersion: CONVERTER_VERSION, onnx: record, sources: [null] }));
    expect(await checkCachedModel('facemesh', { modelsDir: dir })).toEqual({ state: 'corrupt' });
  });
});

describe('where the caches live', () => {
  it('a relative XDG_CACHE_HOME or XDG_DATA_HOME is ignored', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relcache' })).toBe(path.join(os.homedir(), '.cache', 'facectl', 'embeddings'));
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/abs/cache' })).toBe('/abs/cache/facectl/embeddings');
    const saved = { data: process.env.XDG_DATA_HOME, dir: process.env.FACECTL_USER_MODELS_DIR };
    try {
      delete process.env.FACECTL_USER_MODELS_DIR;
      process.env.XDG_DATA_HOME = 'reldata';
      expect(userModelsDir()).toBe(path.join(os.homedir(), '.local', 'share', 'facectl', 'models'));
    } finally {
      for (const [key, value] of [['XDG_DATA_HOME', saved.data], ['FACECTL_USER_MODELS_DIR', saved.dir]] as const)
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
    }
  });

  it('a converted model and its sidecar are 0644 in a 0755 folder, even under umask 000', async () => {
    const dir = path.join(tmp(), 'models', 'v9');
    const old = process.umask(0);
    try {
      await prepareModel('facemesh', { modelsDir: dir });
    } finally {
      process.umask(old);
    }
    const mode = (f: string) => (statSync(f).mode & 0o777).toString(8);
    expect([mode(dir), mode(path.dirname(dir)), mode(path.join(dir, 'facemesh.onnx')), mode(path.join(dir, 'facemesh.json.sha256'))]).toEqual(['755', '755', '644', '644']);
  }, 120_000);
});
