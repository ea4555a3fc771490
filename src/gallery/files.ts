/**
 * The flat-file store (src/store/) behind the Gallery interface. The snapshot is read once per command
 * and replaced by what each commit wrote, so a command never opens the store twice. What needs no
 * embedding (info, list, rows) reads the store's head alone (GalleryStore.openHead: no embeddings.f32 but
 * its header), unless the gallery was opened to search (`search`), which reads it all at first use.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { dot } from '../pipeline/vector.js';
import {
  DATA_FILE, DUMP_FILE, emptySnapshot, GalleryStore, rowsById, identityMean, MANIFEST_FILE, manifestState, readableModel, readCommittedState, repairStore, storeDirKind,
  verifyStore, type LostEmbeddings, type StoreDraft, type StoreHead, type StoreSnapshot,
} from '../store/index.js';
import { dropStaleIndexes, indexFile, openFilesIndex, type OpenedFilesIndex } from './files-index.js';
import { topCandidates } from './rank.js';
import type {
  Candidate, CheckReport, FaceRow, Gallery, GalleryDraft, GalleryExport, GalleryInfo, IdentityFaces, IdentitySummary, IndexChoice, ModelInfo,
  MutateOptions, NewFace, RepairOptions, SearchResult, ThresholdInfo,
} from './types.js';

export class FilesGallery implements Gallery {
  readonly backend = 'files' as const;
  private snap?: StoreSnapshot;
  /** The store without its embeddings, while `snap` is not read (info, list). */
  private headView?: StoreHead;
  private indexes = new Map<string, OpenedFilesIndex>();

  private constructor(
    readonly location: string,
    /** Read the embeddings at first use (the caller searches): see `search` in OpenGalleryOptions. */
    private readonly forSearch: boolean,
  ) {}

  /**
   * `mustExist`: NOT_FOUND now when there is no store directory (reads); otherwise it is created on first write.
   * `search`: the caller searches, so the embeddings are read at first use, also by info().
   */
  static open(dir: string, options: { mustExist?: boolean; search?: boolean } = {}): FilesGallery {
    const root = path.resolve(dir);
    if (options.mustExist && !fs.existsSync(root)) throw new FacectlError(ExitCode.NOT_FOUND, 'no store here: enroll someone first, or pass --store', root);
    return new FilesGallery(root, !!options.search);
  }

  async reopen(options: { mustExist?: boolean } = {}): Promise<FilesGallery> {
    return FilesGallery.open(this.location, { search: this.forSearch, ...options });
  }

  /** The committed snapshot (read on first use); an empty one while no store exists yet (the first write creates it). */
  async snapshot(): Promise<StoreSnapshot> {
    if (!this.snap) {
      const kind = storeDirKind(this.location);
      this.snap = kind === 'missing' || kind === 'blank' ? emptySnapshot(this.location) : await GalleryStore.open(this.location);
      this.headView = undefined;
    }
    return this.snap;
  }

  /**
   * The committed store without its embeddings: the snapshot when it is read (or when the gallery was
   * opened to search), else the store's head, read on first use (no identity vector, no embeddings.f32).
   */
  async head(): Promise<StoreHead> {
    if (this.snap || this.forSearch) return this.snapshot();
    if (!this.headView) {
      const kind = storeDirKind(this.location);
      this.headView = kind === 'missing' || kind === 'blank' ? emptySnapshot(this.location) : await GalleryStore.openHead(this.location);
    }
    return this.headView;
  }

  async info(): Promise<GalleryInfo> {
    const s = await this.head();
    const size = (f: string) => {
      try {
        return fs.statSync(path.join(this.location, f)).size;
      } catch {
        return null;
      }
    };
    const files = [MANIFEST_FILE, DATA_FILE, DUMP_FILE, path.basename(indexFile(this.location, 'flat')), path.basename(indexFile(this.location, 'hnsw'))];
    return {
      backend: this.backend,
      location: this.location,
      model: s.model,
      threshold: s.threshold,
      identities: s.identityCount,
      faces: s.faceCount,
      generation: s.generation,
      details: Object.fromEntries(files.map((f) => [f, size(f)])),
    };
  }

  committedState(): Promise<string> {
    return readCommittedState(this.location);
  }

  viewState(): string | undefined {
    const view = this.snap ?? this.headView;
    return view && manifestState(view.manifest);
  }

  /** Each identity in order of first enrollment (the order of snapshot.identities()), from the rows alone: no vector. */
  async identities(): Promise<IdentitySummary[]> {
    const s = await this.head();
    const rows = s.rows;
    return rowsById(s.index.ids).map(({ id, rowIndexes }) => ({
      id,
      name: s.index.names[rowIndexes[rowIndexes.length - 1]!]!, // its last row's, as in snapshot.identities()
      faceCount: rowIndexes.length,
      lastAdded: rowIndexes.reduce((last, i) => (rows[i]!.addedAt > last ? rows[i]!.addedAt : last), ''),
    }));
  }

  async rows(): Promise<readonly FaceRow[]> {
    return (await this.head()).rows;
  }

  /** Decodes only the rows of `id` (a login lists the matched person's photos from them). */
  async facesOf(id: string): Promise<IdentityFaces> {
    const s = await this.snapshot();
    const positions = s.rowPositionsOf(id);
    const rows = s.rowsAt(positions);
    return { rows: rows.map((r) => ({ ...r })), embeddings: positions.map((i) => s.embeddingOf(i)) };
  }

  async search(queries: Float32Array, k: number, choice: IndexChoice): Promise<SearchResult> {
    const s = await this.snapshot();
    let opened = this.indexes.get(choice);
    if (!opened) this.indexes.set(choice, (opened = await openFilesIndex(s, choice)));
    const want = Math.max(1, k);
    // Every candidate is re-scored with the one `dot` that verify, enroll's duplicate check and the PostgreSQL
    // backend use, so a score exactly at the threshold gets the same decision whatever the index: the flat
    // kernel sums in float32, and HNSW stores 8-bit vectors (scores off by up to ~0.013, so its order among
    // near-ties is not the exact one). Spare candidates are taken, so --top cannot change the top.
    // Equal scores (two people enrolled from one photo) go to the identity enrolled first, the order of
    // snapshot.identities(): flat's own tie rule and the duplicate check's, so the index kind cannot change
    // who logs in. An identity's first row orders identities() (it is listed where its first face is).
    const spare = opened.kind === 'hnsw' ? Math.max(2 * want, want + 16) : want + 4;
    const hits = opened.index.search(queries, Math.max(want, Math.min(opened.index.size, spare)));
    const dim = s.dimension;
    return {
      index: { kind: opened.kind, origin: opened.origin },
      hits: hits.map((hit, q) => {
        const query = queries.subarray(q * dim, (q + 1) * dim);
        const scored = hit.labels.map((id) => {
          const it = s.identity(id)!;
          return { candidate: { id, name: it.name, score: dot(query, it.vector) } as Candidate, enrolled: it.rowIndexes[0]! };
        });
        return topCandidates(scored, want);
      }),
    };
  }

  async mutate<T>(change: (draft: GalleryDraft) => Promise<T>, options: MutateOptions = {}): Promise<{ result: T; committed: boolean }> {
    // A saved index of the faces before this commit would keep a removed person's vector on disk until
    // the next login rebuilt it: it goes under the lock, before the commit point, so not even a kill
    // right after the commit leaves it behind (a kill before the commit point costs only a rebuild).
    // The snapshot held, when still the committed one, is the change's base: the store is not read again.
    const r = await GalleryStore.mutate(this.location, (draft) => change(new FilesDraft(draft)), {
      expectGeneration: options.expectGeneration,
      create: options.create ?? true,
      beforeCommit: dropStaleIndexes,
      base: this.snap,
    });
    this.snap = r.snapshot;
    this.headView = undefined;
    this.closeIndexes();
    return { result: r.result, committed: r.committed };
  }

  async exportAll(): Promise<GalleryExport> {
    const s = await this.snapshot();
    const rows = s.rows.map((r) => ({ ...r }));
    const embeddings = new Float32Array(rows.length * s.dimension);
    rows.forEach((r, i) => embeddings.set(s.embeddingOf(r), i * s.dimension));
    return { model: s.model, threshold: s.threshold, rows, embeddings };
  }

  async check(): Promise<CheckReport> {
    const r = await verifyStore(this.location);
    return { ok: r.ok, problems: r.problems, notes: r.notes };
  }

  async repair(options: RepairOptions = {}): Promise<string[]> {
    const { reembed, dropDamaged } = options;
    const lostEmbeddings: LostEmbeddings = dropDamaged
      ? 'drop'
      : reembed
        ? async (rows) => {
            const change = await reembed(rows);
            return (draft: StoreDraft) => change(new FilesDraft(draft));
          }
        : 'refuse';
    const { actions, snapshot } = await repairStore(this.location, { lostEmbeddings });
    this.snap = snapshot;
    this.headView = undefined;
    this.closeIndexes();
    dropStaleIndexes(snapshot);
    return actions;
  }

  async readableModel(): Promise<ModelInfo | null> {
    return readableModel(this.location);
  }

  async rebuildIndex(choice: IndexChoice) {
    const t0 = performance.now();
    const s = await this.snapshot();
    const opened = await openFilesIndex(s, choice, { rebuild: true });
    this.indexes.set(choice, opened);
    return { kind: opened.kind, where: opened.file, identities: s.identities().length, ms: performance.now() - t0 };
  }

  private closeIndexes(): void {
    for (const i of this.indexes.values()) i.index.dispose?.();
    this.indexes.clear();
  }

  async release(): Promise<void> {
    this.closeIndexes();
    this.snap = undefined;
    this.headView = undefined;
  }

  /** Closes the indexes and drops the snapshot (a later call reads the store again). */
  async close(): Promise<void> {
    await this.release();
  }
}

