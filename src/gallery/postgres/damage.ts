/**
 * A face row's stored embedding checked before it is used: NULL, of another length than the model's, zero
 * or not finite is lost (as a face past the end of a truncated embeddings.f32 is in a store directory:
 * `index rebuild` refuses it unless --drop-damaged drops it or --reembed re-embeds it); a finite vector
 * whose norm is not 1 is re-normalised by the repair, as the files backend's salvage does. Averaged into
 * an identity's mean unchecked, one such face turned the whole mean to zeros (or crashed on NULL).
 */
import { ExitCode, FacectlError } from '../../errors.js';
import { embeddingProblem } from '../../store/salvage.js';
import { parseVector } from './schema.js';

export interface VectorProblem {
  detail: string;
  /** A finite vector of the right length whose norm is not 1: the repair re-normalises it. */
  renormalise: boolean;
}

/** What is wrong with a stored embedding (pgvector's text form, null for NULL), or null when it is usable. */
export function vectorProblem(text: string | null, dimension: number | undefined): VectorProblem | null {
  if (text === null || text === undefined) return { detail: 'its embedding is NULL', renormalise: false };
  const v = parseVector(text);
  if (dimension !== undefined && v.length !== dimension) return { detail: `its embedding has ${v.length} values, the model has ${dimension}`, renormalise: false };
  return embeddingProblem(v);
}

export interface DamagedFace extends VectorProblem {
  seq: number;
  id: string;
}

const faceName = (f: { seq: number; id: string }) => `face seq ${f.seq} (${f.id})`;
export const damagedFaceLine = (f: DamagedFace): string => `${faceName(f)}: ${f.detail}`;

/** STORE_ERROR naming each face whose embedding cannot be used, and the two ways out. */
export function damagedFacesError(schema: string, faces: readonly DamagedFace[]): FacectlError {
  const shown = faces.slice(0, 5).map(damagedFaceLine).join('; ');
  const more = faces.length > 5 ? `; and ${faces.length - 5} more` : '';
  const one = faces.length === 1;
  return new FacectlError(
    ExitCode.STORE_ERROR,
    `the gallery in schema "${schema}" is damaged: ${shown}${more}: \`facectl index rebuild --reembed\` re-embeds ${one ? 'it' : 'them'} from ${one ? 'its photo' : 'their photos'}; \`--drop-damaged\` drops ${one ? 'it' : 'them'}`,
  );
}

/** The face's embedding, or STORE_ERROR naming it when it cannot be used (outside a repair: a non-unit norm too). */
export function storedVector(schema: string, face: { seq: unknown; id: unknown; e: string | null }, dimension: number | undefined): Float32Array {
  const problem = vectorProblem(face.e, dimension);
  if (problem) throw damagedFacesError(schema, [{ seq: Number(face.seq), id: String(face.id), ...problem }]);
  return parseVector(face.e!);
}
