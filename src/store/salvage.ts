/**
 * Salvage: a consistent snapshot rebuilt from whatever of the store's three files is readable, each fix
 * logged (repairStore, maintenance.ts, decides when and commits it). A row whose embedding is lost is
 * refused, dropped or kept for re-embedding, as the caller says.
 */
import path from 'node:path';
import { l2normalize, norm } from '../pipeline/vector.js';
import { decodeDataCsv, type DecodedCsv } from './csv.js';
import { decodeDumpHeader, DUMP_HEADER_BYTES, type DumpHeader, dumpVectors } from './dump.js';
import { readHead, readIfExists, storeError } from './fsio.js';
import { sha256Hex } from './load.js';
import { type Manifest, MANIFEST_FORMAT, MANIFEST_VERSION, parseManifest } from './manifest.js';
import { DATA_FILE, DUMP_FILE, MANIFEST_FILE } from './names.js';
import { StoreSnapshot } from './snapshot.js';
import type { FaceRow, ModelInfo, ThresholdInfo } from './types.js';

/** How far from 1 a stored embedding's norm may be. */
export const NORM_TOLERANCE = 1e-3;

/**
 * What is wrong with a stored embedding of the right length, or null: zero or not finite is lost; a norm
 * more than NORM_TOLERANCE from 1 is re-normalised by a repair (the files backend's salvage and PostgreSQL's).
 */
export function embeddingProblem(v: Float32Array): { detail: string; renormalise: boolean } | null {
  const length = norm(v);
  if (!Number.isFinite(length) || length === 0) return { detail: 'its embedding is zero or not finite', renormalise: false };
  if (Math.abs(length - 1) > NORM_TOLERANCE) return { detail: `its embedding norm is ${length}, not 1`, renormalise: true };
  return null;
}

export interface Salvage {
  snapshot: StoreSnapshot;
  baseGeneration: number;
  /** How many rows lost their embedding: under `'keep'` they are in snapshot.rows with a zero placeholder; under `'drop'`, dropped. */
  lost: number;
}

/** A readable row whose embedding cannot be used, and why. */
interface LostRow {
  row: FaceRow;
  where: string;
  why: 'past-end' | 'shared' | 'unusable';
  detail: string;
}

/** What salvage could read: the manifest if parseable, the dump's header and bytes, the decoded rows. */
interface SalvageSources {
  manifest: Manifest | undefined;
  header: DumpHeader;
  dump: Buffer;
  decoded: DecodedCsv;
}

/** The store's three files as far as they are readable; STORE_ERROR when ids or embeddings are not. */
function readSalvageSources(root: string, actions: string[]): SalvageSources {
  const read = (name: string) => readIfExists(path.join(root, name));
  const manifestBytes = read(MANIFEST_FILE);
  let manifest: Manifest | undefined;
  try {
    if (manifestBytes) manifest = parseManifest(manifestBytes.toString('utf8'));
  } catch {
    /* reported below */
  }
  if (!manifest) actions.push(`${MANIFEST_FILE} was ${manifestBytes ? 'unreadable' : 'missing'}: rebuilt from ${DATA_FILE} and ${DUMP_FILE} (threshold reset)`);

  const dump = read(DUMP_FILE);
  const data = read(DATA_FILE);
  if (!dump || !data) {
    throw storeError(`cannot repair: ${!dump ? DUMP_FILE : DATA_FILE} is missing; restore it from a backup or re-enroll into a new store`, root);
  }
  try {
    const sources = { manifest, header: decodeDumpHeader(dump), dump, decoded: decodeDataCsv(data.toString('utf8')) };
    if (manifest && sha256Hex(data) !== manifest.files[DATA_FILE].sha256) actions.push(`${DATA_FILE} was changed outside facectl: its current content was accepted`);
    for (const problem of sources.decoded.problems) actions.push(`dropped unreadable ${problem}`);
    return sources;
  } catch (err) {
    throw storeError(`cannot repair: ${(err as Error).message}; restore it from a backup or re-enroll into a new store`, root);
  }
}

/** The model embeddings.f32's header records; null when it records none. */
function headerModel(header: DumpHeader): ModelInfo | null {
  return header.modelId ? { id: header.modelId, hash: header.modelHash, dimension: header.dimension } : null;
}

