/**
 * The models cache is trusted only where nobody else could have written it (src/models/cache-safety.ts,
 * README: Privacy and safety). A PRelu rewrite (prelu/), an onnxruntime graph (ort/), a converted model
 * or the shipped models' memo is used when it matches the record beside it, and whoever can write the
 * folder writes both: an audit planted a rewrite of mobilefacenet in a 0777 folder (made so by an install
 * under umask 000) and `verify` answered SAME 1.0000 for two different people. Here each kind is planted
 * with a matching record in a folder others could write (0777, group-writable), behind a symbolic link, or
 * as a file others could write, and must not be used: the output is the clean model's. Folders facectl
 * makes have their modes whatever the umask. A folder of another user is made by chown where the tests
 * run as root; elsewhere mode bits stand in for it.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CONVERTER_VERSION } from '../../src/models/builtin.js';
import { checkCachedModel, derivedDirs, modelPaths, prepareModel, resolveModelsDir } from '../../src/models/cache.js';
import { sha256 } from '../../src/models/file-record.js';
import { OnnxGraphBuilder } from '../../src/models/onnx/graph-builder.js';
import { openOptimizedSession, optimizedKey } from '../../src/models/onnx/optimized-cache.js';
import { cachedPreluRewrite, PRELU_REWRITE_VERSION } from '../../src/models/onnx/prelu-cache.js';
import { rewritePrelu } from '../../src/models/onnx/prelu-rewrite.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { pruneModelsCache } from '../../src/models/prune.js';
import { checkShippedModel, MANIFEST_FILE, type ShippedManifest } from '../../src/models/shipped.js';
import { createSession, runSession } from './session.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `facectl-cache-safety-${name}-`));
const mode = (f: string) => (lstatSync(f).mode & 0o777).toString(8);
const files = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

/** A folder made with exactly `m` (and its parents as mkdirSync makes them). */
function folder(dir: string, m = 0o700): string {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, m);
  return dir;
}

/** What the current test wrote to stderr (the warnings), kept off the test output. */
let stderr: () => string;
beforeEach(() => {
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  stderr = () => spy.mock.calls.map((c) => String(c[0])).join('');
});
afterEach(() => vi.restoreAllMocks());

// --- PRelu rewrites (prelu/) -------------------------------------------------------------------------------

