/**
 * The dlib ResNet face descriptor (128-d), rebuilt in ONNX from face-api's weights-only manifest
 * (`face_recognition_model-weights_manifest.json` + `.bin`). The architecture is face-api's
 * FaceRecognitionNet (src/faceRecognitionNet/ in @vladmandic/face-api), written out once below.
 *
 * Input `input` [N,150,150,3] NHWC float32, RGB 0..255; the graph subtracts face-api's mean RGB and
 * divides by 255 itself. Output `embedding` [N,128], not normalised.
 */
import { ExitCode, FacectlError } from '../errors.js';
import { OnnxGraphBuilder } from './onnx/graph-builder.js';
import { convOutputSize, hwioToOihw, NHWC_TO_NCHW, resolvePads, type Value } from './onnx/nhwc-layers.js';
import { loadWeightsManifestFile, requireWeight, type WeightMap } from './tfjs-weights.js';

export const DLIB_INPUT_SIZE = 150;
/** face-api's ops/normalize: subtracted per channel before dividing by 255. */
export const DLIB_MEAN_RGB = [122.782, 117.001, 104.298] as const;

/**
 * After the stem (7×7/2 conv + 3×3/2 max pool), in order. `down` blocks halve the resolution:
 * their shortcut is a 2×2/2 average pool, zero-padded to the doubled channel count.
 *
 * | block            | kind | channels | output size |
 * |------------------|------|----------|-------------|
 * | conv32_down      | stem | 32       | 35×35       |
 * | conv32_1..3      | res  | 32       | 35×35       |
 * | conv64_down      | down | 64       | 17×17       |
 * | conv64_1..3      | res  | 64       | 17×17       |
 * | conv128_down     | down | 128      | 8×8         |
 * | conv128_1..2     | res  | 128      | 8×8         |
 * | conv256_down     | down | 256      | 4×4         |
 * | conv256_1..2     | res  | 256      | 4×4         |
 * | conv256_down_out | down | 256      | 2×2         |
 * | mean over H,W, then fc 256→128                          |
 */
export const DLIB_RESNET_BLOCKS: readonly { name: string; down: boolean }[] = [
  { name: 'conv32_1', down: false },
  { name: 'conv32_2', down: false },
  { name: 'conv32_3', down: false },
  { name: 'conv64_down', down: true },
  { name: 'conv64_1', down: false },
  { name: 'conv64_2', down: false },
  { name: 'conv64_3', down: false },
  { name: 'conv128_down', down: true },
  { name: 'conv128_1', down: false },
  { name: 'conv128_2', down: false },
  { name: 'conv256_down', down: true },
  { name: 'conv256_1', down: false },
  { name: 'conv256_2', down: false },
  { name: 'conv256_down_out', down: true },
];

/** NCHW value: `shape` is [N, C, H, W] with N = -1. */
type Nchw = Value;

class DlibResnetBuilder {
  readonly b = new OnnxGraphBuilder('dlib-resnet', {
    docString: 'dlib ResNet 128-d face descriptor, from @vladmandic/face-api face_recognition_model (face-api FaceRecognitionNet)',
  });

  constructor(private readonly weights: WeightMap) {}

  /**
   * face-api convLayer: conv (+bias) → scale layer (x·w + b) → optional ReLU.
   * The scale layer is folded into the conv weights and bias (one float32 rounding of the product).
   */
  conv(x: Nchw, prefix: string, stride: number, padding: 'SAME' | 'VALID', relu: boolean): Nchw {
    const filters = requireWeight(this.weights, `${prefix}/conv/filters`);
    const bias = requireWeight(this.weights, `${prefix}/conv/bias`).values;
    const scale = requireWeight(this.weights, `${prefix}/scale/weights`).values;
    const shift = requireWeight(this.weights, `${prefix}/scale/biases`).values;
    const [kh, kw, ci, co] = filters.shape as [number, number, number, number];
    if (x.shape[1] !== ci) throw new FacectlError(ExitCode.MODEL_ERROR, `${prefix}: expects ${ci} channels, got ${x.shape[1]}`);
    const weight = hwioToOihw(filters.values as Float32Array, filters.shape);
    const perOut = ci * kh * kw;
    for (let o = 0; o < co; o++) for (let i = 0; i < perOut; i++) weight[o * perOut + i]! *= scale[o]!;
    const foldedBias = Float32Array.from(bias, (v, o) => v * scale[o]! + shift[o]!);
    const [h, w] = [x.shape[2]!, x.shape[3]!];
    const pads = resolvePads(padding, [h, w], [kh, kw], [stride, stride]);
    const b = this.b;
    let y = b.node(
      'Conv',
      [x.name, b.addInitializer(`${prefix}/weight`, weight, [co, ci, kh, kw]), b.addInitializer(`${prefix}/bias`, foldedBias, [co])],
      { kernel_shape: [kh, kw], strides: [stride, stride], pads: [pads[0], pads[1], pads[2], pads[3]] },
      prefix,
    );
    if (relu) y = b.node('Relu', [y], {}, `${prefix}/relu`);
    return { name: y, shape: [-1, co, convOutputSize(h, kh, stride, pads[0], pads[2]), convOutputSize(w, kw, stride, pads[1], pads[3])] };
  }

