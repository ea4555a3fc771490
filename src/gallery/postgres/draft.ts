/**
 * A writer's transaction on the PostgreSQL gallery: every edit is SQL inside the transaction (the caller
 * holds the gallery's advisory lock), and the identity vectors of every id an edit touched are
 * recomputed before the next read, so the draft's own reads see its writes exactly as a commit would.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ExitCode, FacectlError } from '../../errors.js';
import { dot } from '../../pipeline/vector.js';
import { modelMismatch, normalisedCopy, unknownId } from '../../store/draft.js';
import { identityMean } from '../../store/identity-mean.js';
import { validateDisplayName, validateId, validateModel, validateNewFace, validateThreshold } from '../../store/validate.js';
import type { FaceRow, GalleryDraft, IdentityFaces, ModelInfo, NewFace, ThresholdInfo } from '../types.js';
import { longQuery } from './connection.js';
import { storedVector } from './damage.js';
import { FACE_COLUMNS, FACE_PARAM_COUNT, faceParams, faceRowOf, HNSW_INDEX, parseVector, q, vectorText } from './schema.js';

const sameModel = (a: ModelInfo, b: ModelInfo): boolean => a.id === b.id && a.hash === b.hash && a.dimension === b.dimension;

/** Test hooks (the kill tests): called at named points of a writer's transaction. */
export const pgTestHooks: { onStep?: (name: 'faces-inserted' | 'before-commit') => void | Promise<void> } = {};

/** Rows per multi-row INSERT/UPDATE (PostgreSQL allows 65,535 parameters per statement). */
const BATCH = 500;

export class PgDraft implements GalleryDraft {
  changed = false;
  private rowCache?: FaceRow[];

  constructor(
    private readonly c: pg.Client,
    private readonly s: string,
    private modelInfo: ModelInfo | null,
    private thresholdInfo: ThresholdInfo | null,
    private readonly now: Date,
  ) {}

  get model(): ModelInfo | null {
    return this.modelInfo;
  }

  get threshold(): ThresholdInfo | null {
    return this.thresholdInfo;
  }

  async hasIdentity(id: string): Promise<boolean> {
    return (await this.c.query(`SELECT 1 FROM ${q(this.s, 'identities')} WHERE id = $1`, [id])).rows.length > 0;
  }

  async facesOf(id: string): Promise<IdentityFaces> {
    const r = await this.c.query(`SELECT ${FACE_COLUMNS}, embedding::text AS e FROM ${q(this.s, 'faces')} WHERE id = $1 ORDER BY seq`, [id]);
    return { rows: r.rows.map(faceRowOf), embeddings: r.rows.map((x) => storedVector(this.s, x, this.modelInfo?.dimension)) };
  }

  async nearestIdentity(vector: Float32Array, excludeId?: string): Promise<{ id: string; score: number } | null> {
    // Exact scan (no index), a few spare candidates, re-scored in float64 like every other score; of equal
    // scores the identity enrolled first (first_seq), as login and a store directory decide.
    await this.c.query(`SELECT set_config('enable_indexscan', 'off', true)`);
    const r = await this.c.query(`SELECT id, mean::text AS m FROM ${q(this.s, 'identities')} WHERE id <> $2 ORDER BY mean <#> $1::vector, first_seq LIMIT 8`, [vectorText(vector), excludeId ?? '']);
    await this.c.query(`SELECT set_config('enable_indexscan', 'on', true)`);
    let best: { id: string; score: number } | null = null;
    for (const row of r.rows) {
      const score = dot(vector, parseVector(row.m));
      if (!best || score > best.score) best = { id: row.id, score };
    }
    return best;
  }

  private async faceCount(): Promise<number> {
    return Number((await this.c.query(`SELECT count(*) AS n FROM ${q(this.s, 'faces')}`)).rows[0].n);
  }

