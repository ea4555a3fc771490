/**
 * The gallery's tables, created and migrated by facectl (versioned in `meta.schema_version`):
 *   meta(key, value jsonb)            schema_version, generation, model, threshold, commit (a random token
 *                                     each commit writes; absent until the first commit of this facectl)
 *   faces(seq, id, name, …, embedding vector(d))      one row per enrolled face, seq = enrollment order
 *   identities(id, name, face_count, first_seq, last_added, mean vector(d))
 * `identities.mean` is identityMean() of the id's faces, rewritten in the same transaction as any change
 * to them, so the search table can never disagree with the faces.
 */
import type pg from 'pg';
import { errorLine, ExitCode, FacectlError } from '../../errors.js';
import type { FaceRow } from '../types.js';
import { longQuery } from './connection.js';
import { parseSchemaVersion } from './meta.js';

export const SCHEMA_VERSION = 1;

/** Quoted schema-qualified name; the schema name is validated (a-z0-9_) when the URL is parsed. */
export const q = (schema: string, table: string): string => `"${schema}".${table}`;

const MIGRATIONS: Record<number, (s: string) => string[]> = {
  1: (s) => [
    `CREATE TABLE ${q(s, 'meta')} (key text PRIMARY KEY, value jsonb NOT NULL)`,
    `CREATE TABLE ${q(s, 'faces')} (
      seq bigserial PRIMARY KEY, id text NOT NULL, name text NOT NULL, source_path text NOT NULL, image_sha256 text NOT NULL,
      box_x double precision NOT NULL, box_y double precision NOT NULL, box_w double precision NOT NULL, box_h double precision NOT NULL,
      det_score double precision NOT NULL, eye_distance_px double precision NOT NULL, face_size_px double precision NOT NULL,
      roll_deg double precision NOT NULL, yaw_deg double precision NOT NULL, sharpness double precision,
      model_id text NOT NULL, added_at text NOT NULL, embedding vector NOT NULL)`,
    `CREATE INDEX faces_by_id ON ${q(s, 'faces')} (id, seq)`,
    `CREATE TABLE ${q(s, 'identities')} (
      id text PRIMARY KEY, name text NOT NULL, face_count integer NOT NULL, first_seq bigint NOT NULL, last_added text NOT NULL, mean vector NOT NULL)`,
    `INSERT INTO ${q(s, 'meta')} VALUES ('generation', '0'), ('model', 'null'), ('threshold', 'null')`,
  ],
};

export const HNSW_INDEX = 'identities_mean_hnsw';
/** Advisory lock class ('fext') taken while facectl creates the pgvector extension; the object id is hashtext('vector'). */
const EXTENSION_LOCK_CLASS = 0x66657874;

/** CREATE EXTENSION vector failing: pgvector missing on the server, or this role not allowed to create it; one line (exit 11). */
export function vectorExtensionError(err: unknown): FacectlError | null {
  const msg = (err as Error)?.message ?? '';
  // insufficient_privilege: the server has pgvector, this role may not create it (its message names the extension too).
  if ((err as { code?: unknown })?.code === '42501')
    return new FacectlError(ExitCode.STORE_ERROR, `this PostgreSQL role may not create the pgvector extension (${errorLine(err)}): the database owner or a superuser must run CREATE EXTENSION vector once in this database`);
  if (/extension "vector"|control file|type "vector" does not exist/i.test(msg))
    return new FacectlError(ExitCode.STORE_ERROR, `the PostgreSQL server has no pgvector extension (CREATE EXTENSION vector failed: ${errorLine(err)}); install pgvector on the server`);
  return null;
}

/** The schema version stored in `schema`, 0 when there is no gallery there. */
export async function schemaVersion(client: pg.Client, schema: string): Promise<number> {
  const t = await client.query(`SELECT to_regclass($1) AS meta`, [`"${schema}".meta`]);
  if (!t.rows[0].meta) return 0;
  const r = await client.query(`SELECT value FROM ${q(schema, 'meta')} WHERE key = 'schema_version'`);
  // The meta table and its schema_version are created in one transaction: one without the other is damage.
  return parseSchemaVersion(schema, r.rows[0]?.value);
}

