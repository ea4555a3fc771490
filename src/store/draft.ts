/**
 * The mutable copy a mutate() callback edits. It enforces the store's rules (valid ids and names, one
 * model per store, one name per identity, normalised finite embeddings) as edits are made, so the
 * commit only serialises.
 */
import { ExitCode, FacectlError } from '../errors.js';
import { norm } from '../pipeline/vector.js';
import type { StoreSnapshot } from './snapshot.js';
import type { FaceRow, ModelInfo, NewFace, ThresholdInfo } from './types.js';
import { validateDisplayName, validateId, validateModel, validateNewFace, validateThreshold } from './validate.js';

const sameModel = (a: ModelInfo, b: ModelInfo): boolean => a.id === b.id && a.hash === b.hash && a.dimension === b.dimension;

function describeModel(model: ModelInfo, other: ModelInfo): string {
  if (model.id !== other.id) return model.id;
  if (model.hash !== other.hash) return `${model.id} (hash ${model.hash.slice(0, 19)}…)`;
  return `${model.id} (dim ${model.dimension})`;
}

export function modelMismatch(stored: ModelInfo, incoming: ModelInfo): FacectlError {
  return new FacectlError(
    ExitCode.MODEL_MISMATCH,
    `store was built with model ${describeModel(stored, incoming)}; this is ${describeModel(incoming, stored)}: run \`facectl index rebuild --reembed\``,
  );
}

/** A normalised copy; INTERNAL error for a wrong length, a non-finite or an all-zero vector (an upstream bug). */
export function normalisedCopy(vector: Float32Array, dimension: number, what: string): Float32Array {
  if (vector.length !== dimension) {
    throw new FacectlError(ExitCode.MODEL_ERROR, `${what}: embedding has ${vector.length} values but the model declares ${dimension}`);
  }
  const length = norm(vector);
  if (!Number.isFinite(length) || length === 0) throw new FacectlError(ExitCode.INTERNAL, `${what}: embedding is zero or not finite`);
  const out = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++) out[i] = vector[i]! / length;
  return out;
}

/** Where a draft row's embedding lives: a row of the base dump (not copied until commit) or a new vector. */
type VectorSource = number | Float32Array;

export class StoreDraft {
  /** Rows shared with the base snapshot are never modified: a change replaces the row object. */
  private rowList: Readonly<FaceRow>[];
  private vectors: VectorSource[];
  private modelInfo: ModelInfo | null;
  private thresholdInfo: ThresholdInfo | null;
  /** True once rows were added, removed or re-embedded: embeddings.f32 must be rewritten. */
  private embeddingsDirty = false;
  private dirty = false;
  /** Current display name and face count of each id, so per-face checks stay O(1) on 1e5-row stores. */
  private names = new Map<string, string>();
  private counts = new Map<string, number>();

  constructor(
    /** The generation this draft started from (reloaded under the lock). */
    readonly base: StoreSnapshot,
    private readonly now: Date = new Date(),
  ) {
    this.rowList = base.rows.slice();
    this.vectors = base.rows.map((r) => r.embeddingIndex);
    this.modelInfo = base.model;
    this.thresholdInfo = base.threshold;
    this.recount();
  }

  private recount(): void {
    this.names.clear();
    this.counts.clear();
    for (const row of this.rowList) {
      this.names.set(row.id, row.name);
      this.counts.set(row.id, (this.counts.get(row.id) ?? 0) + 1);
    }
  }

  get model(): ModelInfo | null {
    return this.modelInfo;
  }

  get threshold(): ThresholdInfo | null {
    return this.thresholdInfo;
  }

  get rows(): readonly Readonly<FaceRow>[] {
    return this.rowList;
  }

  /** Embedding of rows[index] in the draft. */
  embeddingOf(index: number): Float32Array {
    const v = this.vectors[index];
    if (v === undefined) throw new RangeError(`no row ${index} in the draft`);
    if (typeof v !== 'number') return v;
    const d = this.base.dimension;
    return this.base.dumpVectors.subarray(v * d, (v + 1) * d);
  }

