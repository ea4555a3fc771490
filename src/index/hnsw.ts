/**
 * Approximate inner-product index for large galleries: an HNSW graph from usearch
 * (native, multithreaded). Labels map to sequential uint64 keys; a removed vector's key is
 * never reused.
 *
 * Persistence: two files. `<path>` is the facectl container (header, fingerprint, label
 * table) and `<path>.usearch` the usearch graph. The container records the graph file's size
 * and CRC-32 and is renamed into place last, so a crash between the two renames leaves a
 * graph that fails the check: the caller sees StaleIndexError and rebuilds.
 */
import { chmodSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import {
  StaleIndexError,
  assertReplaceable,
  checksumOfFile,
  companionPath,
  encodeIndexFile,
  openIndexFile,
  requireRegularFile,
  tempPathFor,
  writeFileAtomic,
} from './index-file.js';
import type { IndexExpectation, SearchHit, VectorIndex } from './types.js';
import { type UsearchIndex, usearch } from './usearch-binding.js';
import { checkDim, checkK, checkLabels, rowCount } from './validate.js';

export type HnswQuantization = 'f32' | 'f16' | 'i8';

export interface HnswParams {
  /** Graph degree M (edges per node per layer; 2M on the base layer). */
  connectivity: number;
  /** Candidate list size while inserting (build quality vs build time). */
  expansionAdd: number;
  /** Candidate list size while searching (recall vs query time); k above it widens it. */
  expansionSearch: number;
  /** How vectors are stored in the graph: i8 is 4× smaller than f32 and fastest here. */
  quantization: HnswQuantization;
}

/**
 * Chosen with `npm run bench:index` on the hardest data there is for a graph index: uniformly
 * random 512-d vectors, queries at cosine 0.7 to a stored one (numbers in src/index/README.md).
 * - connectivity 32, expansionAdd 64: recall@1 0.99 at expansion_search 256 and 1.00 at 512 for
 *   1e5 vectors (build 164 s on 2 cores). Exploratory 1e5 runs: M=16 reached only 0.85 / 0.97 at
 *   256 / 512; expansionAdd 48 gave 0.98 at 256, 128 gave 1.00 for twice the build time.
 * - expansionSearch 512: at 1e6 random vectors recall@1 is 0.74 (512), 0.89 (1024), 0.98 (2048):
 *   such a gallery needs ~2048+, where HNSW is no faster than exact batched search; raise it
 *   with HnswLoadOptions.expansionSearch. Real face embeddings are clustered and much easier.
 * - i8: 4× smaller than f32 and ~2× faster to build than f16 here; top-1 scores off by ≤ 0.013.
 */
/** Batches smaller than this are added on one thread (see add). */
const SINGLE_THREAD_ADD_BELOW = 20_000;

/** The largest connectivity or expansion a saved header may hold (facectl saves 32, 64 and 512). */
const MAX_HNSW_PARAM = 4096;

export const DEFAULT_HNSW_PARAMS: HnswParams = {
  connectivity: 32,
  expansionAdd: 64,
  expansionSearch: 512,
  quantization: 'i8',
};

export interface HnswOptions {
  /** Worker threads for add and batched search (0: one per core). Single queries use one. */
  threads?: number;
}

export interface HnswLoadOptions extends HnswOptions {
  /** Memory-map the graph read-only instead of reading it (fast open; add/remove then fail). */
  view?: boolean;
  /** Override the saved expansionSearch (recall vs speed at query time). */
  expansionSearch?: number;
}

export class HnswIndex implements VectorIndex {
  readonly kind = 'hnsw';
  readonly params: HnswParams;
  private native: UsearchIndex;
  /** Label of each key (the key is the position); null once removed. */
  private labels: (string | null)[] = [];
  private live = 0;
  private readOnly = false;
  private readonly threads: number;

  constructor(
    readonly dim: number,
    params: Partial<HnswParams> = {},
    options: HnswOptions = {},
  ) {
    checkDim(dim);
    this.params = { ...DEFAULT_HNSW_PARAMS, ...params };
    this.threads = options.threads ?? 0;
    const { connectivity, expansionAdd, expansionSearch, quantization } = this.params;
    if (!['f32', 'f16', 'i8'].includes(quantization)) {
      throw new FacectlError(ExitCode.INTERNAL, `hnsw quantization must be f32, f16 or i8, got ${String(quantization)}`);
    }
    const { Index, MetricKind, ScalarKind } = usearch();
    this.native = new Index({
      dimensions: dim,
      // usearch's i8 inner product returns raw integer sums; its i8 cosine is scaled
      // properly, and for the L2-normalised vectors we store cosine equals inner product.
      metric: quantization === 'i8' ? MetricKind.Cos : MetricKind.IP,
      quantization: { f32: ScalarKind.F32, f16: ScalarKind.F16, i8: ScalarKind.I8 }[quantization],
      connectivity,
      expansion_add: expansionAdd,
      expansion_search: expansionSearch,
      multi: false,
    });
  }

  get size(): number {
    return this.live;
  }

  add(labels: readonly string[], vectors: Float32Array): void {
    if (this.readOnly) throw new FacectlError(ExitCode.INTERNAL, 'add: this hnsw index was opened read-only (view)');
    const n = rowCount(vectors, this.dim, 'add');
    checkLabels(labels, n);
    if (n === 0) return;
    const first = this.labels.length;
    const keys = new BigUint64Array(n);
    for (let i = 0; i < n; i++) keys[i] = BigInt(first + i);
    // usearch's multi-threaded add leaves some nodes unreachable in small graphs: at 300 vectors, 7 of
    // 1,000 searches (ef 512) missed the true nearest, none single-threaded (2026-12-07; the "near-ties"
    // test of test/gallery/files.test.ts failed about 1 run in 3). Small batches take one thread: cheap.
    this.native.add(keys, vectors, n < SINGLE_THREAD_ADD_BELOW ? 1 : this.threads);
    for (const label of labels) this.labels.push(label);
    this.live += n;
  }

  search(queries: Float32Array, k: number): SearchHit[] {
    checkK(k);
    const nq = rowCount(queries, this.dim, 'search');
    const keep = Math.min(k, this.live);
    if (keep === 0 || nq === 0) return Array.from({ length: nq }, () => ({ labels: [], scores: [] }));
    if (nq === 1) {
      const m = this.native.search(queries, keep, 1);
      return [this.hit(m.keys, m.distances, 0, m.keys.length)];
    }
    const batch = this.native.search(queries, keep, this.threads) as unknown as {
      keys: BigUint64Array;
      distances: Float32Array;
      counts: BigUint64Array;
    };
    return Array.from({ length: nq }, (_, q) =>
      this.hit(batch.keys, batch.distances, q * keep, Number(batch.counts[q])),
    );
  }

  /** usearch distances are 1 − similarity for both 'ip' and 'cos'. */
  private hit(keys: BigUint64Array, distances: Float32Array, at: number, count: number): SearchHit {
    const hit: SearchHit = { labels: [], scores: [] };
    for (let i = at; i < at + count; i++) {
      const label = this.labels[Number(keys[i])];
      if (label == null) continue;
      hit.labels.push(label);
      hit.scores.push(1 - distances[i]);
    }
    return hit;
  }

  remove(labels: readonly string[]): number {
    if (this.readOnly) throw new FacectlError(ExitCode.INTERNAL, 'remove: this hnsw index was opened read-only (view)');
    const drop = new Set(labels);
    const keys: bigint[] = [];
    this.labels.forEach((label, key) => {
      if (label !== null && drop.has(label)) keys.push(BigInt(key));
    });
    if (keys.length === 0) return 0;
    this.native.remove(BigUint64Array.from(keys));
    for (const key of keys) this.labels[Number(key)] = null;
    this.live -= keys.length;
    return keys.length;
  }

  save(file: string, fingerprint = ''): void {
    const graphFile = companionPath(file);
    // Only an index file is replaced: a directory or FIFO there is STORE_ERROR, before the graph is written.
    assertReplaceable(graphFile);
    assertReplaceable(file);
    const tempGraph = tempPathFor(graphFile);
    try {
      this.native.save(tempGraph);
      chmodSync(tempGraph, 0o600); // usearch writes with the umask's mode; embeddings are private
      const graph = checksumOfFile(tempGraph);
      const parts = encodeIndexFile(
        {
          kind: 'hnsw',
          dim: this.dim,
          count: this.live,
          fingerprint,
          params: { ...this.params },
          companion: { file: path.basename(graphFile), ...graph },
        },
        this.labels,
        new Uint8Array(0),
      );
      renameSync(tempGraph, graphFile);
      writeFileAtomic(file, parts);
    } catch (e) {
      rmSync(tempGraph, { force: true });
      if (e instanceof FacectlError) throw e;
      throw new FacectlError(ExitCode.STORE_ERROR, `cannot write index: ${(e as Error).message}`, file);
    }
  }

  /** Loads an index saved by save(); throws StaleIndexError when it does not match `expect`. */
  static load(file: string, expect: IndexExpectation = {}, options: HnswLoadOptions = {}): HnswIndex {
    const opened = openIndexFile(file, { ...expect, kind: expect.kind ?? 'hnsw' });
    try {
      const { header, labels } = opened;
      opened.readPayload(new Uint8Array(0)); // verifies the label table's checksum
      const live = labels.filter((l) => l !== null).length;
      if (live !== header.count || !header.companion) {
        throw new StaleIndexError('label table does not match the vector count', file);
      }
      const graphFile = path.join(path.dirname(file), header.companion.file);
      requireRegularFile(graphFile, file); // a FIFO there would block usearch and the checksum forever
      if (expect.verifyChecksum !== false) {
        let graph: { bytes: number; checksum: number };
        try {
          graph = checksumOfFile(graphFile);
        } catch {
          throw new StaleIndexError(`graph file ${header.companion.file} is missing`, file);
        }
        if (graph.bytes !== header.companion.bytes || graph.checksum !== header.companion.checksum) {
          throw new StaleIndexError('graph file does not match the index header', file);
        }
      }
      const params = { ...(header.params as unknown as HnswParams) };
      // Ranges facectl could have saved: usearch throws a TypeError on connectivity < 2, and a damaged
      // expansion (1e9) would turn every search into a walk of the whole graph.
      const inRange = (x: unknown, min: number, max: number) => Number.isInteger(x) && (x as number) >= min && (x as number) <= max;
      const valid =
        inRange(params.connectivity, 2, MAX_HNSW_PARAM) && inRange(params.expansionAdd, 1, MAX_HNSW_PARAM) && inRange(params.expansionSearch, 1, MAX_HNSW_PARAM);
      if (!valid || !['f32', 'f16', 'i8'].includes(params.quantization)) {
        throw new StaleIndexError('HNSW parameters in the header are invalid', file);
      }
      if (options.expansionSearch !== undefined) params.expansionSearch = options.expansionSearch;
      const index = new HnswIndex(header.dim, params, options);
      try {
        if (options.view) index.native.view(graphFile);
        else index.native.load(graphFile);
      } catch (e) {
        throw new StaleIndexError(`usearch cannot read the graph: ${(e as Error).message}`, file);
      }
      if (index.native.size() !== live || index.native.dimensions() !== header.dim) {
        throw new StaleIndexError('graph does not match the label table', file);
      }
      index.labels = labels;
      index.live = live;
      index.readOnly = options.view === true;
      return index;
    } finally {
      opened.close();
    }
  }
}
