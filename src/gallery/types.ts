/**
 * The Gallery: what the app layer needs from wherever enrolled faces live. Two implementations: the
 * flat-file store (files.ts, one directory on one machine) and PostgreSQL + pgvector (postgres/, shared
 * by many terminals). A command opens its gallery once (open.ts) and closes it at the end.
 */
import type { IndexKind } from '../index/types.js';
import type { FaceRow, ModelInfo, NewFace, ThresholdInfo } from '../store/types.js';

export type { FaceRow, ModelInfo, NewFace, ThresholdInfo };
export type IndexChoice = 'auto' | IndexKind;
export type GalleryBackend = 'files' | 'postgres';

export interface GalleryInfo {
  backend: GalleryBackend;
  /** Directory, or the connection string without its password. */
  location: string;
  model: ModelInfo | null;
  threshold: ThresholdInfo | null;
  identities: number;
  faces: number;
  /** Increases with every commit. */
  generation: number;
  /** Backend details for `facectl info` (file sizes, schema version, index). */
  details: Record<string, string | number | null>;
}

export interface IdentitySummary {
  id: string;
  name: string;
  faceCount: number;
  /** ISO 8601 time of the latest face. */
  lastAdded: string;
}

/** The faces of one identity, in enrollment order, with their embeddings. */
export interface IdentityFaces {
  rows: FaceRow[];
  embeddings: Float32Array[];
}

export interface Candidate {
  id: string;
  name: string;
  /** Exact inner product with the identity's mean vector. */
  score: number;
}

export interface SearchResult {
  /** Per query, best first. */
  hits: Candidate[][];
  index: { kind: IndexKind; origin: string };
}

/** Everything a gallery holds, for `store copy` and checks (embeddings row-major, one per row). */
export interface GalleryExport {
  model: ModelInfo | null;
  threshold: ThresholdInfo | null;
  rows: FaceRow[];
  embeddings: Float32Array;
}

/** One writer's view inside a mutate(): reads see the latest committed state, writes commit together. */
export interface GalleryDraft {
  readonly model: ModelInfo | null;
  readonly threshold: ThresholdInfo | null;
  hasIdentity(id: string): Promise<boolean>;
  facesOf(id: string): Promise<IdentityFaces>;
  /** The identity (other than `excludeId`) whose mean vector is nearest `vector`, exactly. */
  nearestIdentity(vector: Float32Array, excludeId?: string): Promise<{ id: string; score: number } | null>;
  addFaces(model: ModelInfo, faces: readonly NewFace[]): Promise<FaceRow[]>;
  /** UNKNOWN_ID when not enrolled; returns how many faces went. */
  removeIdentity(id: string): Promise<number>;
  /** Gives every face of `id` the display name `name` (no change when it has it); UNKNOWN_ID when not enrolled. */
  renameIdentity(id: string, name: string): Promise<void>;
  setThreshold(threshold: ThresholdInfo | null): Promise<void>;
  /** Every row, in enrollment order (re-embedding and path fixes work on positions in this list). */
  rows(): Promise<readonly FaceRow[]>;
  setSourcePath(index: number, sourcePath: string): Promise<void>;
  removeFaces(indexes: ReadonlySet<number>): Promise<number>;
  /** One embedding per current row, from `model`, which becomes the gallery's model. */
  replaceAllEmbeddings(model: ModelInfo, embeddings: readonly Float32Array[]): Promise<void>;
}

export interface MutateOptions {
  /** Fail with STORE_ERROR unless the gallery is still at this generation (work prepared outside the lock). */
  expectGeneration?: number;
  /** Create the gallery if it does not exist yet (default true); false: NOT_FOUND instead. */
  create?: boolean;
}

export interface CheckReport {
  ok: boolean;
  problems: string[];
  notes: string[];
}

/** What `repair` does with readable faces that lost their embeddings (only a store directory can lose them). */
export interface RepairOptions {
  /** Drop them, listing each (`index rebuild --drop-damaged`). */
  dropDamaged?: boolean;
  /**
   * Re-embed them: called, only when such faces exist, with every face the repaired gallery would hold
   * (the damaged ones included), in order; it returns the change that gives each face it keeps a new
   * embedding (GalleryDraft.replaceAllEmbeddings), committed with the repair in one step. If it throws,
   * nothing is committed.
   */
  reembed?: (rows: readonly FaceRow[]) => Promise<(draft: GalleryDraft) => Promise<void>>;
}

export interface Gallery {
  readonly backend: GalleryBackend;
  readonly location: string;
  info(): Promise<GalleryInfo>;
  /**
   * A key of the state committed now, read from the backend rather than from what this object has read:
   * a long-lived reader (`facectl serve`) compares it with the key it read before opening its view, to see
   * another process's enroll, remove or calibration, and reopens. Not the generation alone: a gallery
   * deleted and created anew at the same place restarts at generation 1 (files: the manifest's generation,
   * checksums and commit time; PostgreSQL: the generation and the random token its commit wrote).
   */
  committedState(): Promise<string>;
  /**
   * The committed state (as committedState() gives it) that this object's own view of the gallery was read
   * or committed at, when it keeps one in memory (a store directory's snapshot); undefined when it keeps
   * none (PostgreSQL reads each time). A long-lived reader adopts it after a write of its own, which
   * leaves the object holding what it committed, instead of reading the gallery again.
   */
  viewState?(): string | undefined;
  /**
   * Drops what this object keeps in memory (a store directory's snapshot and search indexes); it stays
   * usable and reads again on demand. A long-lived reader calls it before opening the gallery afresh, so
   * that it never holds two copies.
   */
  release?(): Promise<void>;
  /**
   * The same gallery opened afresh (a new database connection), as the user gave it: for a long-lived
   * process after another's commit or a lost connection. `location` cannot serve, as it hides the password.
   */
  reopen(options?: { mustExist?: boolean }): Promise<Gallery>;
  identities(): Promise<IdentitySummary[]>;
  /** Every face row (no embeddings), in enrollment order. */
  rows(): Promise<readonly FaceRow[]>;
  facesOf(id: string): Promise<IdentityFaces>;
  /** Top-k identities for each of the row-major queries, scores exact. */
  search(queries: Float32Array, k: number, index: IndexChoice): Promise<SearchResult>;
  /** Runs `change` under the gallery's writer lock and commits what it did atomically (nothing if it throws). */
  mutate<T>(change: (draft: GalleryDraft) => Promise<T>, options?: MutateOptions): Promise<{ result: T; committed: boolean }>;
  exportAll(): Promise<GalleryExport>;
  /** Full consistency check (checksums, norms, identity means); changes nothing. */
  check(): Promise<CheckReport>;
  /**
   * Fixes what can be fixed and says what it did. Readable faces whose embedding is lost (a store
   * directory's truncated embeddings.f32) refuse it with STORE_ERROR, changing nothing, unless
   * `dropDamaged` drops them or `reembed` re-embeds them (see RepairOptions).
   */
  repair(options?: RepairOptions): Promise<string[]>;
  /**
   * The gallery's model as far as it can be read even when the gallery is too damaged to open (a store
   * directory: its manifest, else embeddings.f32's header), for `index rebuild --reembed` to load the
   * pipeline that repairs it. Absent: info().model is used.
   */
  readableModel?(): Promise<ModelInfo | null>;
  /** Builds the search index of this kind now. */
  rebuildIndex(index: IndexChoice): Promise<{ kind: IndexKind; where: string; identities: number; ms: number }>;
  close(): Promise<void>;
}
