import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { getBuiltinModel } from '../../src/models/builtin.js';
import {
  decodeWeightGroup,
  float16ToFloat32,
  loadWeights,
  type TfjsWeightSpec,
} from '../../src/models/tfjs-weights.js';
import { loadTfjsWasm } from '../helpers/tfjs-reference.js';

/** Little-endian bytes of the given pieces, concatenated. */
function bytes(...parts: (Float32Array | Int32Array | Uint8Array | Uint16Array)[]): Uint8Array {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

describe('float16ToFloat32', () => {
  it('decodes normals, subnormals, zeros, infinities and NaN exactly', () => {
    expect(float16ToFloat32(0x3c00)).toBe(1);
    expect(float16ToFloat32(0xc000)).toBe(-2);
    expect(float16ToFloat32(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(float16ToFloat32(0x7bff)).toBe(65504);
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16ToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(Object.is(float16ToFloat32(0x8000), -0)).toBe(true);
    expect(float16ToFloat32(0x7c00)).toBe(Infinity);
    expect(float16ToFloat32(0xfc00)).toBe(-Infinity);
    expect(float16ToFloat32(0x7e00)).toBeNaN();
  });
});

describe('decodeWeightGroup', () => {
  const specs: TfjsWeightSpec[] = [
    { name: 'f32', shape: [2, 2], dtype: 'float32' },
    { name: 'i32', shape: [3], dtype: 'int32' },
    { name: 'u8', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
    { name: 'u8int', shape: [2], dtype: 'int32', quantization: { dtype: 'uint8', scale: 0.3, min: 0 } },
    { name: 'u16', shape: [2], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.001, min: 2 } },
    { name: 'f16', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } },
  ];
  const data = bytes(
    Float32Array.from([1.5, -2, 3.25, 0]),
    Int32Array.from([7, -8, 2147483647]),
    Uint8Array.from([0, 4, 255]),
    Uint8Array.from([1, 5]),
    Uint16Array.from([0, 65535]),
    Uint16Array.from([0x3c00, 0xc000, 0x3800]),
  );

  it('dequantises every supported storage type', () => {
    const w = decodeWeightGroup(specs, data);
    expect(Array.from(w.get('f32')!.values)).toEqual([1.5, -2, 3.25, 0]);
    expect(w.get('f32')!.shape).toEqual([2, 2]);
    expect(w.get('i32')!.values).toBeInstanceOf(Int32Array);
    expect(Array.from(w.get('i32')!.values)).toEqual([7, -8, 2147483647]);
    expect(Array.from(w.get('u8')!.values)).toEqual([-1, 1, 126.5]);
    expect(w.get('u8int')!.dtype).toBe('int32');
    expect(Array.from(w.get('u8int')!.values)).toEqual([0, 2]); // round(0.3), round(1.5)
    expect(Array.from(w.get('u16')!.values)).toEqual([2, Math.fround(2 + 65.535)]);
    expect(Array.from(w.get('f16')!.values)).toEqual([1, -2, 0.5]);
  });

  it('rejects truncated or oversized data and unknown storage types', () => {
    const short = () => decodeWeightGroup(specs, data.subarray(0, data.length - 1), 'x.bin');
    expect(short).toThrow(FacectlError);
    expect(short).toThrow(/truncated/);
    try {
      short();
    } catch (e) {
      expect((e as FacectlError).code).toBe(ExitCode.MODEL_ERROR);
    }
    expect(() => decodeWeightGroup(specs, bytes(data, Uint8Array.from([0])))).toThrow(/manifest describes/);
    const bad = [{ name: 'q', shape: [1], dtype: 'float32', quantization: { dtype: 'int4' } }] as unknown as TfjsWeightSpec[];
    expect(() => decodeWeightGroup(bad, new Uint8Array(1))).toThrow(FacectlError);
  });

  it('reads groups split over several shard files', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-weights-'));
    writeFileSync(path.join(dir, 'a.bin'), data.subarray(0, 10));
    writeFileSync(path.join(dir, 'b.bin'), data.subarray(10));
    const w = loadWeights([{ paths: ['a.bin', 'b.bin'], weights: specs }], dir);
    expect(Array.from(w.get('f16')!.values)).toEqual([1, -2, 0.5]);
    expect(() => loadWeights([{ paths: ['missing.bin'], weights: specs }], dir)).toThrow(/missing/);
  });
});

/** Bytes of a decoded array, to compare two decodings bit for bit. */
const bits = (values: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) =>
  Buffer.from(values.buffer, values.byteOffset, values.byteLength);

describe('real manifests decode bit for bit as tfjs io.decodeWeights does', () => {
  it('face-api dlib ResNet (uint8 affine + float32) and human facemesh (float16)', async () => {
    const tf = await loadTfjsWasm();
    const cases = [
      { manifestPath: getBuiltinModel('dlib-resnet').sources[0]!, manifest: (j: unknown) => j },
      { manifestPath: getBuiltinModel('facemesh').tfjs!.modelJson, manifest: (j: { weightsManifest: unknown }) => j.weightsManifest },
    ];
    for (const { manifestPath, manifest } of cases) {
      const groups = manifest(JSON.parse(readFileSync(manifestPath, 'utf8'))) as { paths: string[]; weights: TfjsWeightSpec[] }[];
      const ours = loadWeights(groups, path.dirname(manifestPath));
      let compared = 0;
      for (const group of groups) {
        const bin = Buffer.concat(group.paths.map((p) => readFileSync(path.join(path.dirname(manifestPath), p))));
        const theirs = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), group.weights);
        for (const [name, tensor] of Object.entries(theirs)) {
          expect(bits(ours.get(name)!.values).equals(bits(tensor.dataSync() as Float32Array)), name).toBe(true);
          compared++;
        }
        tf.dispose(Object.values(theirs));
      }
      expect(compared).toBe(ours.size);
      expect(compared).toBeGreaterThan(100);
    }
  });
});
