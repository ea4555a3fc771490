/** Markdown rendering of bench/index.ts results. */

export interface ExactRow {
  size: number;
  mode: string;
  jsQps: number | null;
  /** Single queries by the float32 wasm scan (no prefilter). */
  f32Qps: number | null;
  /** The default index: single queries through the i8 prefilter, batches by the float32 block kernel. */
  wasmQps: number;
  wasmCpuQps: number;
  /** Mean rows re-scored exactly per single query. */
  rescored: number | null;
  faissQps: number | null;
  faissCpuQps: number | null;
  /** wasm/JS from wall time and from process CPU time (the latter ignores other load). */
  ratioWall: number | null;
  ratioCpu: number | null;
  note?: string;
}

export interface HnswRow {
  size: number;
  expansionSearch: number;
  batchQps: number;
  singleQps: number | null;
  recallReal: number;
  recallRandom: number | null;
  /** Largest |approximate − exact| top-1 score over the real-looking queries whose top-1 matched. */
  maxScoreError: number;
}

export interface BuildRow {
  size: number;
  flatAddS: number;
  flatCodesS: number;
  flatBytesPerVector: number;
  hnswBuildS: number | null;
  hnswBuildCpuS: number | null;
  hnswBytesPerVector: number | null;
  exactTop1IsSource: number;
}

export const fmtSize = (n: number): string => {
  const exp = Math.log10(n);
  return Number.isInteger(exp) ? `1e${exp}` : String(n);
};

const fmt = (x: number | null, digits = 0): string =>
  x === null || !Number.isFinite(x) ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Three significant figures, for queries/s spanning 0.1 to 100 000. */
const fmtQps = (x: number | null): string => (x === null ? '—' : x >= 100 ? fmt(x) : x.toPrecision(3));

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const ratio = (a: number | null, b: number | null): string => (a === null || b === null ? '—' : `${fmt(a / b, 2)}×`);

export function faissTable(rows: ExactRow[]): string {
  return table(
    ['N', 'queries', 'facectl q/s', 'FAISS q/s', 'facectl/FAISS (wall)', 'facectl/FAISS (CPU time)', 'rows re-scored per query'],
    rows.map((r) => [
      fmtSize(r.size),
      r.mode,
      fmtQps(r.wasmQps),
      fmtQps(r.faissQps),
      ratio(r.wasmQps, r.faissQps),
      ratio(r.wasmCpuQps, r.faissCpuQps),
      r.rescored === null ? '—' : fmt(r.rescored, 0),
    ]),
  );
}

export function exactTable(rows: ExactRow[]): string {
  return table(
    ['N', 'queries', 'plain JS q/s', 'wasm f32 scan q/s', 'facectl q/s', 'facectl/JS (wall)', 'facectl/JS (CPU time)', 'note'],
    rows.map((r) => [
      fmtSize(r.size),
      r.mode,
      fmtQps(r.jsQps),
      fmtQps(r.f32Qps ?? (r.mode === 'single' ? null : r.wasmQps)),
      fmtQps(r.wasmQps),
      r.ratioWall === null ? '—' : `${fmt(r.ratioWall, 1)}×`,
      r.ratioCpu === null ? '—' : `${fmt(r.ratioCpu, 1)}×`,
      r.note ?? '',
    ]),
  );
}

export function hnswTable(rows: HnswRow[]): string {
  return table(
    ['N', 'expansion_search', 'batch q/s', 'single q/s', 'recall@1 real', 'recall@1 random', 'max top-1 score error'],
    rows.map((r) => [
      fmtSize(r.size),
      String(r.expansionSearch),
      fmtQps(r.batchQps),
      fmtQps(r.singleQps),
      fmt(r.recallReal, 3),
      r.recallRandom === null ? '—' : fmt(r.recallRandom, 3),
      fmt(r.maxScoreError, 4),
    ]),
  );
}

export function buildTable(rows: BuildRow[]): string {
  return table(
    ['N', 'flat add s', 'i8 codes s', 'flat B/vector (rows + codes)', 'HNSW build s (wall)', 'HNSW build CPU s', 'HNSW B/vector', 'exact top-1 = source'],
    rows.map((r) => [
      fmtSize(r.size),
      fmt(r.flatAddS, 2),
      fmt(r.flatCodesS, 2),
      fmt(r.flatBytesPerVector),
      fmt(r.hnswBuildS, 1),
      fmt(r.hnswBuildCpuS, 1),
      fmt(r.hnswBytesPerVector),
      fmt(r.exactTop1IsSource, 3),
    ]),
  );
}
