/** Exact (flat) index measurements: plain JS vs wasm SIMD, single and batched queries. */
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
}

const qps = (t: Timing, perUnit: number): number => (t.units * perUnit) / t.wallS;
const qpsCpu = (t: Timing, perUnit: number): number => (t.units * perUnit) / t.cpuS;

interface ModeTiming {
  mode: string;
  perUnit: number;
  timing: Timing | null;
  note?: string;
}

/** Longest single batch the plain-JS baseline may take before it is skipped (1e6 × 512 × 256 queries would take minutes). */
const JS_BATCH_CAP_S = 60;

/** Times single queries and each batch size on one index (JS: skips batches estimated over JS_BATCH_CAP_S). */
function timeModes(index: FlatIndex, s: ExactSetup): ModeTiming[] {
  const { dim, queries, k } = s;
  const q = queries.length / dim;
  index.search(queries.subarray(0, dim), k); // warm-up: JIT, and wasm tier-up of both kernels
  if (index.kernelName !== 'js') index.search(queries.subarray(0, 4 * dim), k);
  const single = timeRepeated((i) => index.search(queries.subarray((i % q) * dim, ((i % q) + 1) * dim), k), s.budgetS, q);
  const secondsPerQuery = single.wallS / single.units;
  const out: ModeTiming[] = [{ mode: 'single', perUnit: 1, timing: single }];
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
  bytesPerVector: number;
}

/** Builds the wasm flat index (kept for ground truth) and a JS one (measured, then dropped). */
export function measureExact(s: ExactSetup): ExactResult {
  const built = measureBuild(() => {
    const index = new FlatIndex(s.dim, { kernel: 'wasm' });
    index.add(s.labels, s.base);
    return index;
  });
  const wasm = timeModes(built.result, s);
  let js = new FlatIndex(s.dim, { kernel: 'js' });
  js.add(s.labels, s.base);
  const plain = timeModes(js, s);
  js.dispose();
  js = null as unknown as FlatIndex;

  const rows = wasm.map((w, i): ExactRow => {
    const j = plain[i];
    const wasmQps = qps(w.timing!, w.perUnit);
    const jsQps = j.timing ? qps(j.timing, j.perUnit) : null;
    return {
      size: s.size,
      mode: w.mode,
      jsQps,
      wasmQps,
      ratioWall: jsQps ? wasmQps / jsQps : null,
      ratioCpu: j.timing ? qpsCpu(w.timing!, w.perUnit) / qpsCpu(j.timing, j.perUnit) : null,
      note: j.note,
    };
  });
  return { rows, flat: built.result, addS: built.timing.wallS, bytesPerVector: built.rssDelta / s.size };
}