const DIMS = [1, 4, 3, 3];
/** x → PRelu(per-channel slope) → PRelu(one slope): `slopes` makes another model of the same shapes. */
function preluModel(slopes = [-0.5, 0.25, 1.5, 0]): Uint8Array {
  const b = new OnnxGraphBuilder('prelu');
  const x = b.addInput('x', DIMS);
  let y = b.node('PRelu', [x, b.constFloat('per_channel', slopes, [4, 1, 1])]);
  y = b.node('PRelu', [y, b.constFloat('one', [0.1], [1])]);
  b.exposeAs(y, 'y', DIMS);
  return b.toBytes();
}
const input = Float32Array.from({ length: 36 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
const outputOf = async (bytes: Uint8Array) => Array.from((await runSession(await createSession(bytes), input, DIMS)).y!);

const MODEL = preluModel();
const CLEAN = rewritePrelu(MODEL, { fold: true });
/** What an attacker would store: the rewrite of another model (other slopes), under the real model's name. */
const POISON = rewritePrelu(preluModel([5, 5, 5, 5]), { fold: true });

/** A cache entry as an attacker would plant it: `<base>.onnx` and the record that matches it, both `fileMode`. */
function plantEntry(base: string, bytes: Uint8Array, record: object, fileMode: number): string {
  writeFileSync(`${base}.onnx`, bytes);
  writeFileSync(`${base}.json`, JSON.stringify(record));
  for (const ext of ['onnx', 'json']) chmodSync(`${base}.${ext}`, fileMode);
  return base;
}

/** A cache folder `name` under a 0755 models folder that is a link to a folder `plant` filled elsewhere. */
function linkedCacheFolder(tag: string, name: string, plant: (dir: string) => unknown): { link: string; elsewhere: string } {
  const models = folder(path.join(tmp(tag), 'models'), 0o755);
  const elsewhere = folder(path.join(path.dirname(models), 'elsewhere'));
  plant(elsewhere);
  symlinkSync(elsewhere, path.join(models, name));
  return { link: path.join(models, name), elsewhere };
}

/** The poisoned rewrite and a record that matches it, where cachedPreluRewrite looks for MODEL's. */
function plantPrelu(dir: string, fileMode = 0o600): string {
  const record = { rewritten: POISON.rewritten, folded: POISON.folded, bytes: POISON.bytes.byteLength, sha256: sha256(POISON.bytes) };
  return plantEntry(path.join(dir, `${sha256(MODEL)}.folded.v${PRELU_REWRITE_VERSION}`), POISON.bytes, record, fileMode);
}

/** The rewrite must be the clean one (bytes and outputs), not the planted one; the planted files stay as they were. */
async function expectCleanRewrite(dir: string, root?: { path: string; mode: number }, plantedIn: string = dir) {
  const before = files(plantedIn).map((f) => [f, readFileSync(path.join(plantedIn, f)).toString('hex')]);
  const r = await cachedPreluRewrite(MODEL, true, dir, root);
  expect(r.origin).not.toBe('cache');
  expect(Buffer.from(r.bytes).equals(Buffer.from(CLEAN.bytes))).toBe(true);
  expect(await outputOf(r.bytes)).toEqual(await outputOf(CLEAN.bytes));
  expect(files(plantedIn).map((f) => [f, readFileSync(path.join(plantedIn, f)).toString('hex')])).toEqual(before); // nothing stored there
}

describe('PRelu rewrites (prelu/) someone else could have written are not used', () => {
  it('the planted rewrite would be run from a private folder (the fixture is sound)', async () => {
    expect(await outputOf(POISON.bytes)).not.toEqual(await outputOf(CLEAN.bytes));
    const models = folder(path.join(tmp('prelu-ok'), 'models'), 0o755);
    const dir = folder(path.join(models, 'prelu'));
    plantPrelu(dir);
    const r = await cachedPreluRewrite(MODEL, true, dir);
    expect(r.origin).toBe('cache'); // only this user could have written it: used
  });

  it('in a 0777 models folder (an install under umask 000), with a one-line warning once', async () => {
    const models = folder(path.join(tmp('prelu-0777'), 'models'), 0o777);
    const dir = folder(path.join(models, 'prelu'));
    plantPrelu(dir);
    await expectCleanRewrite(dir);
    await expectCleanRewrite(dir);
    const lines = stderr().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warning: models cache not used: .*models is writable by group and others \(mode 0777\)/);
  });

  it('in a prelu/ folder that is 0777, or writable by its group (umask 002)', async () => {
    for (const m of [0o777, 0o770, 0o775, 0o702]) {
      const dir = folder(path.join(tmp('prelu-mode'), 'prelu'), m);
      plantPrelu(dir);
      await expectCleanRewrite(dir);
      expect(mode(dir)).toBe(m.toString(8)); // not made private and then trusted
    }
  });

  it('below a folder others can write higher up the cache (…/facectl 0777 in the XDG cache home)', async () => {
    const xdg = tmp('prelu-chain');
    folder(path.join(xdg, 'facectl'), 0o777);
    const models = folder(path.join(xdg, 'facectl', 'models', `v${CONVERTER_VERSION}`), 0o755);
    chmodSync(path.dirname(models), 0o755);
    const dir = folder(path.join(models, 'prelu'));
    plantPrelu(dir);
    await expectCleanRewrite(dir, { path: xdg, mode: 0o700 });
  });

  it('a symbolic link for prelu/ is not followed, nor written through', async () => {
    const { link, elsewhere } = linkedCacheFolder('prelu-link', 'prelu', plantPrelu);
    await expectCleanRewrite(link, undefined, elsewhere);
  });

  it('a planted file others could write (0666), in a private folder, is not used', async () => {
    const dir = folder(path.join(tmp('prelu-file'), 'prelu'));
    plantPrelu(dir, 0o666);
    const r = await cachedPreluRewrite(MODEL, true, dir);
    expect(Buffer.from(r.bytes).equals(Buffer.from(CLEAN.bytes))).toBe(true);
    // Replaced by a sound entry (atomic rename, 0600), used from then on.
    expect(files(dir).map((f) => mode(path.join(dir, f)))).toEqual(['600', '600']);
    expect((await cachedPreluRewrite(MODEL, true, dir)).origin).toBe('cache');
  });

  it.skipIf(!isRoot)('a prelu/ folder, or a file in it, of another user (chown nobody) is not used', async () => {
    const foreign = folder(path.join(tmp('prelu-owner'), 'prelu'), 0o755);
    plantPrelu(foreign, 0o644);
    for (const f of [foreign, ...files(foreign).map((n) => path.join(foreign, n))]) chownSync(f, NOBODY, NOBODY);
    await expectCleanRewrite(foreign);
    const ours = folder(path.join(tmp('prelu-owner-file'), 'prelu'));
    const base = plantPrelu(ours, 0o644);
    chownSync(`${base}.onnx`, NOBODY, NOBODY);
    const r = await cachedPreluRewrite(MODEL, true, ours);
    expect(Buffer.from(r.bytes).equals(Buffer.from(CLEAN.bytes))).toBe(true);
  });
});

// --- onnxruntime's optimized graphs (ort/) ---------------------------------------------------------------

const OPTIONS: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 4 };
const TOY = buildToyEmbedderOnnx({ inputSize: 32, dim: 16, seed: 1 });
const OTHER = buildToyEmbedderOnnx({ inputSize: 32, dim: 16, seed: 2 }); // same shapes, other weights
const face = new ort.Tensor('float32', Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => (i * 37) % 255), [1, 3, 32, 32]);
const embed = async (session: ort.InferenceSession) => Array.from((await session.run({ [session.inputNames[0]!]: face }))[session.outputNames[0]!]!.data as Float32Array);

