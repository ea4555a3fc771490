/**
 * Vector index benchmark: `npm run bench:index -- [--sizes 1e4,1e5,1e6] [--json out.json]`
 * (more flags: --hnsw-sizes, --ef, --connectivity, --expansion-add, --quantization, --batches,
 * --recall-queries, --budget-s, --dim, --seed, --no-hnsw, --no-js, --no-faiss, --python,
 * --prefilter i8|none: facectl's single-query path, default i8 as in the product).
 *
 * For each size N: N seeded random L2-normalised vectors (dim 512 by default), random unit
 * queries and "real-looking" queries (a stored vector plus noise, cosine ≈ 0.7 to it).
 *   1. exact flat index: queries/s single and batched, facectl (single queries through the i8
 *      prefilter) vs its float32 scan vs plain JS, and FAISS IndexFlatIP (one thread) right
 *      after at the same size when python3 + faiss-cpu are installed;
 *   2. exact top-1 of every recall query (the wasm flat index) as ground truth;
 *   3. HNSW (usearch): build time, memory, queries/s and recall@1 vs exact over expansion_search.
 * Prints markdown tables; --json writes every number. The machine is shared and noisy: compare
 * ratios within one run (CPU-time ratios ignore other processes' load).
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_HNSW_PARAMS, type HnswParams, type HnswQuantization } from '../src/index/hnsw.js';
import { measureExact } from './lib/index-exact.js';
import { ISSUE_11_FAISS, runFaiss } from './lib/index-faiss.js';
import { measureHnsw } from './lib/index-hnsw.js';
import { collectGarbage } from './lib/index-measure.js';
import {
  type BuildRow,
  type ExactRow,
  type HnswRow,
  buildTable,
  exactTable,
  faissTable,
  fmtSize,
  hnswTable,
} from './lib/index-report.js';
import { nearbyQueries, randomUnitVectors } from './lib/index-vectors.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1e4,1e5,1e6' },
    dim: { type: 'string', default: '512' },
    json: { type: 'string' },
    batches: { type: 'string', default: '64,256' },
    'recall-queries': { type: 'string', default: '200' },
    ef: { type: 'string', default: '' },
    connectivity: { type: 'string' },
    'expansion-add': { type: 'string' },
    quantization: { type: 'string' },
    'budget-s': { type: 'string', default: '3' },
    'no-hnsw': { type: 'boolean', default: false },
    'no-js': { type: 'boolean', default: false },
    prefilter: { type: 'string', default: 'i8' },
    'no-faiss': { type: 'boolean', default: false },
    python: { type: 'string', default: 'python3' },
    /** Sizes that also get the HNSW part (default: those ≤ 2e5). Building 1e6×512 takes ~70 min on 2 cores. */
    'hnsw-sizes': { type: 'string' },
    seed: { type: 'string', default: '20240601' },
  },
});

const list = (s: string): number[] => s.split(',').filter(Boolean).map(Number);
const sizes = list(values.sizes);
const DEFAULT_HNSW_MAX_SIZE = 2e5;
const hnswSizes = values['no-hnsw']
  ? []
  : values['hnsw-sizes'] !== undefined
    ? list(values['hnsw-sizes'])
    : sizes.filter((n) => n <= DEFAULT_HNSW_MAX_SIZE);
const dim = Number(values.dim);
const batches = list(values.batches);
const recallQueries = Number(values['recall-queries']);
const budgetS = Number(values['budget-s']);
const seed = Number(values.seed);
const params: HnswParams = {
  ...DEFAULT_HNSW_PARAMS,
  ...(values.connectivity ? { connectivity: Number(values.connectivity) } : {}),
  ...(values['expansion-add'] ? { expansionAdd: Number(values['expansion-add']) } : {}),
  ...(values.quantization ? { quantization: values.quantization as HnswQuantization } : {}),
};
const expansions = values.ef
  ? list(values.ef)
  : [...new Set([params.expansionSearch / 2, params.expansionSearch, params.expansionSearch * 2, params.expansionSearch * 4])];
if (!expansions.includes(params.expansionSearch)) expansions.push(params.expansionSearch);
expansions.sort((a, b) => a - b);

const log = (msg: string): void => console.error(`[bench:index ${(performance.now() / 1000).toFixed(0)}s] ${msg}`);
const loadNow = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

const exactRows: ExactRow[] = [];
let faissError = values['no-faiss'] ? 'skipped (--no-faiss)' : '';
let faissVersion = '';

function attachFaiss(rows: ExactRow[], faiss: { size: number; mode: string; qps: number; cpuQps: number | null }[]): void {
  for (const r of rows) {
    const f = faiss.find((x) => x.size === r.size && x.mode === r.mode);
    if (f) Object.assign(r, { faissQps: f.qps, faissCpuQps: f.cpuQps });
  }
}
const hnswRows: HnswRow[] = [];
const buildRows: BuildRow[] = [];
const started = new Date();
const loadAtStart = loadNow();

