/**
 * npm run bench:gallery [-- --sizes 1e4,1e5 --files-only 1e6 --dim 128 --queries 50 --backends files,pg-exact,pg-hnsw]
 * Gallery backends side by side on the same synthetic data and queries: flat files, PostgreSQL exact
 * scan and PostgreSQL HNSW (pgvector), PostgreSQL being PGlite + pgvector served over the wire protocol
 * by scripts/pg-serve.ts (so the numbers include the driver and the socket, on this machine).
 *   enroll: one face added to the full gallery (duplicate check + commit), median of 3
 *   login: one top-1 search, median / p95 over the queries (after one warm-up query that builds or loads the index)
 *   recall@1: the top-1 identity equals the exact one (files' flat index is exact; without files, a plain scan)
 * Vectors: uniformly random unit vectors (one face per identity); queries: enrolled vectors + noise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { naiveTopK, randomUnitVectors } from './lib/index-vectors.js';
import { FilesGallery } from '../src/gallery/files.js';
import { PostgresGallery } from '../src/gallery/postgres/gallery.js';
import type { Gallery, IndexChoice, NewFace } from '../src/gallery/types.js';
import { startPgServer, uniqueSchema } from '../test/helpers/pg-server.js';
import { median, p95 } from './lib/stats.js';
import { arg } from './lib/args.js';

const sizes = arg('sizes', '1e4,1e5').split(',').filter(Boolean).map(Number);
const filesOnly = arg('files-only', '').split(',').filter(Boolean).map(Number);
const dim = Number(arg('dim', '128'));
const queryCount = Number(arg('queries', '50'));
/** Which backends to run. Without 'files', recall is scored against a plain scan of the vectors in this process. */
const backends = new Set(arg('backends', 'files,pg-exact,pg-hnsw').split(','));
const model = { id: 'bench-model', hash: 'fp:bench', dimension: dim };

const face = (id: string, embedding: Float32Array): NewFace => ({
  id, name: id, sourcePath: `/bench/${id}.jpg`, imageSha256: '0'.repeat(64), box: { x: 0, y: 0, width: 100, height: 100 },
  quality: { score: 0.99, eyeDistancePx: 40, sizePx: 100, rollDeg: 0, yawDeg: 0 }, embedding,
});


interface Row { size: number; backend: string; loadS: number; indexS: number; enrollMs: number; loginMedianMs: number; loginP95Ms: number; recall: number }
const rows: Row[] = [];

/** exact: the exact top-1 per query to score recall against; 'self' for the exact files index itself. */
async function measure(size: number, backend: string, open: () => Promise<Gallery>, vectors: Float32Array, queries: Float32Array[], exact: string[] | 'self', index: IndexChoice): Promise<string[]> {
  const t0 = performance.now();
  const g = await open();
  const faces = Array.from({ length: size }, (_, i) => face(`p${i}`, vectors.subarray(i * dim, (i + 1) * dim)));
  for (let s = 0; s < size; s += 20000) await g.mutate(async (d) => void (await d.addFaces(model, faces.slice(s, s + 20000))));
  const loadS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  if (index === 'hnsw') await g.rebuildIndex('hnsw');
  await g.search(queries[0]!, 1, index); // builds or loads the index
  const indexS = (performance.now() - t1) / 1000;
  const times: number[] = [];
  const top: string[] = [];
  for (const q of queries) {
    const t = performance.now();
    const r = await g.search(q, 1, index);
    times.push(performance.now() - t);
    top.push(r.hits[0]![0]!.id);
  }
  const enroll: number[] = [];
  const extra = randomUnitVectors(3, dim, 99);
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    await g.mutate(async (d) => {
      await d.nearestIdentity(extra.subarray(k * dim, (k + 1) * dim), `new${k}`);
      await d.addFaces(model, [face(`new${k}`, extra.subarray(k * dim, (k + 1) * dim))]);
    });
    enroll.push(performance.now() - t);
  }
  await g.close();
  const recall = exact === 'self' ? 1 : top.filter((id, i) => id === exact[i]).length / top.length;
  const row = { size, backend, loadS, indexS, enrollMs: median(enroll), loginMedianMs: median(times), loginP95Ms: p95(times), recall };
  rows.push(row);
  // Each row as soon as it is measured, so a run stopped early still reports what it finished.
  console.log(formatRow(row));
  return top;
}

/** Exact top-1 identity per query by a plain scan (naiveTopK): the recall reference when files are left out. */
const plainScanTop1 = (vectors: Float32Array, queries: Float32Array[]): string[] =>
  naiveTopK(vectors, Float32Array.from(queries.flatMap((q) => [...q])), dim, 1).map((r) => `p${r.rows[0]}`);

const formatRow = (r: Row) =>
  `| ${r.size.toExponential(0)} | ${r.backend} | ${r.loadS.toFixed(1)} | ${r.indexS.toFixed(1)} | ${r.enrollMs.toFixed(0)} | ${r.loginMedianMs.toFixed(2)} / ${r.loginP95Ms.toFixed(2)} | ${r.recall.toFixed(2)} |`;

console.log(`# bench:gallery — ${dim}-d, ${queryCount} queries, PostgreSQL = PGlite + pgvector over the wire protocol, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| identities | backend | load (s) | index build (s) | enroll one face (ms) | login median / p95 (ms) | recall@1 vs exact |');
console.log('|---:|---|---:|---:|---:|---:|---:|');
const server = await startPgServer();
try {
  for (const size of [...sizes, ...filesOnly]) {
    const vectors = randomUnitVectors(size, dim, 7);
    const noise = randomUnitVectors(queryCount, dim, 8);
    const queries = Array.from({ length: queryCount }, (_, i) => {
      const src = Math.floor((i * size) / queryCount);
      const q = Float32Array.from({ length: dim }, (_, d) => vectors[src * dim + d]! + 0.5 * noise[i * dim + d]!);
      const n = Math.hypot(...q);
      return q.map((x) => x / n);
    });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-bench-gallery-'));
    const exact = backends.has('files')
      ? await measure(size, 'files (exact flat index)', async () => FilesGallery.open(path.join(dir, 'store')), vectors, queries, 'self', 'flat')
      : plainScanTop1(vectors, queries);
    rmSync(dir, { recursive: true, force: true });
    if (filesOnly.includes(size) && !sizes.includes(size)) continue;
    if (backends.has('pg-exact')) await measure(size, 'PostgreSQL exact scan', () => PostgresGallery.open(server.url(uniqueSchema())), vectors, queries, exact, 'flat');
    if (backends.has('pg-hnsw')) await measure(size, 'PostgreSQL HNSW (ef_search 400)', () => PostgresGallery.open(server.url(uniqueSchema())), vectors, queries, exact, 'hnsw');
  }
} finally {
  await server.stop();
}