  /** Binds an empty gallery to `model` (typing its vector columns); MODEL_MISMATCH when it holds another model's faces. */
  private async bindModel(model: ModelInfo): Promise<void> {
    const checked = validateModel(model);
    if (this.modelInfo && sameModel(this.modelInfo, checked)) return;
    if (this.modelInfo && (await this.faceCount()) > 0) throw modelMismatch(this.modelInfo, checked);
    await this.retype(checked.dimension);
    this.modelInfo = checked;
    if (this.thresholdInfo && this.thresholdInfo.model !== checked.id) this.thresholdInfo = null;
    this.changed = true;
  }

  /** Vector columns typed vector(dimension) (HNSW needs the dimension); the HNSW index is dropped first. */
  async retype(dimension: number): Promise<void> {
    await this.c.query(`DROP INDEX IF EXISTS "${this.s}".${HNSW_INDEX}`);
    for (const [table, column] of [['faces', 'embedding'], ['identities', 'mean']] as const)
      await this.c.query(longQuery(`ALTER TABLE ${q(this.s, table)} ALTER COLUMN ${column} TYPE vector(${dimension})`));
  }

  async addFaces(model: ModelInfo, faces: readonly NewFace[]): Promise<FaceRow[]> {
    faces.forEach(validateNewFace);
    await this.bindModel(model);
    const dim = this.modelInfo!.dimension;
    const embedded = faces.map((f, i) => normalisedCopy(f.embedding, dim, `face ${i + 1} (${f.id}, ${f.sourcePath})`));
    // Every row of an id carries one name: a new name renames the identity.
    for (const f of faces) await this.c.query(`UPDATE ${q(this.s, 'faces')} SET name = $2 WHERE id = $1 AND name <> $2`, [f.id, f.name]);
    const rows = faces.map((f) => ({
      id: f.id, name: f.name, sourcePath: f.sourcePath, imageSha256: f.imageSha256, box: { ...f.box }, quality: { ...f.quality },
      modelId: this.modelInfo!.id, addedAt: f.addedAt ?? this.now.toISOString(),
    }));
    const added: FaceRow[] = [];
    for (let start = 0; start < rows.length; start += BATCH) {
      const chunk = rows.slice(start, start + BATCH);
      const params = chunk.flatMap((r, i) => faceParams(r, embedded[start + i]!));
      const values = chunk.map((_, i) => `(${Array.from({ length: FACE_PARAM_COUNT }, (_, k) => `$${i * FACE_PARAM_COUNT + k + 1}`).join(', ')})`).join(', ');
      const r = await this.c.query(`INSERT INTO ${q(this.s, 'faces')} (${FACE_COLUMNS.replace('seq, ', '')}, embedding) VALUES ${values} RETURNING seq`, params);
      chunk.forEach((row, i) => added.push({ ...row, embeddingIndex: Number(r.rows[i].seq) }));
    }
    await pgTestHooks.onStep?.('faces-inserted');
    if (added.length) await this.touched([...new Set(faces.map((f) => f.id))]);
    return added;
  }

  async removeIdentity(id: string): Promise<number> {
    validateId(id);
    const n = (await this.c.query(`DELETE FROM ${q(this.s, 'faces')} WHERE id = $1`, [id])).rowCount ?? 0;
    if (n === 0) throw unknownId(id);
    await this.touched([id]);
    return n;
  }

  async renameIdentity(id: string, name: string): Promise<void> {
    validateId(id);
    validateDisplayName(name);
    if (!(await this.hasIdentity(id))) throw unknownId(id);
    const n = (await this.c.query(`UPDATE ${q(this.s, 'faces')} SET name = $2 WHERE id = $1 AND name <> $2`, [id, name])).rowCount ?? 0;
    if (n) await this.touched([id]);
  }

  async setThreshold(threshold: ThresholdInfo | null): Promise<void> {
    if (threshold === null) {
      this.changed ||= this.thresholdInfo !== null;
      this.thresholdInfo = null;
      return;
    }
    const checked = validateThreshold(threshold);
    if (this.modelInfo && checked.model !== this.modelInfo.id)
      throw new FacectlError(ExitCode.MODEL_MISMATCH, `threshold was chosen for model ${checked.model}; this store uses ${this.modelInfo.id}: calibrate again with that model`);
    this.thresholdInfo = checked;
    this.changed = true;
  }

