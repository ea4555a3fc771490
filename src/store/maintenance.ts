/**
 * verify() and repair() for `facectl index rebuild`: verify reads everything (full checksums, norms,
 * file modes) and lists problems; repair fixes what can be fixed without inventing data and says what
 * it did. It refuses (STORE_ERROR) only when ids or embeddings themselves are unreadable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError, isFacectlError } from '../errors.js';
import { BrokenJournalError, commitGeneration, journalPending, ownedByLiveProcess, removeLeftovers, rollForward } from './commit.js';
import { decodeDataCsv, type DecodedCsv } from './csv.js';
import { StoreDraft } from './draft.js';
import { decodeDumpHeader, DUMP_HEADER_BYTES, type DumpHeader, dumpVectors } from './dump.js';
import { DIR_MODE, errnoCode, FILE_MODE, readIfExists, storeError, storeIoError } from './fsio.js';
import { buildGeneration, emptySnapshot } from './generation.js';
import { readSnapshot, sha256Hex, type OpenOptions } from './load.js';
import { readLockInfo, staleReason, StoreLockedError, withLock } from './lock.js';
import { checkManifestVersion, type Manifest, MANIFEST_FORMAT, MANIFEST_VERSION, parseManifest } from './manifest.js';
import { DATA_FILE, DUMP_FILE, isTempLeftover, JOURNAL_FILE, lockTempPid, MANIFEST_FILE } from './names.js';
import { refuseUnlessStoreDir, storeDirKind } from './dir-kind.js';
import { StoreSnapshot } from './snapshot.js';
import type { FaceRow, ModelInfo, ThresholdInfo } from './types.js';

export interface VerifyReport {
  ok: boolean;
  generation?: number;
  faces?: number;
  identities?: number;
  /** Things that are wrong (repair() fixes most of them). */
  problems: string[];
  /** Harmless observations (pending journal, leftovers, a lock). */
  notes: string[];
}

/**
 * What repair does with readable data.csv rows whose embedding is lost (past the end of a truncated
 * dump, shared with an earlier row, zero or not finite): `'refuse'` (the default) throws STORE_ERROR
 * and changes none of the three files; `'drop'` drops them, listing each; a function re-embeds: it gets
 * every row the salvaged store would hold, lost ones included, in order, and returns the change to make
 * to the draft (which must give every row it keeps a new embedding), committed with the salvage in one
 * generation. Without such rows the function is not called.
 */
export type LostEmbeddings = 'refuse' | 'drop' | ((rows: readonly FaceRow[]) => Promise<(draft: StoreDraft) => void | Promise<void>>);

export interface RepairOptions extends OpenOptions {
  lostEmbeddings?: LostEmbeddings;
}

export interface RepairReport {
  /** What was changed, one line each; empty when the store was already sound. */
  actions: string[];
  snapshot: StoreSnapshot;
}

const NORM_TOLERANCE = 1e-3;

const modeText = (mode: number): string => (mode & 0o777).toString(8).padStart(4, '0');

/**
 * Files and directory whose permission bits are not 0600 / 0700. A name listed may be gone by the time it
 * is looked at (every process waiting for the lock makes and deletes a `store.lock.new-…` file at each
 * attempt; verify holds no lock, so a writer may remove a side file meanwhile): such names are skipped,
 * and the lock's own temp files, made 0600 and gone within microseconds, are not looked at.
 */
function modeProblems(dir: string): { file: string; mode: number; want: number }[] {
  const out: { file: string; mode: number; want: number }[] = [];
  const dirMode = fs.statSync(dir).mode & 0o777;
  if (dirMode !== DIR_MODE) out.push({ file: dir, mode: dirMode, want: DIR_MODE });
  for (const name of fs.readdirSync(dir)) {
    if (lockTempPid(name) !== undefined) continue;
    const stat = lstatIfExists(path.join(dir, name));
    if (stat?.isFile() && (stat.mode & 0o777) !== FILE_MODE) out.push({ file: path.join(dir, name), mode: stat.mode & 0o777, want: FILE_MODE });
  }
  return out;
}

