/**
 * FAISS IndexFlatIP in the same benchmark run (bench/python/faiss_flat.py, faiss-cpu, one thread),
 * when python and faiss are installed; otherwise the figures issue 11 measured, labelled as such.
 * Measurement only: Python is never a runtime dependency of facectl.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FaissRow {
  size: number;
  mode: string;
  qps: number;
  /** Queries per CPU second of the python process (null for figures measured elsewhere). */
  cpuQps: number | null;
}

export interface FaissResult {
  rows: FaissRow[];
  /** Where the numbers come from, for the report. */
  source: string;
}

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../python/faiss_flat.py');

/** Issue 11: faiss-cpu 1.15.1, one thread, 512-d, on this project's 2-core machine (another run). */
export const ISSUE_11_FAISS: FaissRow[] = [
  { size: 1e4, mode: 'single', qps: 1674, cpuQps: null },
  { size: 1e4, mode: 'batch 64', qps: 1714, cpuQps: null },
  { size: 1e5, mode: 'single', qps: 99, cpuQps: null },
  { size: 1e5, mode: 'batch 64', qps: 100, cpuQps: null },
  { size: 1e6, mode: 'single', qps: 12.0, cpuQps: null },
  { size: 1e6, mode: 'batch 64', qps: 11.6, cpuQps: null },
];

/** Runs FAISS for one size; null with the reason when python or faiss is missing. */
export function runFaiss(
  python: string,
  o: { size: number; dim: number; k: number; batches: number[]; budgetS: number; seed: number },
): { rows: FaissRow[]; version: string } | { error: string } {
  const args = [SCRIPT, '--sizes', String(o.size), '--dim', String(o.dim), '--k', String(o.k)];
  args.push('--batches', o.batches.join(','), '--budget-s', String(o.budgetS), '--seed', String(o.seed));
  const run = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (run.error) return { error: `${python}: ${run.error.message}` };
  const lines = run.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const failed = lines.find((l) => typeof l.error === 'string');
  if (run.status !== 0 || failed) return { error: String(failed?.error ?? (run.stderr.trim().split('\n').pop() || `exit ${run.status}`)) };
  const rows = lines.map((l) => ({ size: Number(l.size), mode: String(l.mode), qps: Number(l.qps), cpuQps: Number(l.cpu_qps) }));
  return { rows, version: String(lines[0]?.faiss ?? '?') };
}