  async rows(): Promise<readonly FaceRow[]> {
    this.rowCache ??= (await this.c.query(`SELECT ${FACE_COLUMNS} FROM ${q(this.s, 'faces')} ORDER BY seq`)).rows.map(faceRowOf);
    return this.rowCache;
  }

  private async seqOf(index: number): Promise<number> {
    const row = (await this.rows())[index];
    if (!row) throw new RangeError(`no row ${index} in the draft`);
    return row.embeddingIndex;
  }

  async setSourcePath(index: number, sourcePath: string): Promise<void> {
    const seq = await this.seqOf(index);
    const row = this.rowCache![index]!;
    validateNewFace({ ...row, sourcePath, embedding: new Float32Array(0) });
    if (row.sourcePath === sourcePath) return;
    await this.c.query(`UPDATE ${q(this.s, 'faces')} SET source_path = $2 WHERE seq = $1`, [seq, sourcePath]);
    this.rowCache![index] = { ...row, sourcePath };
    this.changed = true;
  }

  async removeFaces(indexes: ReadonlySet<number>): Promise<number> {
    const rows = await this.rows();
    const gone = rows.filter((_, i) => indexes.has(i));
    if (!gone.length) return 0;
    await this.c.query(`DELETE FROM ${q(this.s, 'faces')} WHERE seq = ANY($1::bigint[])`, [gone.map((r) => r.embeddingIndex)]);
    await this.touched([...new Set(gone.map((r) => r.id))]);
    return gone.length;
  }

  async replaceAllEmbeddings(model: ModelInfo, embeddings: readonly Float32Array[]): Promise<void> {
    const checked = validateModel(model);
    const rows = await this.rows();
    if (embeddings.length !== rows.length) throw new FacectlError(ExitCode.INTERNAL, `re-embedding needs ${rows.length} embeddings (one per row), got ${embeddings.length}`);
    const vectors = embeddings.map((v, i) => normalisedCopy(v, checked.dimension, `row ${i + 1} (${rows[i]!.id})`));
    if (checked.dimension !== this.modelInfo?.dimension) {
      // Untyped while rows of both sizes exist, typed again once all are rewritten.
      await this.c.query(`DROP INDEX IF EXISTS "${this.s}".${HNSW_INDEX}`);
      for (const [table, column] of [['faces', 'embedding'], ['identities', 'mean']] as const) await this.c.query(longQuery(`ALTER TABLE ${q(this.s, table)} ALTER COLUMN ${column} TYPE vector`));
    }
    for (let start = 0; start < rows.length; start += BATCH) {
      const chunk = rows.slice(start, start + BATCH);
      const values = chunk.map((_, i) => `($${2 * i + 2}::bigint, $${2 * i + 3}::vector)`).join(', ');
      const params = [checked.id, ...chunk.flatMap((r, i) => [r.embeddingIndex, vectorText(vectors[start + i]!)])];
      await this.c.query(`UPDATE ${q(this.s, 'faces')} f SET embedding = v.e, model_id = $1 FROM (VALUES ${values}) AS v(seq, e) WHERE f.seq = v.seq`, params);
    }
    await this.c.query(`DELETE FROM ${q(this.s, 'identities')}`);
    if (checked.dimension !== this.modelInfo?.dimension) await this.retype(checked.dimension);
    this.modelInfo = checked;
    if (this.thresholdInfo && this.thresholdInfo.model !== checked.id) this.thresholdInfo = null;
    await this.touched(null);
  }

  /** The repair's own edits (PostgresGallery.repair): faces deleted or re-normalised by sequence number. */
  async deleteSeqs(seqs: readonly number[]): Promise<void> {
    await this.c.query(`DELETE FROM ${q(this.s, 'faces')} WHERE seq = ANY($1::bigint[])`, [seqs]);
    this.changed = true;
    this.rowCache = undefined;
  }

