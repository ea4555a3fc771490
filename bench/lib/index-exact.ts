/**
 * Exact (flat) index measurements, single and batched queries: the default wasm index (single
 * queries through the i8 prefilter + exact re-scoring), the float32 wasm scan, plain JS.
 */
import { FlatIndex } from '../../src/index/flat.js';
import { type Timing, measureBuild, timeRepeated } from './index-measure.js';
import type { ExactRow } from './index-report.js';

export interface ExactSetup {
  size: number;
  dim: number;
  labels: string[];
  base: Float32Array;
  /** Random unit queries, at least max(batches) of them. */
  queries: Float32Array;
  batches: number[];
  budgetS: number;
  k: number;
  /** Skip the plain-JS baseline (it holds a second float32 copy and is slow at 1e6). */
  noJs?: boolean;
  /** facectl's single-query path: 'i8' (the default) or 'none' (float32 scan) to compare. */
  prefilter?: 'i8' | 'none';
}

const qps = (t: Timing, perUnit: number): number => (t.units * perUnit) / t.wallS;
const qpsCpu = (t: Timing, perUnit: number): number => (t.units * perUnit) / t.cpuS;

interface ModeTiming {
  mode: string;
  perUnit: number;
  timing: Timing | null;
  note?: string;
  /** Mean rows re-scored exactly per single query (prefilter only). */
  rescored?: number;
}

/** Longest single batch the plain-JS baseline may take before it is skipped (1e6 × 512 × 256 queries would take minutes). */
const JS_BATCH_CAP_S = 60;

function timeSingle(index: FlatIndex, s: ExactSetup): ModeTiming {
  const { dim, queries, k } = s;
  const q = queries.length / dim;
  for (let i = 0; i < 3; i++) index.search(queries.subarray(0, dim), k); // warm-up: JIT, wasm tier-up
  let rescored = 0;
  const timing = timeRepeated(
    (i) => {
      index.search(queries.subarray((i % q) * dim, ((i % q) + 1) * dim), k);
      rescored += index.rescoredLastQuery;
    },
    s.budgetS,
    100000,
  );
  return { mode: 'single', perUnit: 1, timing, ...(index.prefilter === 'i8' ? { rescored: rescored / timing.units } : {}) };
}

/** Times single queries and each batch size on one index (JS: skips batches estimated over JS_BATCH_CAP_S). */
function timeModes(index: FlatIndex, s: ExactSetup): ModeTiming[] {
  const { dim, queries, k } = s;
  if (index.kernelName !== 'js') index.search(queries.subarray(0, 4 * dim), k);
  const single = timeSingle(index, s);
  const secondsPerQuery = single.timing!.wallS / single.timing!.units;
  const out: ModeTiming[] = [single];
  for (const batch of s.batches) {
    const estimate = secondsPerQuery * batch;
    if (index.kernelName === 'js' && estimate > Math.max(JS_BATCH_CAP_S, s.budgetS)) {
      out.push({ mode: `batch ${batch}`, perUnit: batch, timing: null, note: `JS skipped: one batch ≈ ${estimate.toFixed(0)} s` });
      continue;
    }
    const timing = timeRepeated(() => index.search(queries.subarray(0, batch * dim), k), s.budgetS, 1000);
    out.push({ mode: `batch ${batch}`, perUnit: batch, timing });
  }
  return out;
}

export interface ExactResult {
  rows: ExactRow[];
  flat: FlatIndex;
  addS: number;
  /** Building the i8 codes (FlatIndex.buildPrefilter; otherwise the second single query does it). */
  codesS: number;
  bytesPerVector: number;
}

/** Builds the default wasm flat index (kept for ground truth), then a float32-scan one and a JS one (measured, dropped). */
export function measureExact(s: ExactSetup): ExactResult {
  let addS = 0;
  let codesS = 0;
  const built = measureBuild(() => {
    const index = new FlatIndex(s.dim, { kernel: 'wasm', prefilter: s.prefilter ?? 'i8' });
    const t0 = performance.now();
    index.add(s.labels, s.base);
    const t1 = performance.now();
    index.buildPrefilter();
    addS = (t1 - t0) / 1000;
    codesS = (performance.now() - t1) / 1000;
    return index;
  });
  const wasm = timeModes(built.result, s);
  const f32 = new FlatIndex(s.dim, { kernel: 'wasm', prefilter: 'none' });
  f32.add(s.labels, s.base);
  const f32Single = timeSingle(f32, s);
  f32.dispose();
  let plain: ModeTiming[] = [];
  if (!s.noJs) {
    const js = new FlatIndex(s.dim, { kernel: 'js' });
    js.add(s.labels, s.base);
    plain = timeModes(js, s);
    js.dispose();
  }

  const rows = wasm.map((w, i): ExactRow => {
    const j = plain[i];
    const wasmQps = qps(w.timing!, w.perUnit);
    const jsQps = j?.timing ? qps(j.timing, j.perUnit) : null;
    return {
      size: s.size,
      mode: w.mode,
      jsQps,
      f32Qps: w.mode === 'single' ? qps(f32Single.timing!, 1) : null,
      wasmQps,
      wasmCpuQps: qpsCpu(w.timing!, w.perUnit),
      rescored: w.rescored ?? null,
      ratioWall: jsQps ? wasmQps / jsQps : null,
      ratioCpu: j?.timing ? qpsCpu(w.timing!, w.perUnit) / qpsCpu(j.timing, j.perUnit) : null,
      faissQps: null,
      faissCpuQps: null,
      note: j?.note ?? (s.noJs ? 'JS skipped (--no-js)' : undefined),
    };
  });
  return { rows, flat: built.result, addS, codesS, bytesPerVector: built.rssDelta / s.size };
}
