/**
 * An ensemble embedder: the members' L2-normalised vectors, each scaled by its weight, concatenated and
 * L2-normalised again. The cosine of two ensemble vectors is then Σ wᵢ² cosᵢ / Σ wᵢ², a weighted mean
 * of the members' cosines, in one vector per face, so store, index, thresholds and eval need nothing new.
 * Members must share one alignment template (one crop feeds them all).
 */
import type { EmbedderSpec } from '../models/registry.js';
import { alignFace } from './align.js';
import type { Point, RgbImage } from './types.js';
import { l2normalize } from './vector.js';

/** What the pipeline needs from an embedding stage: its spec, the crop it sees, and vectors for crops. */
export interface Embedder {
  readonly spec: EmbedderSpec;
  crop(image: RgbImage, landmarks: readonly Point[]): Float32Array;
  embedCrops(crops: Float32Array[]): Promise<Float32Array[]>;
}

/** The ensemble vector from the members' normalised vectors (the one copy of this rule: embedder and fitting use it). */
export function combineEnsemble(parts: readonly Float32Array[], weights: readonly number[]): Float32Array {
  if (parts.length !== weights.length) throw new Error(`ensemble: ${parts.length} vectors for ${weights.length} weights`);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  parts.forEach((p, i) => {
    const w = weights[i]!;
    for (let d = 0; d < p.length; d++) out[offset + d] = w * p[d]!;
    offset += p.length;
  });
  return l2normalize(out);
}

const sameTemplate = (a: EmbedderSpec, b: EmbedderSpec) =>
  a.inputSize === b.inputSize && a.template.width === b.template.width && a.template.height === b.template.height &&
  a.template.points.every(([x, y], i) => Math.abs(x - b.template.points[i]![0]) < 1e-9 && Math.abs(y - b.template.points[i]![1]) < 1e-9);

export class EnsembleEmbedder implements Embedder {
  readonly weights: number[];

  constructor(
    readonly spec: EmbedderSpec,
    readonly members: readonly Embedder[],
  ) {
    const declared = spec.members ?? [];
    if (declared.length !== members.length || declared.some((m, i) => m.id !== members[i]!.spec.id))
      throw new Error(`ensemble ${spec.id}: members ${members.map((m) => m.spec.id).join(', ')} do not match its spec`);
    for (const m of members) if (!sameTemplate(spec, m.spec)) throw new Error(`ensemble ${spec.id}: member ${m.spec.id} uses another alignment template`);
    const dim = members.reduce((n, m) => n + m.spec.dim, 0);
    if (dim !== spec.dim) throw new Error(`ensemble ${spec.id}: members give ${dim} dimensions, the spec says ${spec.dim}`);
    this.weights = declared.map((m) => m.weight);
  }

  crop(image: RgbImage, landmarks: readonly Point[]): Float32Array {
    return alignFace(image, landmarks, this.spec.template);
  }

  /** Members run one after another (each already uses the cores it is given). */
  async embedCrops(crops: Float32Array[]): Promise<Float32Array[]> {
    const perMember: Float32Array[][] = [];
    for (const m of this.members) perMember.push(await m.embedCrops(crops));
    return crops.map((_, i) => combineEnsemble(perMember.map((vs) => vs[i]!), this.weights));
  }
}