/** StoreDraft behind the GalleryDraft interface; identity means come from the one float64 function. */
class FilesDraft implements GalleryDraft {
  private means?: Map<string, Float32Array>;

  constructor(private readonly draft: StoreDraft) {}

  get model(): ModelInfo | null {
    return this.draft.model;
  }

  get threshold(): ThresholdInfo | null {
    return this.draft.threshold;
  }

  async hasIdentity(id: string): Promise<boolean> {
    return this.draft.hasIdentity(id);
  }

  async facesOf(id: string): Promise<IdentityFaces> {
    const out: IdentityFaces = { rows: [], embeddings: [] };
    this.draft.rows.forEach((row, i) => {
      if (row.id !== id) return;
      out.rows.push({ ...row });
      out.embeddings.push(this.draft.embeddingOf(i));
    });
    return out;
  }

  /** Each identity's vector in the draft: the snapshot's own while unchanged, else recomputed the same way. */
  private identityVectors(): Map<string, Float32Array> {
    if (this.means) return this.means;
    if (!this.draft.changed) return (this.means = new Map(this.draft.base.identities().map((it) => [it.id, it.vector])));
    const byId = new Map<string, Float32Array[]>();
    this.draft.rows.forEach((row, i) => {
      let list = byId.get(row.id);
      if (!list) byId.set(row.id, (list = []));
      list.push(this.draft.embeddingOf(i));
    });
    const dim = this.draft.model?.dimension ?? 0;
    return (this.means = new Map([...byId].map(([id, vs]) => [id, identityMean(vs, dim)])));
  }

