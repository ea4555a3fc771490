/**
 * The i8 prefilter on real face embeddings: `npm run bench:index-real -- [--cache DIR] [--queries 300]`.
 *
 * For every model folder of the evaluation embedding cache (`facectl eval` fills it; default
 * ~/.cache/facectl/embeddings) with at least 2,000 embeddings: the first `--queries` embeddings
 * (L2-normalised) query an exact index of the rest, through the prefilter and through the float32
 * scan. Prints how many top-10 results are identical (they must all be), the rows re-scored per
 * query (the bound's selectivity on clustered real data) and ms per query for both paths.
 * Biometric data stays where it is: nothing is written.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultCacheDir } from '../src/eval/embedding-cache.js';
import { readCacheFile } from '../src/eval/embedding-cache-format.js';
import type { EmbeddingResult } from '../src/eval/scoring.js';
import { FlatIndex } from '../src/index/flat.js';

const { values } = parseArgs({ options: { cache: { type: 'string' }, queries: { type: 'string', default: '300' }, k: { type: 'string', default: '10' } } });
const root = values.cache ?? defaultCacheDir();
const nq = Number(values.queries);
const k = Number(values.k);

/** Every embedding of one model folder (the key and dim come from each file's header). */
function loadFolder(dir: string): { dim: number; vectors: Float32Array[] } | null {
  const entries = new Map<string, EmbeddingResult>();
  let dim = 0;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.fec')).sort()) {
    const head = readFileSync(path.join(dir, f)).subarray(0, 4096);
    if (head.length < 12) continue;
    dim = head.readUInt32LE(6);
    readCacheFile(path.join(dir, f), head.subarray(12, 12 + head.readUInt16LE(10)).toString('utf8'), dim, entries);
  }
  const vectors = [...entries.values()].flatMap((e) => (e.ok ? [Float32Array.from(e.embedding)] : []));
  for (const v of vectors) {
    const norm = Math.hypot(...v);
    for (let j = 0; j < v.length; j++) v[j] /= norm;
  }
  return dim > 0 ? { dim, vectors } : null;
}

const rows: string[] = [];
for (const folder of readdirSync(root).sort()) {
  const data = loadFolder(path.join(root, folder));
  if (!data || data.vectors.length < 2000) continue;
  const { dim, vectors } = data;
  const n = vectors.length - nq;
  const base = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) base.set(vectors[nq + i], i * dim);
  const labels = Array.from({ length: n }, (_, i) => `r${i}`);
  const i8 = new FlatIndex(dim, { prefilter: 'i8' });
  const f32 = new FlatIndex(dim, { prefilter: 'none' });
  i8.add(labels, base);
  f32.add(labels, base);
  i8.buildPrefilter();
  for (let q = 0; q < 5; q++) [i8, f32].forEach((index) => index.search(vectors[q], k)); // warm-up
  let same = 0;
  let rescored = 0;
  let msI8 = 0;
  let msF32 = 0;
  for (let q = 0; q < nq; q++) {
    const t0 = performance.now();
    const a = i8.search(vectors[q], k)[0];
    const t1 = performance.now();
    const b = f32.search(vectors[q], k)[0];
    msF32 += performance.now() - t1;
    msI8 += t1 - t0;
    rescored += i8.rescoredLastQuery;
    if (JSON.stringify(a) === JSON.stringify(b)) same++;
  }
  rows.push(`| ${folder.replace(/-center.*$/, '')} | ${dim} | ${n} | ${same}/${nq} | ${(rescored / nq).toFixed(0)} | ${(msI8 / nq).toFixed(2)} | ${(msF32 / nq).toFixed(2)} |`);
  console.error(rows.at(-1));
  i8.dispose();
  f32.dispose();
}
console.log(`Real embeddings from ${root} (${new Date().toISOString()}), top-${k}, ${nq} queries per model:\n`);
console.log('| model (cache folder) | dim | rows | top-k identical to the float32 scan | rows re-scored per query | ms/query i8 prefilter | ms/query float32 scan |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
console.log(rows.join('\n'));
