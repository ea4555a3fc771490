/** A read-only, consistent view of one committed generation of a store. */
import { indexOfRows, type RowIndex } from './csv-index.js';
import type { Manifest } from './manifest.js';
import { identityMean } from './identity-mean.js';
import type { FaceRow, Identity, ModelInfo, ThresholdInfo } from './types.js';

/**
 * Each identity's row positions, identities in order of first enrollment and each one's rows in enrollment
 * order: what identities() groups by, also for readers that need no vector (the list of people).
 */
export function rowsById(ids: readonly string[]): { id: string; rowIndexes: number[] }[] {
  const groups = new Map<string, number[]>();
  ids.forEach((id, i) => {
    const rows = groups.get(id);
    if (rows) rows.push(i);
    else groups.set(id, [i]);
  });
  return [...groups].map(([id, rowIndexes]) => ({ id, rowIndexes }));
}

/**
 * Each identity's vector (identityMean of its rows), in order of first enrollment. `known` may give an
 * identity's vector already computed from the very same embeddings, in the same order (copied, not derived).
 */
export function deriveIdentities(
  index: RowIndex,
  vectors: Float32Array,
  dimension: number,
  known?: (id: string, rowIndexes: readonly number[]) => Float32Array | undefined,
): { list: Identity[]; matrix: Float32Array } {
  const groups = rowsById(index.ids);
  const matrix = new Float32Array(groups.length * dimension);
  const list = groups.map(({ id, rowIndexes }, k): Identity => {
    const vector = matrix.subarray(k * dimension, (k + 1) * dimension);
    const same = known?.(id, rowIndexes);
    if (same) vector.set(same);
    else identityMean(rowIndexes.map((i) => vectors.subarray(index.embeddingRows[i]! * dimension, (index.embeddingRows[i]! + 1) * dimension)), dimension, vector);
    const name = index.names[rowIndexes[rowIndexes.length - 1]!]!;
    return { id, name, faceCount: rowIndexes.length, vector, rowIndexes };
  });
  return { list, matrix };
}

const withById = ({ list, matrix }: { list: Identity[]; matrix: Float32Array }) => ({ list, matrix, byId: new Map(list.map((it) => [it.id, it])) });

/**
 * Rows decoded up front, or an index plus a decoder that runs on first access of `rows` (and `decodeAt`,
 * which decodes only the rows at some positions, for a reader that needs a few rows, e.g. one person's).
 */
export type RowsSource =
  | readonly Readonly<FaceRow>[]
  | { index: RowIndex; decode: () => readonly Readonly<FaceRow>[]; decodeAt?: (positions: readonly number[]) => Readonly<FaceRow>[] };

/**
 * What a committed generation says without its embeddings: manifest (model, threshold, counts), the row
 * index (who each row is) and the rows. `GalleryStore.openHead` reads it without loading embeddings.f32
 * (only its header and size are checked, as `open` checks them), for commands that need no vector:
 * `info`, `list`, the model and threshold before an enroll.
 */
export class StoreHead {
  private decodedRows?: readonly Readonly<FaceRow>[];
  private decodeRows?: () => readonly Readonly<FaceRow>[];
  private decodeRowsAt?: (positions: readonly number[]) => Readonly<FaceRow>[];
  private idSet?: Set<string>;
  /** id, name, embedding row and model id of every row, in data.csv order. */
  readonly index: RowIndex;

  constructor(
    /** Absolute store directory. */
    readonly dir: string,
    readonly manifest: Readonly<Manifest>,
    rows: RowsSource,
  ) {
    if (Array.isArray(rows)) {
      this.decodedRows = rows;
      this.index = indexOfRows(rows);
    } else {
      const lazy = rows as Exclude<RowsSource, readonly unknown[]>;
      this.index = lazy.index;
      this.decodeRows = lazy.decode;
      this.decodeRowsAt = lazy.decodeAt;
    }
  }

  /** Increases with every commit: a key for caches that depend on anything in the store. */
  get generation(): number {
    return this.manifest.generation;
  }

  /** sha256 of embeddings.f32: changes only when embeddings change, so an ANN index can key its cache on it. */
  get embeddingsSha256(): string {
    return this.manifest.files['embeddings.f32'].sha256;
  }

  get model(): ModelInfo | null {
    return this.manifest.model;
  }

  get threshold(): ThresholdInfo | null {
    return this.manifest.threshold;
  }

  get dimension(): number {
    return this.manifest.model?.dimension ?? 0;
  }

  /** Number of enrolled faces (rows), without decoding them. */
  get faceCount(): number {
    return this.index.ids.length;
  }

  /**
   * Number of enrolled identities: the manifest's count, which open checks against data.csv's ids and a
   * commit computes from its rows, so no identity vector is derived for it.
   */
  get identityCount(): number {
    return this.manifest.counts.identities;
  }