function salvageModel(header: DumpHeader, manifest: Manifest | undefined): ModelInfo | null {
  return headerModel(header) ?? manifest?.model ?? null;
}

/**
 * The store's model as far as it is readable, for a store too damaged to open: the manifest's if it
 * parses, else the one embeddings.f32's header records; null when neither says (or there is no store).
 */
export function readableModel(dir: string): ModelInfo | null {
  const root = path.resolve(dir);
  try {
    const bytes = readIfExists(path.join(root, MANIFEST_FILE));
    const model = bytes ? parseManifest(bytes.toString('utf8')).model : null;
    if (model) return model;
  } catch {
    /* unreadable: the dump's header may still say */
  }
  try {
    // Only the header: a missing, short or unreadable file says nothing.
    return headerModel(decodeDumpHeader(readHead(path.join(root, DUMP_FILE), DUMP_HEADER_BYTES)));
  } catch {
    return null;
  }
}

/** The embeddings of the dump's complete rows (a truncated file keeps the rows it still holds whole). */
function completeVectors({ dump, header }: SalvageSources, dimension: number, actions: string[]): { vectors: Float32Array; usable: number; rows: number } {
  const complete = dimension === 0 ? 0 : Math.floor((dump.length - DUMP_HEADER_BYTES) / (dimension * 4));
  const usable = Math.min(header.rows, Math.max(0, complete));
  if (usable < header.rows) actions.push(`${DUMP_FILE} was truncated: kept ${usable} of ${header.rows} embeddings`);
  return { vectors: dumpVectors(dump.subarray(0, DUMP_HEADER_BYTES + usable * dimension * 4), { ...header, rows: usable }), usable, rows: header.rows };
}

/**
 * Pairs each row with its embedding, re-normalising them and correcting their model id; rows whose
 * embedding is missing, shared or unusable are set apart as `lost` (and also kept in place, with a zero
 * placeholder, when `keepLost` says so); then drops embeddings no row refers to.
 */
