/**
 * TF.js weights: a manifest (groups of .bin shards + tensor specs) decoded to Float32Array / Int32Array.
 * Same rules as tfjs-core's io.decodeWeights: tensors lie back to back in the concatenated shards of
 * their group; uint8/uint16 affine quantisation is `value = q * scale + min` (computed in double,
 * stored as float32; rounded for int32); float16 quantisation stores IEEE half floats.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';

export type TfjsDtype = 'float32' | 'int32' | 'bool' | 'string' | 'complex64';

export interface TfjsQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  scale?: number;
  min?: number;
}

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: TfjsDtype;
  quantization?: TfjsQuantization;
}

export interface TfjsWeightsGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

export type TfjsWeightsManifest = TfjsWeightsGroup[];

export interface DecodedWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  values: Float32Array | Int32Array;
}

export type WeightMap = Map<string, DecodedWeight>;

const BYTES_PER_STORED_VALUE = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2 } as const;

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** IEEE 754 half → single, exact for every half value (subnormals, infinities, NaN included). */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function storedBytesOf(spec: TfjsWeightSpec): number {
  const stored = spec.quantization?.dtype ?? spec.dtype;
  if (!(stored in BYTES_PER_STORED_VALUE)) {
    throw new FacectlError(ExitCode.MODEL_ERROR, `weight ${spec.name}: unsupported dtype ${stored}`);
  }
  return elementCount(spec.shape) * BYTES_PER_STORED_VALUE[stored as keyof typeof BYTES_PER_STORED_VALUE];
}

function decodeOne(spec: TfjsWeightSpec, view: DataView, offset: number): DecodedWeight {
  const count = elementCount(spec.shape);
  const q = spec.quantization;
  const { name, shape } = spec;
  if (spec.dtype !== 'float32' && spec.dtype !== 'int32') {
    throw new FacectlError(ExitCode.MODEL_ERROR, `weight ${name}: unsupported dtype ${spec.dtype}`);
  }
  if (!q) {
    const values = spec.dtype === 'float32' ? new Float32Array(count) : new Int32Array(count);
    for (let i = 0; i < count; i++) {
      values[i] = spec.dtype === 'float32' ? view.getFloat32(offset + 4 * i, true) : view.getInt32(offset + 4 * i, true);
    }
    return { name, shape, dtype: spec.dtype, values };
  }
  if (q.dtype === 'float16') {
    if (spec.dtype !== 'float32') throw new FacectlError(ExitCode.MODEL_ERROR, `weight ${name}: float16 quantisation of ${spec.dtype}`);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = float16ToFloat32(view.getUint16(offset + 2 * i, true));
    return { name, shape, dtype: 'float32', values };
  }
  if (q.dtype !== 'uint8' && q.dtype !== 'uint16') {
    throw new FacectlError(ExitCode.MODEL_ERROR, `weight ${name}: unknown quantisation ${String(q.dtype)}`);
  }
  if (typeof q.scale !== 'number' || typeof q.min !== 'number') {
    throw new FacectlError(ExitCode.MODEL_ERROR, `weight ${name}: ${q.dtype} quantisation without scale and min`);
  }
  const read = q.dtype === 'uint8' ? (i: number) => view.getUint8(offset + i) : (i: number) => view.getUint16(offset + 2 * i, true);
  if (spec.dtype === 'int32') {
    const values = new Int32Array(count);
    for (let i = 0; i < count; i++) values[i] = Math.round(read(i) * q.scale + q.min);
    return { name, shape, dtype: 'int32', values };
  }
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = read(i) * q.scale + q.min;
  return { name, shape, dtype: 'float32', values };
}

/**
 * Decodes the tensors of one group from the group's concatenated shard bytes.
 * Throws a MODEL_ERROR when the bytes are too short or too long for the specs (truncated download, wrong file).
 */
export function decodeWeightGroup(specs: readonly TfjsWeightSpec[], bytes: Uint8Array, source = 'weights'): WeightMap {
  const expected = specs.reduce((sum, s) => sum + storedBytesOf(s), 0);
  if (bytes.byteLength !== expected) {
    throw new FacectlError(
      ExitCode.MODEL_ERROR,
      `weights are ${bytes.byteLength} bytes but the manifest describes ${expected}: truncated or mismatched file`,
      source,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const map: WeightMap = new Map();
  let offset = 0;
  for (const spec of specs) {
    map.set(spec.name, decodeOne(spec, view, offset));
    offset += storedBytesOf(spec);
  }
  return map;
}

/** Reads and decodes every group of a manifest; shard paths are relative to `baseDir`. */
export function loadWeights(manifest: TfjsWeightsManifest, baseDir: string): WeightMap {
  const map: WeightMap = new Map();
  for (const group of manifest) {
    const shardPaths = group.paths.map((p) => path.join(baseDir, p));
    const shards = shardPaths.map((p) => {
      try {
        return readFileSync(p);
      } catch {
        throw new FacectlError(ExitCode.MODEL_ERROR, 'weights shard missing or unreadable', p);
      }
    });
    const bytes = shards.length === 1 ? shards[0]! : Buffer.concat(shards);
    for (const [name, weight] of decodeWeightGroup(group.weights, bytes, shardPaths.join(', '))) map.set(name, weight);
  }
  return map;
}

/** Reads a weights-only manifest file (face-api style: the JSON is the group array) and decodes it. */
export function loadWeightsManifestFile(manifestPath: string): WeightMap {
  let manifest: TfjsWeightsManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as TfjsWeightsManifest;
  } catch {
    throw new FacectlError(ExitCode.MODEL_ERROR, 'weights manifest missing or not JSON', manifestPath);
  }
  if (!Array.isArray(manifest)) throw new FacectlError(ExitCode.MODEL_ERROR, 'not a TF.js weights manifest', manifestPath);
  return loadWeights(manifest, path.dirname(manifestPath));
}

/** The weight called `name`, or a MODEL_ERROR naming what is missing. */
export function requireWeight(weights: WeightMap, name: string, dtype: 'float32' | 'int32' = 'float32'): DecodedWeight {
  const w = weights.get(name);
  if (!w) throw new FacectlError(ExitCode.MODEL_ERROR, `weight ${name} is missing from the model`);
  if (w.dtype !== dtype) throw new FacectlError(ExitCode.MODEL_ERROR, `weight ${name} is ${w.dtype}, expected ${dtype}`);
  return w;
}