  get changed(): boolean {
    return this.dirty;
  }

  get embeddingsChanged(): boolean {
    return this.embeddingsDirty;
  }

  hasIdentity(id: string): boolean {
    return this.counts.has(id);
  }

  /** Binds the store to `model` when it has no faces yet; MODEL_MISMATCH when it holds another model's faces. */
  private bindModel(model: ModelInfo): void {
    const checked = validateModel(model);
    if (this.modelInfo && sameModel(this.modelInfo, checked)) return;
    if (this.modelInfo && this.rowList.length > 0) throw modelMismatch(this.modelInfo, checked);
    this.modelInfo = checked;
    // A threshold chosen for another model says nothing about this one.
    if (this.thresholdInfo && this.thresholdInfo.model !== checked.id) this.thresholdInfo = null;
    this.dirty = this.embeddingsDirty = true;
  }

  /**
   * Appends faces embedded with `model`. A face for an existing id with a different name renames the
   * whole identity (every row of an id carries one name). Returns the new rows.
   */
  addFaces(model: ModelInfo, faces: readonly NewFace[]): FaceRow[] {
    faces.forEach(validateNewFace);
    this.bindModel(model);
    const dimension = this.modelInfo!.dimension;
    const embedded = faces.map((f, i) => normalisedCopy(f.embedding, dimension, `face ${i + 1} (${f.id}, ${f.sourcePath})`));
    const addedAt = this.now.toISOString();
    const added = faces.map((f, i): FaceRow => {
      const row: FaceRow = {
        id: f.id,
        name: f.name,
        sourcePath: f.sourcePath,
        imageSha256: f.imageSha256,
        box: { x: f.box.x, y: f.box.y, width: f.box.width, height: f.box.height },
        quality: { ...f.quality },
        embeddingIndex: this.rowList.length,
        modelId: this.modelInfo!.id,
        addedAt: f.addedAt ?? addedAt,
      };
      this.setName(f.id, f.name);
      this.rowList.push(row);
      this.names.set(f.id, f.name);
      this.counts.set(f.id, (this.counts.get(f.id) ?? 0) + 1);
      this.vectors.push(embedded[i]!);
      return row;
    });
    if (added.length > 0) this.dirty = this.embeddingsDirty = true;
    return added.map((r) => ({ ...r }));
  }

  /** Renames the existing rows of `id` (a no-op for a new id or an unchanged name). */
  private setName(id: string, name: string): void {
    const current = this.names.get(id);
    if (current === undefined || current === name) return;
    this.names.set(id, name);
    this.rowList.forEach((row, i) => {
      if (row.id === id && row.name !== name) this.rowList[i] = { ...row, name };
    });
    this.dirty = true;
  }

  /** Gives every row of `id` a new display name; UNKNOWN_ID if it is not enrolled. */
  renameIdentity(id: string, name: string): void {
    validateId(id);
    validateDisplayName(name);
    if (!this.hasIdentity(id)) throw unknownId(id);
    this.setName(id, name);
  }

  /** Records where row `index`'s photo is now (paths older versions stored relative become absolute). */
  setSourcePath(index: number, sourcePath: string): void {
    const row = this.rowList[index];
    if (!row) throw new RangeError(`no row ${index} in the draft`);
    validateNewFace({ ...row, sourcePath, embedding: new Float32Array(0) });
    if (row.sourcePath === sourcePath) return;
    this.rowList[index] = { ...row, sourcePath };
    this.dirty = true;
  }

  /** Removes the rows for which `drop(row, index)` is true. Returns how many went. */
  removeFaces(drop: (row: Readonly<FaceRow>, index: number) => boolean): number {
    const keepRows: Readonly<FaceRow>[] = [];
    const keepVectors: VectorSource[] = [];
    this.rowList.forEach((row, i) => {
      if (drop(row, i)) return;
      keepRows.push(row);
      keepVectors.push(this.vectors[i]!);
    });
    const removed = this.rowList.length - keepRows.length;
    if (removed > 0) {
      this.rowList = keepRows;
      this.vectors = keepVectors;
      this.dirty = this.embeddingsDirty = true;
      this.recount();
    }
    return removed;
  }

