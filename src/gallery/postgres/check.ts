/** Consistency check of a PostgreSQL gallery: the identity rows must be exactly what the faces imply. */
import type pg from 'pg';
import { identityMean } from '../../store/identity-mean.js';
import type { CheckReport, ModelInfo } from '../types.js';
import { damagedFaceLine, vectorProblem } from './damage.js';
import { parseVector, q } from './schema.js';

export async function checkGallery(c: pg.Client, s: string, meta: { model: ModelInfo | null }): Promise<CheckReport> {
  const problems: string[] = [];
  const faces = await c.query(`SELECT seq, id, name, model_id, embedding::text AS e FROM ${q(s, 'faces')} ORDER BY seq`);
  const byId = new Map<string, { names: Set<string>; vectors: Float32Array[]; damaged: boolean }>();
  const dim = meta.model?.dimension;
  for (const f of faces.rows) {
    const problem = vectorProblem(f.e, dim);
    if (problem) problems.push(damagedFaceLine({ seq: Number(f.seq), id: f.id, ...problem }));
    if (meta.model && f.model_id !== meta.model.id) problems.push(`face seq ${f.seq} (${f.id}): model ${f.model_id}, the gallery's is ${meta.model.id}`);
    let g = byId.get(f.id);
    if (!g) byId.set(f.id, (g = { names: new Set(), vectors: [], damaged: false }));
    g.names.add(f.name);
    g.damaged ||= !!problem;
    if (!problem) g.vectors.push(parseVector(f.e));
  }
  const ids = await c.query(`SELECT id, face_count, mean::text AS m FROM ${q(s, 'identities')}`);
  const seen = new Set<string>();
  for (const it of ids.rows) {
    seen.add(it.id);
    const g = byId.get(it.id);
    if (!g) {
      problems.push(`identity ${it.id} has no faces`);
      continue;
    }
    if (g.names.size > 1) problems.push(`identity ${it.id} has faces with different names`);
    if (g.damaged) continue; // its mean follows once the damaged face is repaired
    if (Number(it.face_count) !== g.vectors.length) problems.push(`identity ${it.id}: face count ${it.face_count}, ${g.vectors.length} faces`);
    const want = identityMean(g.vectors, dim ?? g.vectors[0]!.length);
    const got = parseVector(it.m);
    if (got.length !== want.length || got.some((x, d) => x !== want[d])) problems.push(`identity ${it.id}: stored vector differs from the mean of its faces`);
  }
  for (const id of byId.keys()) if (!seen.has(id)) problems.push(`faces of ${id} have no identity row`);
  return { ok: problems.length === 0, problems: [...new Set(problems)], notes: [`${faces.rows.length} faces, ${ids.rows.length} identities in schema "${s}"`] };
}