  async nearestIdentity(vector: Float32Array, excludeId?: string): Promise<{ id: string; score: number } | null> {
    let best: { id: string; score: number } | null = null;
    for (const [id, v] of this.identityVectors()) {
      if (id === excludeId) continue;
      const score = dot(vector, v);
      if (!best || score > best.score) best = { id, score };
    }
    return best;
  }

  async addFaces(model: ModelInfo, faces: readonly NewFace[]): Promise<FaceRow[]> {
    this.means = undefined;
    return this.draft.addFaces(model, faces);
  }

  async removeIdentity(id: string): Promise<number> {
    this.means = undefined;
    return this.draft.removeIdentity(id);
  }

  async renameIdentity(id: string, name: string): Promise<void> {
    this.draft.renameIdentity(id, name);
  }

  async setThreshold(threshold: ThresholdInfo | null): Promise<void> {
    this.draft.setThreshold(threshold);
  }

  async rows(): Promise<readonly FaceRow[]> {
    return this.draft.rows;
  }

  async setSourcePath(index: number, sourcePath: string): Promise<void> {
    this.draft.setSourcePath(index, sourcePath);
  }

  async removeFaces(indexes: ReadonlySet<number>): Promise<number> {
    this.means = undefined;
    return this.draft.removeFaces((_, i) => indexes.has(i));
  }

  async replaceAllEmbeddings(model: ModelInfo, embeddings: readonly Float32Array[]): Promise<void> {
    this.means = undefined;
    this.draft.replaceAllEmbeddings(model, embeddings);
  }
}
