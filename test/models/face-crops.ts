/**
 * Real photos turned into model inputs for the conversion tests and the bench: each model gets the
 * layout, size, channel order and value range of its ONNX input (builtin.ts), from real faces
 * (never random noise alone). LFW deep-funneled photos are 250×250 with the face centred, so a
 * fixed central square is a face crop; detectors see the whole photo.
 */
import sharp from 'sharp';
import { getBuiltinModel, type BuiltinModelId } from '../../src/models/builtin.js';
import { BUILTIN_EMBEDDERS } from '../../src/models/registry.js';
import { writeNetworkInput } from '../../src/pipeline/embedder.js';
import { dataset } from '../helpers/shared.js';

/** Centred faces, 250×250. */
export const LFW_FACES = [
  'lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg',
  'lfw/Colin_Powell/Colin_Powell_0001.jpg',
  'lfw/Serena_Williams/Serena_Williams_0001.jpg',
  'lfw/Serena_Williams/Serena_Williams_0002.jpg',
];

/** Whole photos of various sizes, for detectors. */
export const SCENE_PHOTOS = [
  'face-recognition-examples/barack_obama/obama.jpg',
  'face-recognition-examples/joe_biden/biden.jpg',
  'face-recognition-examples/rose_leslie/img1.jpg',
  'face-recognition-examples/kit_harington/john1.jpeg',
];

/** The square around the face in an LFW deep-funneled photo (generous, like a detector box ×1.4). */
const LFW_FACE_BOX = { left: 55, top: 55, width: 140, height: 140 };

async function rgbPixels(file: string, size: number, cropFace: boolean): Promise<Buffer> {
  let image = sharp(dataset(file)).removeAlpha().toColourspace('srgb');
  if (cropFace) image = image.extract(LFW_FACE_BOX);
  return image.resize(size, size, { fit: 'fill' }).raw().toBuffer();
}

/** The ONNX input of model `id` for these photos: NHWC float32, its channel order and value range. */
export async function modelInput(id: BuiltinModelId, files: readonly string[], cropFace: boolean): Promise<Float32Array> {
  const { input } = getBuiltinModel(id);
  const size = input.dims[1] as number;
  const [lo, hi] = input.range;
  const per = size * size * 3;
  const out = new Float32Array(files.length * per);
  for (const [n, file] of files.entries()) {
    const px = await rgbPixels(file, size, cropFace);
    for (let i = 0; i < size * size; i++) {
      for (let c = 0; c < 3; c++) {
        const source = input.channels === 'BGR' ? 2 - c : c;
        out[n * per + i * 3 + c] = lo + (px[i * 3 + source]! / 255) * (hi - lo);
      }
    }
  }
  return out;
}

/** Inputs a model is tested on: faces for landmarkers and embedders, whole photos for detectors. */
export async function realInputs(id: BuiltinModelId): Promise<{ data: Float32Array; batch: number }> {
  const kind = getBuiltinModel(id).kind;
  const data =
    kind === 'detector'
      ? await modelInput(id, [...SCENE_PHOTOS, ...LFW_FACES.slice(0, 2)], false)
      : await modelInput(id, LFW_FACES, true);
  return { data, batch: kind === 'detector' ? SCENE_PHOTOS.length + 2 : LFW_FACES.length };
}

/** An LFW photo's centred face as an aligned crop: HWC RGB 0..255, size × size (what Embedder.crop returns). */
export async function lfwFaceCrop(file: string, size: number): Promise<Float32Array> {
  return Float32Array.from(await rgbPixels(file, size, true));
}

/** LFW_FACES as the pipeline feeds built-in embedder `id`: centred face, its input size, layout and normalisation. */
export async function embedderInput(id: string): Promise<Float32Array> {
  const s = BUILTIN_EMBEDDERS.find((e) => e.id === id)!;
  const per = s.inputSize * s.inputSize * 3;
  const out = new Float32Array(LFW_FACES.length * per);
  for (const [n, file] of LFW_FACES.entries()) writeNetworkInput(await lfwFaceCrop(file, s.inputSize), s, out, n * per);
  return out;
}
