/**
 * Embedding stage: align each face to its embedder's template, build the network input the way that
 * embedder was trained (channel order, normalisation, layout), run in batches, L2-normalise.
 */
import type ort from 'onnxruntime-node';
import { ModelError } from '../errors.js';
import type { EmbedderSpec } from '../models/registry.js';
import { alignFace } from './align.js';
import { runSession } from './runtime.js';
import type { Point, RgbImage } from './types.js';
import { dot, l2normalize } from './vector.js';

export { l2normalize } from './vector.js';

/**
 * Write one HWC RGB 0..255 crop into `dst` at `offset` in the model's layout, channel order and value
 * range; `mirror` writes it flipped left↔right (flip test-time augmentation) without a temporary copy.
 */
export function writeNetworkInput(crop: Float32Array, spec: EmbedderSpec, dst: Float32Array, offset: number, mirror = false): void {
  const size = spec.inputSize, plane = size * size;
  const scale = 1 / spec.std, bias = -spec.mean / spec.std;
  const first = spec.channels === 'BGR' ? 2 : 0, last = 2 - first;
  const nhwc = spec.layout === 'NHWC';
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const s = (y * size + (mirror ? size - 1 - x : x)) * 3, p = y * size + x;
      const c0 = crop[s + first]! * scale + bias, c1 = crop[s + 1]! * scale + bias, c2 = crop[s + last]! * scale + bias;
      if (nhwc) {
        dst[offset + 3 * p] = c0; dst[offset + 3 * p + 1] = c1; dst[offset + 3 * p + 2] = c2;
      } else {
        dst[offset + p] = c0; dst[offset + plane + p] = c1; dst[offset + 2 * plane + p] = c2;
      }
    }
  }
}

/**
 * The model's vector at unit length. A zero or non-finite one has no direction: stored or compared, it
 * would match nobody (or fail deep in a search), so it is the model's failure here, for every command.
 */
function unitEmbedding(v: Float32Array, model: string): Float32Array {
  const norm = Math.sqrt(dot(v, v));
  if (!(norm > 0) || norm === Infinity) throw new ModelError(model, `it produced a ${norm === 0 ? 'zero' : 'non-finite'} embedding vector for a face`);
  return l2normalize(v);
}

export class FaceEmbedder {
  /** Faces per onnxruntime call: large enough to amortise the call, small enough to bound memory. */
  static readonly BATCH = 16;

  constructor(
    readonly spec: EmbedderSpec,
    private readonly session: ort.InferenceSession,
    private readonly ortTensor: typeof ort.Tensor,
  ) {}

  /** Aligned crop (HWC RGB 0..255) for one face: what the embedder sees. */
  crop(image: RgbImage, landmarks: readonly Point[]): Float32Array {
    return alignFace(image, landmarks, this.spec.template);
  }

  /** Embed aligned crops; returns one L2-normalised vector per crop. */
  async embedCrops(crops: Float32Array[]): Promise<Float32Array[]> {
    const { spec } = this;
    const views = spec.flip ? 2 : 1;
    const per = spec.inputSize * spec.inputSize * 3;
    const result: Float32Array[] = [];
    for (let start = 0; start < crops.length; start += FaceEmbedder.BATCH) {
      const chunk = crops.slice(start, start + FaceEmbedder.BATCH);
      const input = new Float32Array(chunk.length * views * per);
      chunk.forEach((crop, i) => {
        writeNetworkInput(crop, spec, input, i * views * per);
        if (spec.flip) writeNetworkInput(crop, spec, input, (i * views + 1) * per, true);
      });
      const data = await this.runRows(input, chunk.length * views);
      const dim = spec.dim;
      for (let i = 0; i < chunk.length; i++) {
        const v = new Float32Array(dim);
        for (let k = 0; k < views; k++) {
          const o = (i * views + k) * dim;
          for (let d = 0; d < dim; d++) v[d] += data[o + d]!;
        }
        result.push(unitEmbedding(v, spec.id));
      }
    }
    return result;
  }

  /**
   * The network on `rows` inputs; returns rows × dim values. A model with a fixed batch runs that many
   * rows at a time, the last group padded with zeros. A failure is the model's (ModelError, exit 13), not a bug.
   */
  private async runRows(input: Float32Array, rows: number): Promise<Float32Array> {
    const { spec } = this;
    const per = spec.inputSize * spec.inputSize * 3;
    const group = spec.fixedBatch ?? rows;
    // A fixed batch of 0 (or −1, 1.5) from a damaged registry would never advance: the model's failure, not a hang.
    if (!Number.isInteger(group) || group < 1) throw new ModelError(spec.id, `its fixed batch must be a positive whole number (got ${spec.fixedBatch})`);
    const out = new Float32Array(rows * spec.dim);
    for (let start = 0; start < rows; start += group) {
      let batch = input.subarray(start * per, Math.min(rows, start + group) * per);
      if (batch.length < group * per) {
        const padded = new Float32Array(group * per);
        padded.set(batch);
        batch = padded;
      }
      const dims = spec.layout === 'NHWC' ? [group, spec.inputSize, spec.inputSize, 3] : [group, 3, spec.inputSize, spec.inputSize];
      const result = await runSession(this.session, { [this.session.inputNames[0]!]: new this.ortTensor('float32', batch, dims) }, spec.id);
      // Multi-head graphs (faceres also predicts age and gender): the embedding is the output of the spec's size.
      const tensor = Object.values(result).find((t) => t.dims.length === 2 && t.dims[1] === spec.dim && t.dims[0] === group);
      if (!tensor) throw new ModelError(spec.id, `no ${spec.dim}-d output for ${group} faces (it gave ${Object.values(result).map((t) => `[${t.dims.join(',')}]`).join(', ')})`);
      const take = Math.min(group, rows - start) * spec.dim;
      out.set((tensor.data as Float32Array).subarray(0, take), start * spec.dim);
    }
    return out;
  }
}