  /** Zero-pads the end of axes 1 (C), 2 (H) and 3 (W) of an NCHW value. */
  padEnd(x: Nchw, [c, h, w]: [number, number, number], name: string): Nchw {
    const pads = this.b.constInt64(`${name}/pads`, [0, 0, 0, 0, 0, c, h, w]);
    const s = x.shape;
    return { name: this.b.node('Pad', [x.name, pads], {}, name), shape: [-1, s[1]! + c, s[2]! + h, s[3]! + w] };
  }

  residual(x: Nchw, name: string): Nchw {
    const a = this.conv(x, `${name}/conv1`, 1, 'SAME', true);
    const c = this.conv(a, `${name}/conv2`, 1, 'SAME', false);
    const sum = this.b.node('Add', [c.name, x.name], {}, `${name}/add`);
    return { name: this.b.node('Relu', [sum], {}, `${name}/relu`), shape: c.shape };
  }

  /** face-api residualDown, including its two shape fixes (see the file comment). */
  residualDown(x: Nchw, name: string): Nchw {
    const a = this.conv(x, `${name}/conv1`, 2, 'VALID', true);
    let c = this.conv(a, `${name}/conv2`, 1, 'SAME', false);
    const pooledName = this.b.node('AveragePool', [x.name], { kernel_shape: [2, 2], strides: [2, 2] }, `${name}/shortcut_pool`);
    let pooled: Nchw = { name: pooledName, shape: [-1, x.shape[1]!, Math.floor(x.shape[2]! / 2), Math.floor(x.shape[3]! / 2)] };
    // The valid 3×3/2 conv can be one pixel smaller than the pooled map: face-api appends a zero row and column.
    if (c.shape[2] !== pooled.shape[2] || c.shape[3] !== pooled.shape[3]) {
      if (pooled.shape[2]! - c.shape[2]! !== 1 || pooled.shape[3]! - c.shape[3]! !== 1) {
        throw new FacectlError(ExitCode.MODEL_ERROR, `${name}: unexpected shapes [${c.shape}] vs [${pooled.shape}]`);
      }
      c = this.padEnd(c, [0, 1, 1], `${name}/pad_hw`);
    }
    // The shortcut's channels are doubled with zeros (face-api concatenates zeros of its own shape).
    if (pooled.shape[1] !== c.shape[1]) pooled = this.padEnd(pooled, [pooled.shape[1]!, 0, 0], `${name}/pad_channels`);
    if (pooled.shape[1] !== c.shape[1]) throw new FacectlError(ExitCode.MODEL_ERROR, `${name}: shortcut channels do not match`);
    const sum = this.b.node('Add', [pooled.name, c.name], {}, `${name}/add`);
    return { name: this.b.node('Relu', [sum], {}, `${name}/relu`), shape: c.shape };
  }

  build(): { bytes: Uint8Array; input: Value; outputs: Value[] } {
    const b = this.b;
    const size = DLIB_INPUT_SIZE;
    const input = b.addInput('input', ['N', size, size, 3]);
    const centred = b.node('Sub', [input, b.constFloat('mean_rgb', DLIB_MEAN_RGB, [3])], {}, 'normalize/sub_mean');
    const scaled = b.node('Div', [centred, b.constFloat('255', [255], [])], {}, 'normalize/div_255');
    let x: Nchw = { name: b.node('Transpose', [scaled], { perm: NHWC_TO_NCHW }, 'to_nchw'), shape: [-1, 3, size, size] };
    x = this.conv(x, 'conv32_down', 2, 'VALID', true);
    x = {
      name: b.node('MaxPool', [x.name], { kernel_shape: [3, 3], strides: [2, 2] }, 'stem_pool'),
      shape: [-1, x.shape[1]!, convOutputSize(x.shape[2]!, 3, 2, 0, 0), convOutputSize(x.shape[3]!, 3, 2, 0, 0)],
    };
    for (const block of DLIB_RESNET_BLOCKS) x = block.down ? this.residualDown(x, block.name) : this.residual(x, block.name);
    const pooled = b.node('ReduceMean', [x.name], { axes: [2, 3], keepdims: 0 }, 'global_avg');
    const fc = requireWeight(this.weights, 'fc');
    if (fc.shape[0] !== x.shape[1]) throw new FacectlError(ExitCode.MODEL_ERROR, `fc expects ${fc.shape[0]} features, got ${x.shape[1]}`);
    const dim = fc.shape[1]!;
    const embedding = b.node('MatMul', [pooled, b.addInitializer('fc', fc.values as Float32Array, fc.shape)], {}, 'fc');
    b.exposeAs(embedding, 'embedding', ['N', dim]);
    return { bytes: b.toBytes(), input: { name: input, shape: [-1, size, size, 3] }, outputs: [{ name: 'embedding', shape: [-1, dim] }] };
  }
}

/** Builds the ONNX model from decoded face-api weights. */
export function buildDlibResnetOnnx(weights: WeightMap): { bytes: Uint8Array; input: Value; outputs: Value[] } {
  return new DlibResnetBuilder(weights).build();
}

/** Reads face-api's `face_recognition_model-weights_manifest.json` (+ .bin beside it) and builds the ONNX model. */
export function convertDlibResnet(manifestPath: string): { bytes: Uint8Array; input: Value; outputs: Value[] } {
  const weights = loadWeightsManifestFile(manifestPath);
  try {
    return buildDlibResnetOnnx(weights);
  } catch (err) {
    if (err instanceof FacectlError) throw new FacectlError(err.code, err.message, manifestPath);
    throw err;
  }
}