/** Creates or upgrades the schema; call inside the writer's transaction (advisory lock held). */
export async function migrate(client: pg.Client, schema: string): Promise<void> {
  const version = await schemaVersion(client, schema);
  if (version > SCHEMA_VERSION) throw newerSchema(schema, version);
  if (version === SCHEMA_VERSION) return;
  // The extension is the database's, shared by every gallery's schema: two first writes to two schemas
  // (each under its own gallery's lock) would both create it, and the second fail on the catalog's unique
  // index. One advisory lock for the whole database, then a look whether it is there now.
  await client.query(longQuery('SELECT pg_advisory_xact_lock($1, hashtext($2))', [EXTENSION_LOCK_CLASS, 'vector']));
  const installed = (await client.query(`SELECT 1 FROM pg_extension WHERE extname = 'vector'`)).rows.length > 0;
  try {
    if (!installed) await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  } catch (err) {
    throw vectorExtensionError(err) ?? err;
  }
  await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  for (let v = version + 1; v <= SCHEMA_VERSION; v++) {
    for (const sql of MIGRATIONS[v]!(schema)) await client.query(sql);
    await client.query(`INSERT INTO ${q(schema, 'meta')} VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = $1`, [JSON.stringify(v)]);
  }
}

export const newerSchema = (schema: string, version: number): FacectlError =>
  new FacectlError(ExitCode.STORE_ERROR, `schema "${schema}" was written by a newer facectl (schema version ${version}, this one knows ${SCHEMA_VERSION}): upgrade facectl`);

/** pgvector's text form; JavaScript's shortest repr of a float32 value parses back to the same float32. */
export const vectorText = (v: Float32Array): string => `[${Array.from(v).join(',')}]`;

export function parseVector(text: string): Float32Array {
  return Float32Array.from(text.slice(1, -1).split(','), Number);
}

export const FACE_COLUMNS =
  'seq, id, name, source_path, image_sha256, box_x, box_y, box_w, box_h, det_score, eye_distance_px, face_size_px, roll_deg, yaw_deg, sharpness, model_id, added_at';

/** A faces row as the store's FaceRow; embeddingIndex is the face's sequence number. */
export function faceRowOf(r: Record<string, unknown>): FaceRow {
  const n = (k: string) => Number(r[k]);
  const row: FaceRow = {
    id: String(r.id),
    name: String(r.name),
    sourcePath: String(r.source_path),
    imageSha256: String(r.image_sha256),
    box: { x: n('box_x'), y: n('box_y'), width: n('box_w'), height: n('box_h') },
    quality: { score: n('det_score'), eyeDistancePx: n('eye_distance_px'), sizePx: n('face_size_px'), rollDeg: n('roll_deg'), yawDeg: n('yaw_deg') },
    embeddingIndex: n('seq'),
    modelId: String(r.model_id),
    addedAt: String(r.added_at),
  };
  if (r.sharpness !== null && r.sharpness !== undefined) row.quality.sharpness = n('sharpness');
  return row;
}

/** Parameters for one faces INSERT row (the order of FACE_COLUMNS without seq, then the embedding). */
export function faceParams(f: Omit<FaceRow, 'embeddingIndex'>, embedding: Float32Array): unknown[] {
  return [
    f.id, f.name, f.sourcePath, f.imageSha256, f.box.x, f.box.y, f.box.width, f.box.height, f.quality.score, f.quality.eyeDistancePx,
    f.quality.sizePx, f.quality.rollDeg, f.quality.yawDeg, f.quality.sharpness ?? null, f.modelId, f.addedAt, vectorText(embedding),
  ];
}
export const FACE_PARAM_COUNT = 17;