function lstatIfExists(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** chmod, false when the file went meanwhile. */
function chmodIfExists(file: string, mode: number): boolean {
  try {
    fs.chmodSync(file, mode);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** Rows whose embedding is not unit length, and identities whose rows disagree on the name. */
function contentProblems(snapshot: StoreSnapshot): string[] {
  const problems: string[] = [];
  snapshot.rows.forEach((row, i) => {
    const v = snapshot.embeddingOf(row);
    let sum = 0;
    for (let d = 0; d < v.length; d++) sum += v[d]! * v[d]!;
    const norm = Math.sqrt(sum);
    if (!(Math.abs(norm - 1) <= NORM_TOLERANCE)) problems.push(`${DATA_FILE} row ${i + 1} (${row.id}): embedding norm is ${norm}, not 1`);
  });
  const names = new Map<string, string>();
  for (const row of snapshot.rows) {
    const seen = names.get(row.id);
    if (seen !== undefined && seen !== row.name) problems.push(`identity ${row.id} has rows with different names`);
    names.set(row.id, row.name);
  }
  return [...new Set(problems)];
}

/** Reads everything and reports; changes nothing except completing an interrupted commit, as any open does. */
export async function verifyStore(dir: string, options: OpenOptions = {}): Promise<VerifyReport> {
  const root = path.resolve(dir);
  const report: VerifyReport = { ok: false, problems: [], notes: [] };
  if (!fs.existsSync(root)) {
    report.problems.push(`no store at ${root}`);
    return report;
  }
  const blank = refuseUnlessStoreDir(root) === 'blank';
  if (journalPending(root)) report.notes.push('an interrupted commit was pending; opening the store completes it');
  const lock = readLockInfo(root);
  if (lock) {
    const stale = staleReason(lock.info, root);
    report.notes.push(stale ? `stale lock (${stale}): the next writer removes it` : `locked by pid ${lock.info?.pid} on ${lock.info?.hostname}`);
  }
  // A lock attempt of a live process (one waiting for the lock) is not a leftover: it is gone a moment later.
  const leftovers = fs.readdirSync(root).filter((name) => isTempLeftover(name) && !ownedByLiveProcess(name));
  if (leftovers.length > 0) report.notes.push(`leftover temp files (the next writer removes them): ${leftovers.join(', ')}`);
  for (const m of modeProblems(root)) report.problems.push(`${m.file} has mode ${modeText(m.mode)}, expected ${modeText(m.want)}`);
  if (blank) {
    report.notes.push('no generation committed yet: the store is empty');
    report.ok = report.problems.length === 0;
    return report;
  }
  try {
    const snapshot = await readSnapshot(root, { ...options, verifyEmbeddings: true });
    report.generation = snapshot.generation;
    report.faces = snapshot.rows.length;
    report.identities = snapshot.manifest.counts.identities;
    report.problems.push(...contentProblems(snapshot));
  } catch (err) {
    if (!isFacectlError(err)) throw err;
    // A writer busy past the wait is no fault of the store: it is not checked, and not ok, this time.
    if (err instanceof StoreLockedError) {
      report.notes.push(`not checked: ${err.oneLine()}; run it again`);
      return report;
    }
    report.problems.push(err.oneLine());
  }
  report.ok = report.problems.length === 0;
  return report;
}

interface Salvage {
  snapshot: StoreSnapshot;
  baseGeneration: number;
  /** Positions in snapshot.rows of the rows kept without an embedding (a zero placeholder). */
  lost: number[];
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

function salvageModel(header: DumpHeader, manifest: Manifest | undefined): ModelInfo | null {
  if (header.modelId) return { id: header.modelId, hash: header.modelHash, dimension: header.dimension };
  return manifest?.model ?? null;
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
    const dump = readIfExists(path.join(root, DUMP_FILE));
    const header = dump ? decodeDumpHeader(dump) : undefined;
    return header?.modelId ? { id: header.modelId, hash: header.modelHash, dimension: header.dimension } : null;
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
 * embedding is missing, shared or unusable are set apart as `lost` (each with its position among the
 * rows when `keepLost` keeps them in place, with a zero placeholder); then drops embeddings no row refers to.
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
  const lost: (LostRow & { position: number })[] = [];
  const used = new Uint8Array(source.usable);
  let renormalised = 0;
  decodedRows.forEach((row, i) => {
    const where = `${DATA_FILE} row ${i + 1} (${row.id})`;
    const setAside = (why: LostRow['why'], detail: string) => {
      lost.push({ row, where, why, detail, position: keepLost ? rows.length : -1 });
      if (!keepLost) return;
      rows.push({ ...row, modelId: model?.id ?? '', embeddingIndex: rows.length });
      vectors.push(new Float32Array(dimension));
    };
    if (row.embeddingIndex >= source.usable) return setAside('past-end', `embedding ${row.embeddingIndex} is past the end of ${DUMP_FILE}`);
    if (used[row.embeddingIndex]) return setAside('shared', `embedding ${row.embeddingIndex} is used by an earlier row`);
    const v = Float32Array.from(source.vectors.subarray(row.embeddingIndex * dimension, (row.embeddingIndex + 1) * dimension));
    let sum = 0;
    for (let d = 0; d < dimension; d++) sum += v[d]! * v[d]!;
    const norm = Math.sqrt(sum);
    if (!Number.isFinite(norm) || norm === 0) return setAside('unusable', 'its embedding is zero or not finite');
    if (Math.abs(norm - 1) > NORM_TOLERANCE) {
      for (let d = 0; d < dimension; d++) v[d] = v[d]! / norm;
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
 * placeholder (`'keep'`, listed in `lost`) for the caller to re-embed before anything is committed.
 */
function salvage(root: string, actions: string[], lostEmbeddings: 'refuse' | 'drop' | 'keep'): Salvage {
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
  return { snapshot: new StoreSnapshot(root, synthetic, rows, flat), baseGeneration: generation, lost: lost.map((l) => l.position) };
}

/**
 * Completes an interrupted commit; a journal that cannot be completed (unreadable, or naming a staged
 * file of the wrong size) is deleted instead, so that salvage can work from the committed files: left in
 * place it would block every command for good.
 */
function completeOrDropJournal(root: string, actions: string[]): void {
  try {
    const completed = rollForward(root);
    if (completed !== undefined) actions.push(`completed the interrupted commit of generation ${completed}`);
  } catch (err) {
    if (!(err instanceof BrokenJournalError)) throw err;
    fs.unlinkSync(path.join(root, JOURNAL_FILE));
    actions.push(`removed ${JOURNAL_FILE}: ${err.reason}, so its commit could not be completed; the committed files are salvaged`);
  }
}

/** STORE_ERROR when manifest.json was written by a newer facectl: repairing would downgrade it. */
function refuseNewerStore(root: string): void {
  const bytes = readIfExists(path.join(root, MANIFEST_FILE));
  if (bytes) checkManifestVersion(bytes.toString('utf8'), root);
}

/**
 * Completes interrupted commits, removes leftovers, fixes file modes, and, if the files do not form a
 * valid generation, salvages what is readable into a new one. Reports every change. Readable rows whose
 * embedding is lost are never dropped unless `lostEmbeddings` says so (see LostEmbeddings).
 */
export async function repairStore(dir: string, options: RepairOptions = {}): Promise<RepairReport> {
  const root = path.resolve(dir);
  const { lostEmbeddings = 'refuse', ...openOptions } = options;
  // Checked before the lock file is made or anything is deleted or chmod-ed: `--store ~/Documents` touches nothing.
  if (refuseUnlessStoreDir(root) === 'missing') throw storeError('no store to repair', root);
  refuseNewerStore(root);
  return withLock(root, { timeoutMs: openOptions.lockTimeoutMs }, async (lock) => {
    const actions: string[] = [];
    try {
      completeOrDropJournal(root, actions);
      for (const name of removeLeftovers(root)) actions.push(`removed leftover ${name}`);
      for (const m of modeProblems(root)) {
        if (chmodIfExists(m.file, m.want)) actions.push(`${m.file}: mode ${modeText(m.mode)} → ${modeText(m.want)}`);
      }
    } catch (err) {
      throw storeIoError(err, 'repair the store', root);
    }
    if (storeDirKind(root) === 'blank') {
      actions.push('no generation was ever committed: the store is empty');
      return { actions, snapshot: emptySnapshot(root) };
    }
    try {
      const sound = await readSnapshot(root, { ...openOptions, verifyEmbeddings: true }, true);
      if (contentProblems(sound).length === 0) return { actions, snapshot: sound };
    } catch (err) {
      if (!isFacectlError(err)) throw err;
    }
    const reembed = typeof lostEmbeddings === 'function' ? lostEmbeddings : undefined;
    const mode = reembed ? 'keep' : (lostEmbeddings as 'refuse' | 'drop');
    const { snapshot: salvaged, baseGeneration, lost } = salvage(root, actions, mode);
    const draft = new StoreDraft(salvaged);
    if (reembed && lost.length) {
      // Under the lock (no command can use the store until this commit anyway); nothing is written unless every row got its embedding.
      const change = await reembed(salvaged.rows);
      await change(draft);
      requireEveryEmbedding(draft, root);
    }
    draft.markEmbeddingsDirty();
    const built = buildGeneration(draft, new Date(), baseGeneration);
    commitGeneration(root, built.generation, built.files, lock);
    actions.push(`wrote generation ${built.generation}: ${built.snapshot.rows.length} faces, ${built.snapshot.manifest.counts.identities} identities`);
    return { actions, snapshot: built.snapshot };
  });
}

/** INTERNAL when a re-embedding change left a row with its zero placeholder: it would commit an unusable store. */
function requireEveryEmbedding(draft: StoreDraft, root: string): void {
  draft.rows.forEach((row, i) => {
    const v = draft.embeddingOf(i);
    let sum = 0;
    for (let d = 0; d < v.length; d++) sum += v[d]! * v[d]!;
    if (!(Math.abs(Math.sqrt(sum) - 1) <= NORM_TOLERANCE)) {
      throw new FacectlError(ExitCode.INTERNAL, `repair: row ${i + 1} (${row.id}) was left without an embedding; nothing was committed`, root);
    }
  });
}
