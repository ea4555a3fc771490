/**
 * A tiny deterministic embedder ONNX file, for testing code that handles user-supplied models
 * (e.g. ArcFace-style 112×112 NCHW files) without shipping a real one:
 * conv 3×3/2 → ReLU → conv 3×3/2 → ReLU → [global average ‖ global max] → MatMul → embedding.
 * Weights come from a seeded PRNG, so the same options always give the same bytes.
 */
import { OnnxGraphBuilder, type Dim } from './graph-builder.js';
import { NHWC_TO_NCHW } from './nhwc-layers.js';

export interface ToyEmbedderOptions {
  inputSize?: number;
  dim?: number;
  layout?: 'NCHW' | 'NHWC';
  /** Batch dimension: dynamic ('N', the default) or fixed. */
  batch?: 'dynamic' | number;
  inputName?: string;
  outputName?: string;
  seed?: number;
  /** With a fixed batch: flatten with Reshape [batch, −1], as PyTorch exports bake the batch into the graph. */
  reshapeBatch?: boolean;
  /** Add the batch mean to every row: faces of one call mix, so the batch cannot be freed (a fixture for that proof). */
  mixRows?: boolean;
  /** A last Reshape to [batch, dim + 1]: loads, but cannot run (a fixture for "cannot run"). */
  broken?: boolean;
  /** The embedding cast to float16, as some half-precision exports give it (a fixture for "float32 only"). */
  float16Output?: boolean;
  /** Begin with Sub 127.5 and Mul 1/127.5, as mxnet ArcFace exports do (they take raw 0..255 pixels). */
  normaliseInput?: boolean;
}

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform weights scaled by 1/sqrt(fan-in), so activations keep a sensible range. */
const randomWeights = (rand: () => number, count: number, fanIn: number): Float32Array =>
  Float32Array.from({ length: count }, () => ((rand() * 2 - 1) * Math.sqrt(3)) / Math.sqrt(fanIn));

export function buildToyEmbedderOnnx(options: ToyEmbedderOptions = {}): Uint8Array {
  const { inputSize = 112, dim = 512, layout = 'NCHW', batch = 'dynamic', inputName = 'input', outputName = 'embedding', seed = 1 } = options;
  const fixed = typeof batch === 'number' ? batch : -1;
  const rand = prng(seed);
  const b = new OnnxGraphBuilder('toy-embedder', { docString: `facectl toy embedder (test fixture): ${JSON.stringify(options)}` });
  const n: Dim = batch === 'dynamic' ? 'N' : batch;
  const dims: Dim[] = layout === 'NCHW' ? [n, 3, inputSize, inputSize] : [n, inputSize, inputSize, 3];
  b.addInput(inputName, dims);
  let x = layout === 'NCHW' ? inputName : b.node('Transpose', [inputName], { perm: NHWC_TO_NCHW }, 'to_nchw');
  if (options.normaliseInput) {
    x = b.node('Sub', [x, b.constFloat('minus_mean', [127.5], [])], {}, '_minusscalar0');
    x = b.node('Mul', [x, b.constFloat('times_scale', [1 / 127.5], [])], {}, '_mulscalar0');
  }
  // Inputs may be 0..255: scale down first so the random weights do not saturate.
  x = b.node('Mul', [x, b.constFloat('input_scale', [1 / 128], [])], {}, 'scale');
  let channels = 3;
  for (const [i, out] of [8, 16].entries()) {
    const w = b.addInitializer(`conv${i}/weight`, randomWeights(rand, out * channels * 9, channels * 9), [out, channels, 3, 3]);
    const bias = b.addInitializer(`conv${i}/bias`, randomWeights(rand, out, 9), [out]);
    x = b.node('Conv', [x, w, bias], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, `conv${i}`);
    x = b.node('Relu', [x], {}, `conv${i}/relu`);
    channels = out;
  }
  const avg = b.node('GlobalAveragePool', [x], {}, 'avg_pool');
  const max = b.node('GlobalMaxPool', [x], {}, 'max_pool');
  const pools = b.node('Concat', [avg, max], { axis: 1 }, 'pools');
  const pooled = options.reshapeBatch
    ? b.node('Reshape', [pools, b.addInitializer('flatten/shape', BigInt64Array.from([BigInt(fixed), -1n]), [2])], {}, 'flatten')
    : b.node('Flatten', [pools], { axis: 1 }, 'flatten');
  const proj = b.addInitializer('fc/weight', randomWeights(rand, 2 * channels * dim, 2 * channels), [2 * channels, dim]);
  let y = b.node('MatMul', [pooled, proj], {}, 'fc');
  if (options.mixRows) y = b.node('Add', [y, b.node('ReduceMean', [y], { axes: [0], keepdims: 1 }, 'batch_mean')], {}, 'mix');
  if (options.broken) y = b.node('Reshape', [y, b.addInitializer('broken/shape', BigInt64Array.from([BigInt(fixed), BigInt(dim + 1)]), [2])], {}, 'broken');
  if (options.float16Output) y = b.node('Cast', [y], { to: 10 /* FLOAT16 */ }, 'to_float16');
  b.exposeAs(y, outputName, [n, dim], options.float16Output ? 'float16' : 'float32');
  return b.toBytes();
}