  /**
   * One row per enrolled face, in data.csv order. Decoded on first access (≈0.5 s for 1e5 rows), so
   * a login that only needs identities() never pays for it.
   */
  get rows(): readonly Readonly<FaceRow>[] {
    if (!this.decodedRows) {
      this.decodedRows = this.decodeRows!();
      this.decodeRows = undefined;
      this.decodeRowsAt = undefined;
    }
    return this.decodedRows;
  }

  /**
   * The rows at these positions (of `rows`), in the order given: only those are decoded when `rows` has not
   * been (a login listing the matched person's photos), with the same checks as the full decode.
   */
  rowsAt(positions: readonly number[]): Readonly<FaceRow>[] {
    for (const i of positions) if (!Number.isInteger(i) || i < 0 || i >= this.faceCount) throw new RangeError(`no row ${String(i)} in the store`);
    if (!this.decodedRows && this.decodeRowsAt) return this.decodeRowsAt(positions);
    return positions.map((i) => this.rows[i]!);
  }

  /** Positions in `rows` of the faces of `id`, in enrollment order (empty when not enrolled). */
  rowPositionsOf(id: string): number[] {
    const out: number[] = [];
    if (!this.hasIdentity(id)) return out;
    this.index.ids.forEach((rowId, i) => {
      if (rowId === id) out.push(i);
    });
    return out;
  }

  hasIdentity(id: string): boolean {
    this.idSet ??= new Set(this.index.ids);
    return this.idSet.has(id);
  }
}

/** A committed generation with its embeddings (`GalleryStore.open`): what a login or a commit needs. */
export class StoreSnapshot extends StoreHead {
  private identityCache?: { list: Identity[]; matrix: Float32Array; byId: Map<string, Identity> };

  constructor(
    dir: string,
    manifest: Readonly<Manifest>,
    rows: RowsSource,
    /** embeddings.f32 rows (dump order, row-major): use embeddingOf() rather than indexing it. */
    readonly dumpVectors: Float32Array,
  ) {
    super(dir, manifest, rows);
  }

  /** The L2-normalised embedding of a row, given as a row or as its position in `rows` (a view: do not modify). */
  embeddingOf(row: Readonly<FaceRow> | number): Float32Array {
    const dumpRow = typeof row === 'number' ? this.index.embeddingRows[row] : row.embeddingIndex;
    if (dumpRow === undefined || (typeof row === 'number' && !Number.isInteger(row))) throw new RangeError(`no row ${String(row)} in the store`);
    const d = this.dimension;
    return this.dumpVectors.subarray(dumpRow * d, (dumpRow + 1) * d);
  }

  private cache() {
    if (!this.identityCache) this.identityCache = withById(deriveIdentities(this.index, this.dumpVectors, this.dimension));
    return this.identityCache;
  }

  /** Whether identities() has been computed (a commit built on this snapshot then reuses its vectors). */
  get identitiesDerived(): boolean {
    return !!this.identityCache;
  }

  /**
   * A commit built this snapshot from `base`, whose identities were derived: each identity whose rows
   * hold the same embeddings as in `base`, in the same order, keeps its vector (identityMean of the same
   * values, so the same to the bit), and only the others are derived; now, so `base` can be let go. A
   * service that enrolls or removes one person at 1e5 identities then skips deriving 1e5 means (≈1 s).
   * `origins[i]`: the row of `base`'s embeddings.f32 that row i's embedding is a copy of, -1 when new.
   */
  inheritIdentities(base: StoreSnapshot, origins: Int32Array): void {
    const old = base.identityCache;
    if (!old || this.identityCache || base.dimension !== this.dimension || origins.length !== this.faceCount) return;
    const baseRows = base.index.embeddingRows;
    const known = (id: string, rowIndexes: readonly number[]) => {
      const was = old.byId.get(id);
      if (!was || was.rowIndexes.length !== rowIndexes.length) return undefined;
      for (let k = 0; k < rowIndexes.length; k++) if (origins[rowIndexes[k]!] !== baseRows[was.rowIndexes[k]!]) return undefined;
      return was.vector;
    };
    this.identityCache = withById(deriveIdentities(this.index, this.dumpVectors, this.dimension, known));
  }

  /** Every identity, in order of first enrollment, with its mean vector (computed on first call, then cached). */
  identities(): readonly Identity[] {
    return this.cache().list;
  }

  /** identities()' vectors as one row-major matrix (identity k at k × dimension), for search and indexing. */
  identityMatrix(): Float32Array {
    return this.cache().matrix;
  }

  identity(id: string): Identity | undefined {
    return this.cache().byId.get(id);
  }
}
