/**
 * The on-disk cache of onnxruntime's optimized graphs: the same outputs to the bit as a session that
 * optimizes, used only when intact and made for this onnxruntime and CPU, never required.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { facepluginOnnx } from '../../src/models/builtin.js';
import { sha256, tempNameFor } from '../../src/models/file-record.js';
import { openOptimizedSession, optimizationEnvironment, optimizedKey } from '../../src/models/onnx/optimized-cache.js';
import { getSession, releaseSessions } from '../../src/pipeline/runtime.js';
import { FACES, hasSamples, sample, SKIP_NO_SAMPLES } from '../helpers/samples.js';

const hasModel = existsSync(facepluginOnnx());
const SKIP = !hasModel ? `${facepluginOnnx()} not found (run npm ci): skipped` : SKIP_NO_SAMPLES;
const OPTIONS: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 4 };
const newDir = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-ort-cache-')), 'ort');
const stored = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe('optimized-graph cache key', () => {
  it('names onnxruntime’s version and this CPU, and changes with either', () => {
    const env = JSON.parse(optimizationEnvironment()) as { ort: string; cpu: string; arch: string };
    expect(env.ort).toBe((createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version);
    expect(env.arch).toBe(process.arch);
    expect(env.cpu.length).toBeGreaterThan(3);
    if (process.platform === 'linux') expect(env.cpu).toContain('|'); // vendor | model | flags from /proc/cpuinfo
    const sha = 'a'.repeat(64);
    const other = (change: object) => JSON.stringify({ ...JSON.parse(optimizationEnvironment()), ...change });
    expect(optimizedKey(sha)).toBe(optimizedKey(sha, optimizationEnvironment()));
    expect(optimizedKey(sha)).not.toBe(optimizedKey('b'.repeat(64)));
    expect(optimizedKey(sha)).not.toBe(optimizedKey(sha, other({ ort: '0.0.1' })));
    expect(optimizedKey(sha)).not.toBe(optimizedKey(sha, other({ cpu: `${env.cpu} avx512f` })));
  });
});

describe.skipIf(!hasModel || !hasSamples)(`optimized-graph cache${hasModel && hasSamples ? '' : ` (${SKIP})`}`, async () => {
  const model = hasModel ? new Uint8Array(readFileSync(facepluginOnnx())) : new Uint8Array();
  // fr_feature.onnx's input: one real face, 112×112 RGB, NCHW, (x − 127) / 128.
  const face = async (): Promise<ort.Tensor> => {
    const { sample: n, ...region } = FACES.a;
    const rgb = await sharp(sample(n)).extract(region).resize(112, 112, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    const x = new Float32Array(3 * 112 * 112);
    for (let i = 0; i < 112 * 112; i++) for (let c = 0; c < 3; c++) x[c * 112 * 112 + i] = (rgb[i * 3 + c]! - 127) / 128;
    return new ort.Tensor('float32', x, [1, 3, 112, 112]);
  };
  const embed = async (session: ort.InferenceSession) => {
    const out = await session.run({ [session.inputNames[0]!]: await face() });
    return Buffer.from((out[session.outputNames[0]!]!.data as Float32Array).buffer);
  };
  const reference = hasModel && hasSamples ? await embed(await ort.InferenceSession.create(model, OPTIONS)) : Buffer.alloc(0);

  it('stores the optimized graph on first use; later sessions load it and give the same output to the bit', async () => {
    const dir = newDir();
    const first = await openOptimizedSession(model, OPTIONS, dir);
    expect(first.origin).toBe('stored');
    const key = optimizedKey(sha256(model));
    expect(stored(dir)).toEqual([`${key}.json`, `${key}.onnx`]); // no temporary file left
    // Private like the user-added models it may come from, whatever the umask.
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of stored(dir)) expect(statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    const again = await openOptimizedSession(model, OPTIONS, dir);
    expect(again.origin).toBe('cache');
    expect(reference.length).toBe(512 * 4);
    expect((await embed(first.session)).equals(reference)).toBe(true);
    expect((await embed(again.session)).equals(reference)).toBe(true);
    // It is onnxruntime's optimized graph (fused, other nodes), not a copy of the model.
    expect(Buffer.from(readFileSync(path.join(dir, `${key}.onnx`))).equals(Buffer.from(model))).toBe(false);
  });

  it('ignores a damaged stored graph, optimizes again and repairs the cache', async () => {
    const dir = newDir();
    await openOptimizedSession(model, OPTIONS, dir);
    const file = path.join(dir, `${optimizedKey(sha256(model))}.onnx`);
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0xff; // same size, one byte changed
    writeFileSync(file, bytes);
    // A temporary graph left two hours ago by a process killed mid-write goes when the cache is written.
    const abandoned = tempNameFor(file, '.onnx');
    writeFileSync(abandoned, 'partial');
    utimesSync(abandoned, Date.now() / 1000 - 7200, Date.now() / 1000 - 7200);
    const r = await openOptimizedSession(model, OPTIONS, dir);
    expect(r.origin).toBe('stored');
    expect(existsSync(abandoned)).toBe(false);
    expect((await embed(r.session)).equals(reference)).toBe(true);
    expect((await openOptimizedSession(model, OPTIONS, dir)).origin).toBe('cache');
  });

  it('a stored graph onnxruntime refuses, with a matching record, costs nothing but time', async () => {
    const dir = newDir();
    await openOptimizedSession(model, OPTIONS, dir);
    const base = path.join(dir, optimizedKey(sha256(model)));
    const junk = Buffer.from('not an onnx graph');
    writeFileSync(`${base}.onnx`, junk);
    writeFileSync(`${base}.json`, JSON.stringify({ bytes: junk.length, sha256: sha256(junk) }));
    const r = await openOptimizedSession(model, OPTIONS, dir);
    expect(r.origin).toBe('stored');
    expect((await embed(r.session)).equals(reference)).toBe(true);
  });

  it('works without a writable cache folder (a file stands where the folder should be)', async () => {
    const dir = newDir();
    writeFileSync(dir, 'not a folder');
    const r = await openOptimizedSession(model, OPTIONS, dir);
    expect(r.origin).toBe('not-stored');
    expect((await embed(r.session)).equals(reference)).toBe(true);
  });

  it('a model onnxruntime cannot load still fails with onnxruntime’s reason, and nothing is stored', async () => {
    const dir = newDir();
    await expect(openOptimizedSession(new Uint8Array([1, 2, 3, 4]), OPTIONS, dir)).rejects.toThrow(/protobuf|parse|load/i);
    expect(stored(dir)).toEqual([]);
  });

  describe('facectl’s sessions', () => {
    const before = process.env.FACECTL_MODELS_DIR;
    afterAll(async () => {
      await releaseSessions();
      if (before === undefined) delete process.env.FACECTL_MODELS_DIR;
      else process.env.FACECTL_MODELS_DIR = before;
    });

    it('go through the cache under <models dir>/ort', async () => {
      const modelsDir = mkdtempSync(path.join(os.tmpdir(), 'facectl-models-'));
      process.env.FACECTL_MODELS_DIR = modelsDir;
      await releaseSessions();
      const session = await getSession(facepluginOnnx());
      expect(stored(path.join(modelsDir, 'ort')).filter((f) => f.endsWith('.onnx'))).toHaveLength(1);
      // The session runs the PRelu rewrite of the file (prelu-cache.ts), optimized and stored.
      expect(stored(path.join(modelsDir, 'prelu')).filter((f) => f.endsWith('.onnx'))).toHaveLength(1);
      expect((await embed(session)).length).toBe(512 * 4);
    });
  });
});
