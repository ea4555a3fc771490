/**
 * Embedding stage: align each face to its embedder's template, build the network input the way that
 * embedder was trained (channel order, normalisation, layout), run in batches, L2-normalise.
 */
import type ort from 'onnxruntime-node';
import type { EmbedderSpec } from '../models/registry.js';
import { alignFace, mirrorCrop } from './align.js';
import type { Point, RgbImage } from './types.js';
import { l2normalize } from './vector.js';

export { l2normalize } from './vector.js';

/** Write one HWC RGB 0..255 crop into `dst` at `offset` in the model's layout and value range. */
export function writeNetworkInput(crop: Float32Array, spec: EmbedderSpec, dst: Float32Array, offset: number): void {
  const size = spec.inputSize, plane = size * size;
  const bgr = spec.channels === 'BGR';
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = (crop[p * 3 + (bgr ? 2 - c : c)]! - spec.mean) / spec.std;
      if (spec.layout === 'NHWC') dst[offset + p * 3 + c] = v;
      else dst[offset + c * plane + p] = v;
    }
  }
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
        if (spec.flip) writeNetworkInput(mirrorCrop(crop, spec.inputSize, spec.inputSize), spec, input, (i * views + 1) * per);
      });
      const dims = spec.layout === 'NHWC' ? [chunk.length * views, spec.inputSize, spec.inputSize, 3] : [chunk.length * views, 3, spec.inputSize, spec.inputSize];
      const out = await this.session.run({ [this.session.inputNames[0]!]: new this.ortTensor('float32', input, dims) });
      // Multi-head graphs (faceres also predicts age and gender): the embedding is the output of the spec's size.
      const tensor = Object.values(out).find((t) => t.dims[t.dims.length - 1] === spec.dim);
      if (!tensor) throw new Error(`embedder ${spec.id}: no ${spec.dim}-d output`);
      const data = tensor.data as Float32Array;
      const dim = spec.dim;
      for (let i = 0; i < chunk.length; i++) {
        const v = new Float32Array(dim);
        for (let k = 0; k < views; k++) {
          const o = (i * views + k) * dim;
          for (let d = 0; d < dim; d++) v[d] += data[o + d]!;
        }
        result.push(l2normalize(v));
      }
    }
    return result;
  }
}