function plantGraph(dir: string, fileMode = 0o600): string {
  return plantEntry(path.join(dir, optimizedKey(sha256(TOY))), OTHER, { bytes: OTHER.byteLength, sha256: sha256(OTHER), model: sha256(TOY) }, fileMode);
}

describe('onnxruntime graphs (ort/) someone else could have written are not used', () => {
  let clean: number[];
  beforeAll(async () => {
    clean = await embed(await ort.InferenceSession.create(TOY, OPTIONS));
    expect(await embed(await ort.InferenceSession.create(OTHER, OPTIONS))).not.toEqual(clean);
  });

  async function expectCleanSession(dir: string, root?: { path: string; mode: number }, plantedIn: string = dir) {
    const before = files(plantedIn);
    const r = await openOptimizedSession(TOY, OPTIONS, dir, undefined, root);
    expect(r.origin).not.toBe('cache');
    expect(await embed(r.session)).toEqual(clean);
    expect(files(plantedIn)).toEqual(before); // nothing stored there
  }

  it('the planted graph would be run from a private folder (the fixture is sound)', async () => {
    const dir = folder(path.join(folder(path.join(tmp('ort-ok'), 'models'), 0o755), 'ort'));
    plantGraph(dir);
    const r = await openOptimizedSession(TOY, OPTIONS, dir);
    expect(r.origin).toBe('cache');
  });

  it('in a 0777 or group-writable ort/ folder, or below a 0777 models folder', async () => {
    for (const m of [0o777, 0o770]) {
      const dir = folder(path.join(tmp('ort-mode'), 'ort'), m);
      plantGraph(dir);
      await expectCleanSession(dir);
    }
    const models = folder(path.join(tmp('ort-parent'), 'models'), 0o777);
    const dir = folder(path.join(models, 'ort'));
    plantGraph(dir);
    await expectCleanSession(dir);
    expect(stderr()).toMatch(/^warning: models cache not used: .*ort-parent-.*models is writable/m);
  });

  it('a symbolic link for ort/ is not followed, nor written through', async () => {
    const { link, elsewhere } = linkedCacheFolder('ort-link', 'ort', plantGraph);
    await expectCleanSession(link, undefined, elsewhere);
  });

  it('a planted graph others could write (0666), in a private folder, is not used', async () => {
    const dir = folder(path.join(tmp('ort-file'), 'ort'));
    plantGraph(dir, 0o666);
    const r = await openOptimizedSession(TOY, OPTIONS, dir);
    expect(r.origin).toBe('stored'); // optimized again, and stored over it
    expect(await embed(r.session)).toEqual(clean);
    expect((await openOptimizedSession(TOY, OPTIONS, dir)).origin).toBe('cache');
  });

  it.skipIf(!isRoot)('an ort/ folder of another user (chown nobody) is not used', async () => {
    const dir = folder(path.join(tmp('ort-owner'), 'ort'), 0o755);
    plantGraph(dir, 0o644);
    for (const f of [dir, ...files(dir).map((n) => path.join(dir, n))]) chownSync(f, NOBODY, NOBODY);
    await expectCleanSession(dir);
  });
});