function pairRowsWithVectors(
  decodedRows: readonly FaceRow[],
  source: { vectors: Float32Array; usable: number },
  model: ModelInfo | null,
  actions: string[],
  keepLost: boolean,
) {
  const dimension = model?.dimension ?? 0;
  const rows: FaceRow[] = [];
  const vectors: Float32Array[] = [];
  const lost: LostRow[] = [];
  const used = new Uint8Array(source.usable);
  let renormalised = 0;
  decodedRows.forEach((row, i) => {
    const where = `${DATA_FILE} row ${i + 1} (${row.id})`;
    const setAside = (why: LostRow['why'], detail: string) => {
      lost.push({ row, where, why, detail });
      if (!keepLost) return;
      rows.push({ ...row, modelId: model?.id ?? '', embeddingIndex: rows.length });
      vectors.push(new Float32Array(dimension));
    };
    if (row.embeddingIndex >= source.usable) return setAside('past-end', `embedding ${row.embeddingIndex} is past the end of ${DUMP_FILE}`);
    if (used[row.embeddingIndex]) return setAside('shared', `embedding ${row.embeddingIndex} is used by an earlier row`);
    const v = Float32Array.from(source.vectors.subarray(row.embeddingIndex * dimension, (row.embeddingIndex + 1) * dimension));
    const problem = embeddingProblem(v);
    if (problem && !problem.renormalise) return setAside('unusable', problem.detail);
    if (problem) {
      l2normalize(v);
      renormalised++;
    }
    used[row.embeddingIndex] = 1;
    if (row.modelId !== model?.id) actions.push(`${where}: model id "${row.modelId}" corrected to "${model?.id}"`);
    rows.push({ ...row, modelId: model?.id ?? '', embeddingIndex: rows.length });
    vectors.push(v);
  });
  if (renormalised > 0) actions.push(`re-normalised ${renormalised} embeddings`);
  const orphans = source.usable - used.reduce((n, u) => n + u, 0);
  if (orphans > 0) actions.push(`dropped ${orphans} embeddings that no row of ${DATA_FILE} refers to`);
  return { rows, vectors, lost };
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** The one line that refuses a repair which would drop rows for lack of an embedding. */
function lostEmbeddingsError(root: string, lost: readonly LostRow[], truncated: { usable: number; rows: number } | undefined) {
  const identities = new Set(lost.map((l) => l.row.id)).size;
  const count = (why: LostRow['why']) => lost.filter((l) => l.why === why).length;
  const reasons: string[] = [];
  if (count('past-end')) {
    reasons.push(
      truncated
        ? `${plural(count('past-end'), 'is', 'are')} past the end of ${DUMP_FILE}, which was truncated to ${truncated.usable} of ${truncated.rows} embeddings`
        : `${plural(count('past-end'), 'points', 'point')} past the end of ${DUMP_FILE}`,
    );
  }
  if (count('shared')) reasons.push(`${plural(count('shared'), 'shares', 'share')} an earlier row's embedding`);
  if (count('unusable')) reasons.push(`${plural(count('unusable'), 'has', 'have')} a zero or non-finite embedding`);
  return storeError(
    `store is damaged: ${plural(lost.length, 'face', 'faces')} of ${plural(identities, 'identity', 'identities')} lost ${lost.length === 1 ? 'its embedding' : 'their embeddings'} (${reasons.join('; ')}): ` +
      '`facectl index rebuild --reembed` re-embeds them from their photos; `--drop-damaged` drops them',
    root,
  );
}

/** One name per identity: rows that disagree take the latest row's name. Returns the identity → name map. */
function unifyNames(rows: FaceRow[], actions: string[]): Map<string, string> {
  const lastName = new Map(rows.map((r) => [r.id, r.name]));
  for (const row of rows) {
    if (row.name !== lastName.get(row.id)) {
      actions.push(`identity ${row.id}: rows had different names; kept the latest, "${lastName.get(row.id)}"`);
      for (const r of rows) if (r.id === row.id) r.name = lastName.get(row.id)!;
    }
  }
  return lastName;
}

/** The manifest's threshold, unless it was chosen for another model than the embeddings'. */
function salvageThreshold(manifest: Manifest | undefined, model: ModelInfo | null, actions: string[]): ThresholdInfo | null {
  const threshold = manifest?.threshold ?? null;
  if (threshold && threshold.model !== model?.id) {
    actions.push(`threshold was set for model ${threshold.model}, not ${model?.id}: cleared`);
    return null;
  }
  return threshold;
}

/**
 * Rebuilds a consistent snapshot from whatever of the three files is readable, logging each fix. Rows
 * whose embedding is lost refuse it (`'refuse'`), are dropped (`'drop'`) or are kept with a zero
 * placeholder (`'keep'`, counted in `lost`) for the caller to re-embed before anything is committed.
 */
export function salvage(root: string, actions: string[], lostEmbeddings: 'refuse' | 'drop' | 'keep'): Salvage {
  const sources = readSalvageSources(root, actions);
  const { manifest, header } = sources;
  const model = salvageModel(header, manifest);
  const dimension = model?.dimension ?? 0;
  const source = completeVectors(sources, dimension, actions);
  const { rows, vectors, lost } = pairRowsWithVectors(sources.decoded.rows, source, model, actions, lostEmbeddings === 'keep');
  if (lost.length && lostEmbeddings === 'refuse') throw lostEmbeddingsError(root, lost, source.usable < source.rows ? source : undefined);
  for (const l of lost) actions.push(lostEmbeddings === 'drop' ? `dropped ${l.where}: ${l.detail}` : `${l.where}: ${l.detail}; re-embedded from its photo`);
  const names = unifyNames(rows, actions);
  const threshold = salvageThreshold(manifest, model, actions);
  const flat = new Float32Array(rows.length * dimension);
  vectors.forEach((v, i) => flat.set(v, i * dimension));
  const generation = Math.max(manifest?.generation ?? 0, header.generation);
  const synthetic: Manifest = {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    generation,
    embeddingsGeneration: generation,
    model,
    threshold,
    counts: { identities: names.size, faces: rows.length },
    files: manifest?.files ?? { [DATA_FILE]: { sha256: '', bytes: 0 }, [DUMP_FILE]: { sha256: '', bytes: 0 } },
    updatedAt: new Date().toISOString(),
  };
  return { snapshot: new StoreSnapshot(root, synthetic, rows, flat), baseGeneration: generation, lost: lost.length };
}