for (const size of sizes) {
  log(`N=${fmtSize(size)}: generating ${size}×${dim} vectors`);
  const base = randomUnitVectors(size, dim, seed + size);
  const labels = Array.from({ length: size }, (_, i) => `id${i}`);
  const maxBatch = Math.max(1, ...batches);
  const randomQueries = randomUnitVectors(Math.max(maxBatch, recallQueries), dim, seed + 1);
  const real = nearbyQueries(base, dim, recallQueries, 0.7, seed + 2);

  log('exact: facectl (i8 prefilter), float32 scan, plain JS');
  const exact = measureExact({ size, dim, labels, base, queries: randomQueries, batches, budgetS, k: 10, noJs: values['no-js'], prefilter: values.prefilter as 'i8' | 'none' });
  for (const r of exact.rows) log(`  ${r.mode}: facectl ${r.wasmQps.toFixed(1)} q/s, f32 ${r.f32Qps?.toFixed(1) ?? '—'}, JS ${r.jsQps?.toFixed(2) ?? '—'} q/s`);
  if (!values['no-faiss'] && !faissError) {
    log('exact: FAISS IndexFlatIP, one thread');
    const faiss = runFaiss(values.python, { size, dim, k: 10, batches, budgetS, seed });
    if ('error' in faiss) faissError = faiss.error;
    else {
      faissVersion = faiss.version;
      for (const f of faiss.rows) log(`  ${f.mode}: FAISS ${f.qps.toFixed(1)} q/s`);
      attachFaiss(exact.rows, faiss.rows);
    }
  }
  exactRows.push(...exact.rows);
  log('exact: ground truth for the recall queries');
  const exactReal = exact.flat.search(real.queries, 1);
  const exactRandom = exact.flat.search(randomQueries.subarray(0, recallQueries * dim), 1);
  const exactTop1IsSource = exactReal.filter((h, q) => h.labels[0] === `id${real.sources[q]}`).length / recallQueries;
  exact.flat.dispose();
  collectGarbage();

  const buildRow: BuildRow = {
    size,
    flatAddS: exact.addS,
    flatCodesS: exact.codesS,
    flatBytesPerVector: exact.bytesPerVector,
    hnswBuildS: null,
    hnswBuildCpuS: null,
    hnswBytesPerVector: null,
    exactTop1IsSource,
  };
  if (hnswSizes.includes(size)) {
    log(`hnsw: building (M=${params.connectivity}, expansion_add=${params.expansionAdd}, ${params.quantization})`);
    const hnsw = measureHnsw({
      size,
      dim,
      labels,
      base,
      params,
      realQueries: real.queries,
      randomQueries: randomQueries.subarray(0, recallQueries * dim),
      exactReal,
      exactRandom,
      expansions,
      budgetS,
    });
    hnswRows.push(...hnsw.rows);
    log(`  built in ${hnsw.buildS.toFixed(0)} s (${hnsw.buildCpuS.toFixed(0)} CPU s)`);
    for (const r of hnsw.rows) log(`  ef ${r.expansionSearch}: recall@1 ${r.recallReal.toFixed(3)}, ${r.batchQps.toFixed(0)} q/s batched`);
    buildRow.hnswBuildS = hnsw.buildS;
    buildRow.hnswBuildCpuS = hnsw.buildCpuS;
    buildRow.hnswBytesPerVector = hnsw.bytesPerVector;
  }
  buildRows.push(buildRow);
  collectGarbage();
}

const faissSource = faissError
  ? `FAISS not run here (${faissError}): its figures are issue 11's, measured elsewhere (faiss-cpu 1.15.1, one thread, another run).`
  : `FAISS ${faissVersion} IndexFlatIP, one thread, run by bench/python/faiss_flat.py right after facectl at each size.`;
if (faissError) attachFaiss(exactRows, ISSUE_11_FAISS);

const cpu = cpus();
const header = [
  `## Vector index benchmark (${started.toISOString()})`,
  '',
  `Node ${process.version}, ${cpu.length}× ${cpu[0]?.model ?? 'unknown CPU'}; load average at start ${loadAtStart}, at end ${loadNow()}.`,
  `dim ${dim}, k = 10 for exact timings, ${recallQueries} recall queries (real-looking: cosine 0.7 to a stored vector), seed ${seed}.`,
  `HNSW: usearch, M=${params.connectivity}, expansion_add=${params.expansionAdd}, ${params.quantization} storage, ` +
    `production expansion_search=${params.expansionSearch}; total run ${(performance.now() / 1000).toFixed(0)} s.`,
].join('\n');
const report = [
  header,
  '',
  '### Exact search (flat): facectl vs FAISS IndexFlatIP',
  '',
  faissSource,
  '',
  faissTable(exactRows),
  '',
  '### Exact search (flat): plain JS loop vs wasm float32 scan vs facectl, same run',
  '',
  exactTable(exactRows),
  '',
  '### Build and memory (RSS delta after GC, per vector)',
  '',
  buildTable(buildRows),
  '',
  '### HNSW vs exact (recall@1 = same top-1 label as the exact index)',
  '',
  hnswRows.length ? hnswTable(hnswRows) : '(skipped: --no-hnsw / --hnsw-sizes)',
  '',
].join('\n');
console.log(report);
if (values.json) {
  writeFileSync(
    values.json,
    JSON.stringify({ started, dim, seed, params, loadAtStart, loadAtEnd: loadNow(), exactRows, buildRows, hnswRows }, null, 2),
  );
  log(`wrote ${values.json}`);
}