// --- converted models, and the shipped models' memo ------------------------------------------------------

const ID = 'blazeface-front'; // the smallest built-in model: converted in well under a second

describe('converted models and the shipped memo in a cache someone else could have written', () => {
  let converted: { dir: string; sha256: string };
  beforeAll(async () => {
    const dir = path.join(tmp('convert'), 'models');
    converted = { dir, sha256: (await prepareModel(ID, { modelsDir: dir })).sha256 };
  });

  /** A copy of the real cache entry whose model is another file (TOY), with a sidecar that matches it. */
  function plantConverted(modelsDir: string): string {
    const paths = modelPaths(ID, modelsDir);
    writeFileSync(paths.onnx, TOY);
    const sidecar = JSON.parse(readFileSync(modelPaths(ID, converted.dir).sidecar, 'utf8'));
    sidecar.onnx = { ...sidecar.onnx, sha256: sha256(TOY), bytes: TOY.byteLength, mtimeMs: statSync(paths.onnx).mtimeMs };
    writeFileSync(paths.sidecar, JSON.stringify(sidecar));
    return paths.onnx;
  }

  it('a 0777 models folder: its model is not used; the model is converted for this process only', async () => {
    const modelsDir = folder(path.join(tmp('converted-0777'), 'models'), 0o777);
    const planted = plantConverted(modelsDir);
    const r = await prepareModel(ID, { modelsDir });
    expect(r.sha256).toBe(converted.sha256);
    expect(r.path).not.toBe(planted);
    expect((await checkCachedModel(ID, { modelsDir })).state).toBe('unsafe'); // what `models list` shows
    expect(sha256(readFileSync(r.path))).toBe(converted.sha256);
    expect(mode(path.dirname(r.path))).toBe('700');
    expect(readFileSync(planted).equals(Buffer.from(TOY))).toBe(true); // nothing written into that folder
    expect(stderr().split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('a converted model that is a symbolic link is not followed: converted again over the link', async () => {
    const modelsDir = folder(path.join(tmp('converted-link'), 'models'), 0o755);
    const elsewhere = path.join(path.dirname(modelsDir), 'evil.onnx');
    writeFileSync(elsewhere, TOY);
    const paths = modelPaths(ID, modelsDir);
    plantConverted(modelsDir);
    rmSync(paths.onnx);
    symlinkSync(elsewhere, paths.onnx);
    const sidecar = JSON.parse(readFileSync(paths.sidecar, 'utf8'));
    sidecar.onnx.mtimeMs = statSync(elsewhere).mtimeMs; // the sidecar matches what the link points to
    writeFileSync(paths.sidecar, JSON.stringify(sidecar));
    const r = await prepareModel(ID, { modelsDir });
    expect(r.sha256).toBe(converted.sha256);
    expect(lstatSync(paths.onnx).isSymbolicLink()).toBe(false);
    expect(readFileSync(elsewhere).equals(Buffer.from(TOY))).toBe(true);
  });

  it('the shipped models memo in a 0777 folder is not trusted: a damaged shipped file is found', async () => {
    const shippedDir = folder(path.join(tmp('shipped'), 'ship'), 0o755);
    const file = path.join(shippedDir, `${ID}.onnx`);
    const good = readFileSync(modelPaths(ID, converted.dir).onnx);
    const manifest: ShippedManifest = {
      facectl: '0.1.0',
      converterVersion: CONVERTER_VERSION,
      createdAt: new Date().toISOString(),
      models: { [ID]: { file: `${ID}.onnx`, sha256: converted.sha256, bytes: good.byteLength, sources: [] } },
      packages: {},
    };
    writeFileSync(path.join(shippedDir, MANIFEST_FILE), JSON.stringify(manifest));
    const damaged = Buffer.from(good);
    damaged[damaged.length >> 1]! ^= 0xff; // same size, other bytes
    writeFileSync(file, damaged);
    const memoDir = folder(path.join(tmp('memo'), 'models'), 0o777);
    const memoFile = path.join(memoDir, 'shipped-verified.json');
    // What someone else would write there: "this file was verified", with its size and mtime.
    writeFileSync(memoFile, JSON.stringify({ [file]: { file, sha256: converted.sha256, bytes: good.byteLength, mtimeMs: statSync(file).mtimeMs } }));
    expect((await checkShippedModel(ID, shippedDir, { memoFile })).state).toBe('corrupt');
  });
});

// --- modes of what facectl makes, whatever the umask; prune ----------------------------------------------

describe('folders and files facectl makes in its models cache, under umask 000', () => {
  const saved = { xdg: process.env.XDG_CACHE_HOME, models: process.env.FACECTL_MODELS_DIR };
  let umask: number;
  beforeAll(() => {
    umask = process.umask(0);
  });
  afterAll(() => {
    process.umask(umask);
    for (const [key, value] of [['XDG_CACHE_HOME', saved.xdg], ['FACECTL_MODELS_DIR', saved.models]] as const)
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
  });

  it('the default layout: XDG cache home 0700, facectl/models/v<N> 0755, memo and models 0644, prelu/ and ort/ 0700 with 0600 files', async () => {
    const xdg = path.join(tmp('umask'), 'cache'); // missing: facectl makes it
    process.env.XDG_CACHE_HOME = xdg;
    delete process.env.FACECTL_MODELS_DIR;
    const modelsDir = resolveModelsDir();
    // A shipped folder: verifying it writes the memo (the path an installed package takes first).
    const shippedDir = folder(path.join(path.dirname(xdg), 'ship'), 0o755);
    const source = (await prepareModel(ID, { modelsDir: path.join(path.dirname(xdg), 'convert') })).path;
    copyFileSync(source, path.join(shippedDir, `${ID}.onnx`));
    const bytes = readFileSync(source);
    writeFileSync(
      path.join(shippedDir, MANIFEST_FILE),
      JSON.stringify({ facectl: '0.1.0', converterVersion: CONVERTER_VERSION, createdAt: '', models: { [ID]: { file: `${ID}.onnx`, sha256: sha256(bytes), bytes: bytes.byteLength, sources: [] } }, packages: {} }),
    );
    expect(await prepareModel(ID, { shippedDir })).toMatchObject({ shipped: true });
    expect(await prepareModel('facemesh', { shippedDir: null })).toMatchObject({ converted: true });
    const dirs = derivedDirs();
    expect((await cachedPreluRewrite(MODEL, true, dirs.prelu, dirs.root)).origin).toBe('rewritten');
    expect((await openOptimizedSession(TOY, OPTIONS, dirs.ort, undefined, dirs.root)).origin).toBe('stored');

    const v = path.join(xdg, 'facectl', 'models', `v${CONVERTER_VERSION}`);
    expect(modelsDir).toBe(v);
    expect([xdg, path.join(xdg, 'facectl'), path.join(xdg, 'facectl', 'models'), v].map(mode)).toEqual(['700', '755', '755', '755']);
    expect(['shipped-verified.json', 'facemesh.onnx', 'facemesh.json.sha256'].map((f) => mode(path.join(v, f)))).toEqual(['644', '644', '644']);
    for (const dir of [dirs.prelu, dirs.ort]) {
      expect(mode(dir)).toBe('700');
      expect(files(dir).length).toBeGreaterThan(0);
      for (const f of files(dir)) expect(mode(path.join(dir, f)), f).toBe('600');
    }
  });

  it('FACECTL_MODELS_DIR with missing folders on the way: each 0755, prelu/ 0700', async () => {
    const modelsDir = path.join(tmp('umask-env'), 'a', 'b', 'models');
    process.env.FACECTL_MODELS_DIR = modelsDir;
    const dirs = derivedDirs();
    expect((await cachedPreluRewrite(MODEL, true, dirs.prelu, dirs.root)).origin).toBe('rewritten');
    expect([path.dirname(path.dirname(modelsDir)), path.dirname(modelsDir), modelsDir, dirs.prelu].map(mode)).toEqual(['755', '755', '755', '700']);
  });
});

describe('models prune', () => {
  it('does not follow a symbolic link for prelu/: what it points to is left alone', async () => {
    const modelsDir = folder(path.join(tmp('prune'), 'models'), 0o755);
    const elsewhere = folder(path.join(path.dirname(modelsDir), 'elsewhere'));
    const stale = `${'ab'.repeat(32)}.folded.v0.onnx`; // a name prune deletes: an older rewrite version
    writeFileSync(path.join(elsewhere, stale), 'someone else’s file');
    symlinkSync(elsewhere, path.join(modelsDir, 'prelu'));
    const report = await pruneModelsCache({ modelsDir });
    expect(report.removed).toEqual([]);
    expect(files(elsewhere)).toEqual([stale]);
  });
});