  /** Removes every face of `id`; UNKNOWN_ID if there is none. Returns how many faces went. */
  removeIdentity(id: string): number {
    validateId(id);
    const removed = this.removeFaces((row) => row.id === id);
    if (removed === 0) throw unknownId(id);
    return removed;
  }

  /** Sets (or clears, with null) the login threshold; MODEL_MISMATCH if it was chosen for another model. */
  setThreshold(threshold: ThresholdInfo | null): void {
    if (threshold === null) {
      this.dirty ||= this.thresholdInfo !== null;
      this.thresholdInfo = null;
      return;
    }
    const checked = validateThreshold(threshold);
    if (this.modelInfo && checked.model !== this.modelInfo.id) {
      throw new FacectlError(
        ExitCode.MODEL_MISMATCH,
        `threshold was chosen for model ${checked.model}; this store uses ${this.modelInfo.id}: calibrate again with that model`,
      );
    }
    this.thresholdInfo = checked;
    this.dirty = true;
  }

  /**
   * Re-embedding: one new embedding per current row (same order as `rows`) from `model`, which becomes
   * the store's model. A threshold chosen for another model is cleared.
   */
  replaceAllEmbeddings(model: ModelInfo, embeddings: readonly Float32Array[]): void {
    const checked = validateModel(model);
    if (embeddings.length !== this.rowList.length) {
      throw new FacectlError(ExitCode.INTERNAL, `re-embedding needs ${this.rowList.length} embeddings (one per row), got ${embeddings.length}`);
    }
    this.vectors = embeddings.map((v, i) => normalisedCopy(v, checked.dimension, `row ${i + 1} (${this.rowList[i]!.id})`));
    this.rowList = this.rowList.map((row) => ({ ...row, modelId: checked.id }));
    if (this.thresholdInfo && this.thresholdInfo.model !== checked.id) this.thresholdInfo = null;
    this.modelInfo = checked;
    this.dirty = this.embeddingsDirty = true;
  }

  /** Forces the next commit to rewrite embeddings.f32 (repair, store creation). */
  markEmbeddingsDirty(): void {
    this.dirty = this.embeddingsDirty = true;
  }

  /** Internal: the final rows, renumbered to dump order when the dump is rewritten. */
  result(): { rows: Readonly<FaceRow>[]; model: ModelInfo | null; threshold: ThresholdInfo | null } {
    const rows = this.embeddingsDirty ? this.rowList.map((r, i) => (r.embeddingIndex === i ? r : { ...r, embeddingIndex: i })) : this.rowList;
    return { rows, model: this.modelInfo, threshold: this.thresholdInfo };
  }

  /** Internal: for each row, the row of the base's embeddings.f32 its embedding is (-1: a new one). */
  baseOrigins(): Int32Array {
    return Int32Array.from(this.vectors, (v) => (typeof v === 'number' ? v : -1));
  }

  /**
   * Internal: writes row i's embedding at i × dimension of `target`. Consecutive base rows are copied as
   * one block, so appending to a 1e5-row store is a single memcpy rather than 1e5 small ones.
   */
  writeVectors(target: Float32Array, dimension: number): void {
    const baseVectors = this.base.dumpVectors;
    let i = 0;
    while (i < this.vectors.length) {
      const v = this.vectors[i]!;
      if (typeof v !== 'number') {
        target.set(v, i * dimension);
        i++;
        continue;
      }
      let end = i + 1;
      while (end < this.vectors.length && this.vectors[end] === v + (end - i)) end++;
      target.set(baseVectors.subarray(v * dimension, (v + end - i) * dimension), i * dimension);
      i = end;
    }
  }
}

export const unknownId = (id: string): FacectlError => new FacectlError(ExitCode.UNKNOWN_ID, `no identity "${id}" in the store`);
