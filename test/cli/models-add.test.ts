/**
 * `facectl models add` on fixed-batch files: FacePlugin's fr_feature.onnx straight from node_modules
 * (batch 1 in its input and in its last Reshape) is freed, proved equal and then used by `verify`; a
 * file whose batch cannot be freed runs face by face; a file that cannot run is refused with exit 13
 * and its reason. onnxruntime's own warnings never reach the terminal.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { facepluginOnnx } from '../../src/models/builtin.js';
import { OnnxGraphBuilder } from '../../src/models/onnx/graph-builder.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-models-add-'));
const env = { FACECTL_STORE: path.join(tmp, 'store'), FACECTL_CACHE_DIR: path.join(tmp, 'cache'), FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models') };
const cli = (...argv: string[]) => runCli(argv, env);
const noNativeLog = (stderr: string) => expect(stderr).not.toMatch(/\[W:onnxruntime|\[E:onnxruntime|onnxruntime::/);

describe('models add: fixed-batch files and files that cannot run', () => {
  it('fr_feature.onnx from node_modules: batch freed and proved equal, 512-d, nothing from onnxruntime on stderr', () => {
    const r = cli('models', 'add', facepluginOnnx(), '--id', 'fr-feature', '--mean', '127', '--std', '128', '--json');
    expect(r.code, r.stderr).toBe(0);
    noNativeLog(r.stderr);
    const spec = JSON.parse(r.stdout);
    expect([spec.id, spec.layout, spec.dim, spec.fixedBatch]).toEqual(['fr-feature', 'NCHW', 512, undefined]);
    expect(spec.description).toMatch(/batch 1 freed, proved equal/);
  });

  it('a file whose batch cannot be freed (it mixes the faces of a call) is kept at batch 1 and run face by face', () => {
    const file = path.join(tmp, 'mixing.onnx');
    writeFileSync(file, buildToyEmbedderOnnx({ inputSize: 112, dim: 32, batch: 1, mixRows: true }));
    const r = cli('models', 'add', file, '--json');
    expect(r.code, r.stderr).toBe(0);
    const spec = JSON.parse(r.stdout);
    expect(spec.fixedBatch).toBe(1);
    expect(spec.description).toMatch(/fixed batch 1: faces run 1 at a time/);
  });

  it('a file that loads but cannot run: exit 13 with the reason, never "internal error"', () => {
    const file = path.join(tmp, 'broken.onnx');
    writeFileSync(file, buildToyEmbedderOnnx({ inputSize: 112, dim: 32, batch: 1, broken: true }));
    const r = cli('models', 'add', file);
    expect(r.code).toBe(ExitCode.MODEL_ERROR);
    expect(r.stderr).toMatch(/broken\.onnx: the model cannot run on 1 face\(s\): Reshape node '[^']*broken': The input tensor cannot be reshaped/);
    expect(r.stderr).not.toMatch(/internal error/);
    noNativeLog(r.stderr);
    expect(JSON.parse(cli('models', 'list', '--json').stdout).models.some((m: { id: string }) => m.id === 'broken')).toBe(false);
  });

  it('a classifier-sized output (1 or 2 numbers per face) or a float16 output is refused: as an embedder it would match everyone, or be read as raw bits', () => {
    for (const [name, options, reason] of [
      ['score.onnx', { dim: 1 }, /score\.onnx: its output has 1 number\(s\) per face: a classifier's or a score's .* it would match everyone to everyone/],
      ['antispoof.onnx', { dim: 2 }, /its output has 2 number\(s\) per face/],
      ['half.onnx', { dim: 128, float16Output: true }, /half\.onnx: output "embedding" is float16; facectl runs float32 models only/],
    ] as const) {
      const file = path.join(tmp, name);
      writeFileSync(file, buildToyEmbedderOnnx({ inputSize: 112, ...options }));
      const r = cli('models', 'add', file);
      expect(r.code, r.stderr).toBe(ExitCode.MODEL_ERROR);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(reason);
    }
    expect(JSON.parse(cli('models', 'list', '--json').stdout).models.some((m: { id: string }) => ['score', 'antispoof', 'half'].includes(m.id))).toBe(false);
  });

  it('a graph that normalises its input itself (Sub, Mul first, as mxnet ArcFace exports) is fed raw 0..255 pixels, unless --mean/--std say otherwise', () => {
    const own = { ...env, FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models-normalising') };
    const cli = (...argv: string[]) => runCli(argv, own);
    const file = path.join(tmp, 'mxnet-style.onnx');
    writeFileSync(file, buildToyEmbedderOnnx({ dim: 64, normaliseInput: true }));
    const plain = path.join(tmp, 'plain.onnx');
    writeFileSync(plain, buildToyEmbedderOnnx({ dim: 64 }));
    for (const argv of [[file, '--id', 'raw'], [file, '--id', 'told', '--mean', '127.5', '--std', '127.5'], [plain, '--id', 'plain']]) expect(cli('models', 'add', ...argv).code).toBe(0);
    const specs = JSON.parse(readFileSync(path.join(own.FACECTL_USER_MODELS_DIR, 'user-models.json'), 'utf8')).embedders;
    const norm = (id: string) => specs.filter((m: { id: string }) => m.id === id).map((m: { mean: number; std: number }) => [m.mean, m.std])[0];
    expect([norm('raw'), norm('told'), norm('plain')]).toEqual([[0, 1], [127.5, 127.5], [127.5, 127.5]]);
    expect(specs.find((m: { id: string }) => m.id === 'raw').description).toMatch(/the graph normalises its input itself/);
  });

  it('a dynamic-batch file that runs only on an even number of rows: refused with --no-flip (one face is one row), kept with the mirrored view', () => {
    // GlobalAveragePool → Reshape [2, −1] → Reshape [−1, 3] → MatMul: rows are paired, so one row cannot be reshaped.
    const b = new OnnxGraphBuilder('pairs');
    b.addInput('input', ['N', 3, 112, 112]);
    const pooled = b.node('GlobalAveragePool', ['input'], {}, 'gap');
    const paired = b.node('Reshape', [pooled, b.addInitializer('pair_shape', BigInt64Array.from([2n, -1n]), [2])], {}, 'pair');
    const rows = b.node('Reshape', [paired, b.addInitializer('row_shape', BigInt64Array.from([-1n, 3n]), [2])], {}, 'rows');
    b.exposeAs(b.node('MatMul', [rows, b.addInitializer('w', Float32Array.from({ length: 96 }, (_, i) => Math.sin(i + 1)), [3, 32])], {}, 'fc'), 'embedding', ['N', 32]);
    const file = path.join(tmp, 'pairs.onnx');
    writeFileSync(file, b.toBytes());
    const refused = cli('models', 'add', file, '--id', 'pairs-noflip', '--no-flip');
    expect(refused.code, refused.stderr).toBe(ExitCode.MODEL_ERROR);
    expect(refused.stderr).toMatch(/pairs\.onnx: the model cannot run on 1 face\(s\): Reshape node '[^']*pair'/);
    const kept = cli('models', 'add', file, '--id', 'pairs-flip', '--json');
    expect(kept.code, kept.stderr).toBe(0);
    const ids = JSON.parse(cli('models', 'list', '--json').stdout).models.map((m: { id: string }) => m.id);
    expect(ids).toContain('pairs-flip');
    expect(ids).not.toContain('pairs-noflip');
  });

  it("a built-in model's id (facemesh, mtcnn-pnet, fr-landmark, an ensemble, a detector) is refused, and cannot be removed; a user model that has one (added before that built-in shipped) can still be removed", () => {
    const own = { ...env, FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models-builtin-ids') };
    const cli = (...argv: string[]) => runCli(argv, own);
    const file = path.join(tmp, 'toy-ids.onnx');
    writeFileSync(file, buildToyEmbedderOnnx({ inputSize: 112, dim: 32 }));
    for (const id of ['facemesh', 'mtcnn-pnet', 'fr-landmark', 'ensemble', 'mtcnn']) {
      const r = cli('models', 'add', file, '--id', id);
      expect(r.code, `${id}: ${r.stderr}`).toBe(ExitCode.USAGE);
      // Not "facectl models remove <id>", which cannot remove a built-in.
      expect(r.stderr).toBe(`facectl: "${id}" is a built-in model's id: choose another with --id\n`);
    }
    for (const id of ['ensemble', 'ensemble-noflip', 'mtcnn', 'blazeface']) {
      const r = cli('models', 'remove', id);
      expect(r.code, `${id}: ${r.stderr}`).toBe(ExitCode.USAGE);
      expect(r.stderr).toBe(`facectl: ${id} is built in and cannot be removed\n`);
    }
    expect(cli('models', 'add', file, '--id', 'mine').code).toBe(0);
    expect(cli('models', 'add', file, '--id', 'mine').stderr).toContain('a model named "mine" already exists (choose another with --id, or `facectl models remove mine`)');
    expect(cli('models', 'remove', 'mine').code).toBe(0);
    // Registered under another id, then renamed in the registry: what a model added under a name that a
    // later facectl gave to a built-in looks like.
    expect(cli('models', 'add', file, '--id', 'old-name').code).toBe(0);
    const registry = path.join(own.FACECTL_USER_MODELS_DIR, 'user-models.json');
    writeFileSync(registry, readFileSync(registry, 'utf8').replace('"id": "old-name"', '"id": "facemesh"'));
    const removed = cli('models', 'remove', 'facemesh');
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe('removed your model facemesh; the built-in facemesh is unaffected\n');
    const again = cli('models', 'remove', 'facemesh');
    expect(again.code).toBe(ExitCode.USAGE);
    expect(again.stderr).toContain('facemesh is built in and cannot be removed');
  });

  describe.skipIf(!hasDatasets)(`with real photos${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
    const ex = (f: string) => dataset('face-recognition-examples', f);
    it('verify and eval work with the freed fr_feature; verify with the face-by-face model', () => {
      // Its own models folder and registrations, so it holds whatever ran before it (vitest -t, reorders).
      const own = { ...env, FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models-verify'), FACECTL_STORE: path.join(tmp, 'store-verify') };
      const cli = (...argv: string[]) => runCli(argv, own);
      const mixingFile = path.join(tmp, 'mixing-verify.onnx');
      writeFileSync(mixingFile, buildToyEmbedderOnnx({ inputSize: 112, dim: 32, batch: 1, mixRows: true }));
      for (const add of [[facepluginOnnx(), '--id', 'fr-feature', '--mean', '127', '--std', '128'], [mixingFile, '--id', 'mixing']]) {
        const r = cli('models', 'add', ...add);
        expect(r.code, r.stderr).toBe(0);
      }
      const same = cli('verify', ex('joe_biden/biden.jpg'), ex('joe_biden/biden2.jpg'), '--model', 'fr-feature', '--json');
      expect(same.code, same.stderr).toBe(0);
      noNativeLog(same.stderr);
      const other = cli('verify', ex('joe_biden/biden.jpg'), ex('barack_obama/obama.jpg'), '--model', 'fr-feature', '--json');
      expect(other.code, other.stderr).toBe(ExitCode.UNKNOWN_FACE);
      expect(JSON.parse(same.stdout).similarity).toBeGreaterThan(JSON.parse(other.stdout).similarity + 0.3);
      const ev = cli('eval', '--dataset', dataset('face-recognition-examples'), '--model', 'fr-feature', '--reports', path.join(tmp, 'reports'), '--no-charts', '--json');
      expect(ev.code, ev.stderr).toBe(0);
      noNativeLog(ev.stderr);
      expect(JSON.parse(ev.stdout).metrics.verification.allPairs.rocAuc).toBeGreaterThan(0.95);
      // The toy model's scores mean nothing, so its decision is pinned: one photo against itself must
      // run and give equal embeddings (similarity 1, SAME), rather than accepting either exit code.
      const mixing = cli('verify', ex('joe_biden/biden.jpg'), ex('joe_biden/biden.jpg'), '--model', 'mixing', '--json');
      expect(mixing.code, mixing.stderr).toBe(0);
      expect(JSON.parse(mixing.stdout).similarity).toBeCloseTo(1, 5);
    });
  });
});