  async renormalise(seqs: readonly number[]): Promise<void> {
    const r = await this.c.query(`SELECT seq, embedding::text AS e FROM ${q(this.s, 'faces')} WHERE seq = ANY($1::bigint[])`, [seqs]);
    for (const row of r.rows) {
      const v = parseVector(row.e);
      await this.c.query(`UPDATE ${q(this.s, 'faces')} SET embedding = $2::vector WHERE seq = $1`, [row.seq, vectorText(normalisedCopy(v, v.length, `face seq ${row.seq}`))]);
    }
    this.changed = true;
  }

  /** The embedding column NOT NULL again (a NULL embedding could only be stored once it was dropped by hand). */
  async requireEmbeddings(): Promise<void> {
    await this.c.query(`ALTER TABLE ${q(this.s, 'faces')} ALTER COLUMN embedding SET NOT NULL`);
  }

  /**
   * Recomputes the identity rows of `ids` (null: all) from their faces, with the one identityMean. Every
   * edit that adds, deletes or rewrites face rows calls it, so it also drops rows() read before the edit.
   */
  async touched(ids: string[] | null): Promise<void> {
    this.changed = true;
    this.rowCache = undefined;
    const where = ids ? 'WHERE id = ANY($1::text[])' : '';
    const r = await this.c.query(`SELECT id, name, seq, added_at, embedding::text AS e FROM ${q(this.s, 'faces')} ${where} ORDER BY seq`, ids ? [ids] : []);
    const dim = this.modelInfo?.dimension;
    const byId = new Map<string, { name: string; first: number; last: string; vectors: Float32Array[] }>();
    for (const row of r.rows) {
      let g = byId.get(row.id);
      if (!g) byId.set(row.id, (g = { name: row.name, first: Number(row.seq), last: row.added_at, vectors: [] }));
      g.name = row.name;
      if (row.added_at > g.last) g.last = row.added_at;
      // A damaged face (NULL, another length, not unit) refuses the change: averaged in, it spoils the mean.
      g.vectors.push(storedVector(this.s, row, dim));
    }
    await this.c.query(`DELETE FROM ${q(this.s, 'identities')} ${where}`, ids ? [ids] : []);
    const list = [...byId];
    for (let start = 0; start < list.length; start += BATCH) {
      const chunk = list.slice(start, start + BATCH);
      const values = chunk.map((_, i) => `($${6 * i + 1}, $${6 * i + 2}, $${6 * i + 3}, $${6 * i + 4}, $${6 * i + 5}, $${6 * i + 6}::vector)`).join(', ');
      const params = chunk.flatMap(([id, g]) => [id, g.name, g.vectors.length, g.first, g.last, vectorText(identityMean(g.vectors, dim ?? 0))]);
      await this.c.query(`INSERT INTO ${q(this.s, 'identities')} (id, name, face_count, first_seq, last_added, mean) VALUES ${values}`, params);
    }
  }

  /**
   * Bumps the generation and writes model and threshold, when anything changed, with a random token
   * unique to this commit (`commit`): a schema dropped and created anew restarts at generation 1, so the
   * generation alone cannot tell a long-lived reader that the gallery it read is gone. Returns the new generation.
   */
  async finish(generation: number): Promise<number> {
    if (!this.changed) return generation;
    // Every key written whether or not its row is there (an UPDATE of a row deleted by hand changes nothing).
    const values: [string, unknown][] = [['generation', generation + 1], ['commit', randomUUID()], ['model', this.modelInfo], ['threshold', this.thresholdInfo]];
    await this.c.query(
      `INSERT INTO ${q(this.s, 'meta')} (key, value) VALUES ${values.map((_, i) => `($${2 * i + 1}, $${2 * i + 2}::jsonb)`).join(', ')} ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
      values.flatMap(([key, value]) => [key, JSON.stringify(value)]),
    );
    return generation + 1;
  }
}
